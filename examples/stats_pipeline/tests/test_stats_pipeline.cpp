// Tests of the stats pipeline: Black-Scholes values, the book, the snapshot cell, the pipeline's
// reports against the single-threaded reference (per snapshot version, at 1, 2 and the default
// number of workers), and backpressure with a slow report consumer.
#include "stats_pipeline.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <vector>

using namespace std::chrono_literals;

namespace {

bool near_rel(double a, double b, double rel = 1e-9) {
  return std::fabs(a - b) <= rel * std::max({1.0, std::fabs(a), std::fabs(b)});
}

void check_same(const sp::greeks& a, const sp::greeks& b) {
  CHECK(near_rel(a.value, b.value));
  CHECK(near_rel(a.delta, b.delta));
  CHECK(near_rel(a.gamma, b.gamma));
  CHECK(near_rel(a.vega, b.vega));
}

void check_reports(const std::vector<sp::report>& got, const std::vector<sp::report>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("version " << want[i].version);
    REQUIRE(got[i].version == want[i].version);
    CHECK(got[i].quotes == want[i].quotes);
    CHECK(got[i].agg.valuations == want[i].agg.valuations);
    check_same(got[i].agg.total, want[i].agg.total);
    for (std::size_t s = 0; s < qf::sector_count; ++s) check_same(got[i].agg.by_sector[s], want[i].agg.by_sector[s]);
  }
}

struct fixture {
  qf::universe u{40, 7};
  sp::book b = sp::make_book(u, 25, 7);  // 1000 options
  sp::config cfg = [] {
    sp::config c;
    c.quotes = 3000;
    c.quotes_per_snapshot = 64;  // 47 versions, the last one partial (3000 = 46 x 64 + 56)
    c.seed = 7;
    c.chunk = 96;                // 11 chunks, the last one short
    return c;
  }();
};

// Runs the pipeline on `workers` goro workers (0: GOMAXPROCS or one per core) and returns the
// reports the consumer received.
std::vector<sp::report> run_on(unsigned workers, const fixture& f, sp::run_result* res = nullptr) {
  std::vector<sp::report> got;
  goro::run(goro::options{.workers = workers}, [&] {
    goro::chan<sp::report> reports(2);
    auto consumer = goro::spawn([reports]() mutable {
      std::vector<sp::report> v;
      for (sp::report& r : reports) v.push_back(std::move(r));
      return v;
    });
    sp::run_result r = sp::run_pipeline(f.cfg, f.u, f.b, reports);
    got = consumer.get();
    if (workers) CHECK(r.workers == workers);
    if (res) *res = r;
  });
  return got;
}

}  // namespace

TEST_CASE("black_scholes: known values for S=100 K=100 r=5% sigma=20% T=1") {
  const sp::bs_result c = sp::black_scholes(true, 100, 100, 0.05, 0.2, 1);
  const sp::bs_result p = sp::black_scholes(false, 100, 100, 0.05, 0.2, 1);
  CHECK(c.price == doctest::Approx(10.4506).epsilon(1e-5));
  CHECK(p.price == doctest::Approx(5.5735).epsilon(1e-5));
  CHECK(c.delta == doctest::Approx(0.6368).epsilon(1e-4));
  CHECK(p.delta == doctest::Approx(-0.3632).epsilon(1e-4));
  CHECK(c.gamma == doctest::Approx(0.018762).epsilon(1e-4));
  CHECK(p.gamma == doctest::Approx(c.gamma));
  CHECK(c.vega == doctest::Approx(37.524).epsilon(1e-4));
  CHECK(p.vega == doctest::Approx(c.vega));
}

TEST_CASE("black_scholes: put-call parity and greeks over a grid") {
  for (double S : {50.0, 90.0, 100.0, 130.0, 400.0})
    for (double K : {60.0, 100.0, 150.0})
      for (double sigma : {0.1, 0.3, 0.8})
        for (double T : {1.0 / 12, 0.5, 2.0}) {
          const double r = 0.04;
          const sp::bs_result c = sp::black_scholes(true, S, K, r, sigma, T);
          const sp::bs_result p = sp::black_scholes(false, S, K, r, sigma, T);
          INFO("S=" << S << " K=" << K << " sigma=" << sigma << " T=" << T);
          CHECK(c.price - p.price == doctest::Approx(S - K * std::exp(-r * T)).epsilon(1e-9).scale(S));
          CHECK(c.delta - p.delta == doctest::Approx(1.0).epsilon(1e-12));
          CHECK(c.gamma == doctest::Approx(p.gamma));
          CHECK(c.vega == doctest::Approx(p.vega));
          CHECK(c.price >= std::max(0.0, S - K * std::exp(-r * T)) - 1e-9);
          CHECK(p.price >= -1e-12);
          CHECK(c.gamma >= 0);  // underflows to 0 far in the money
          // delta is dPrice/dS: a central difference agrees
          const double h = S * 1e-4;
          const double fd = (sp::black_scholes(true, S + h, K, r, sigma, T).price -
                             sp::black_scholes(true, S - h, K, r, sigma, T).price) / (2 * h);
          CHECK(c.delta == doctest::Approx(fd).epsilon(1e-5).scale(1.0));
        }
}

TEST_CASE("make_book: deterministic, sorted by underlying, sensible contracts") {
  const qf::universe u(30, 3);
  const sp::book a = sp::make_book(u, 10, 3);
  const sp::book b = sp::make_book(u, 10, 3);
  REQUIRE(a.size() == 300);
  CHECK(a.strike == b.strike);
  CHECK(a.quantity == b.quantity);
  CHECK(a.call == b.call);
  CHECK(std::is_sorted(a.underlying.begin(), a.underlying.end()));
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a.sector[i] == static_cast<std::uint8_t>(u[a.underlying[i]].sec));
    CHECK(a.strike[i] > 0);
    CHECK(a.expiry[i] > 0);
    CHECK(a.sigma[i] >= 0.15);
    CHECK(a.quantity[i] != 0);
  }
  const sp::book c = sp::make_book(u, 10, 4);
  CHECK(a.strike != c.strike);
}

TEST_CASE("value_chunk: the sum over chunks is the sum over options") {
  fixture f;
  sp::snapshot s;
  s.version = 1;
  for (std::size_t i = 0; i < f.u.size(); ++i) s.spot.push_back(qf::fix::to_double(f.u[i].initial_price));
  sp::aggregate whole = sp::value_chunk(f.b, s, 0, f.b.size());
  sp::finish(whole);
  sp::greeks direct;
  for (std::size_t i = 0; i < f.b.size(); ++i) {
    const sp::bs_result r = sp::black_scholes(f.b.call[i] != 0, s.spot[f.b.underlying[i]], f.b.strike[i], f.b.rate,
                                              f.b.sigma[i], f.b.expiry[i]);
    direct.value += f.b.quantity[i] * r.price;
    direct.delta += f.b.quantity[i] * r.delta;
    direct.gamma += f.b.quantity[i] * r.gamma;
    direct.vega += f.b.quantity[i] * r.vega;
  }
  CHECK(whole.valuations == f.b.size());
  CHECK(whole.total.value == doctest::Approx(direct.value).epsilon(1e-9));
  CHECK(whole.total.delta == doctest::Approx(direct.delta).epsilon(1e-9));
  CHECK(whole.total.gamma == doctest::Approx(direct.gamma).epsilon(1e-9));
  CHECK(whole.total.vega == doctest::Approx(direct.vega).epsilon(1e-9));
}

TEST_CASE("reference: one report per snapshot version, the last one partial") {
  fixture f;
  const std::vector<sp::report> ref = sp::reference(f.cfg, f.u, f.b);
  REQUIRE(ref.size() == 47);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    CHECK(ref[i].version == i + 1);
    CHECK(ref[i].agg.valuations == f.b.size());
  }
  CHECK(ref[45].quotes == 46 * 64);
  CHECK(ref.back().quotes == 3000);
  CHECK(ref.front().agg.total.value != ref.back().agg.total.value);  // prices moved
}

TEST_CASE("pipeline: aggregates match the single-threaded reference, version by version") {
  fixture f;
  const std::vector<sp::report> ref = sp::reference(f.cfg, f.u, f.b);
  SUBCASE("GOMAXPROCS=1") { check_reports(run_on(1, f), ref); }
  SUBCASE("GOMAXPROCS=2") { check_reports(run_on(2, f), ref); }
  SUBCASE("default workers") { check_reports(run_on(0, f), ref); }
  SUBCASE("4 workers, one-option chunks, tiny channels") {
    f.cfg.chunk = 1;
    f.cfg.quotes = 500;
    f.cfg.quote_capacity = 1;
    f.cfg.snapshot_capacity = 0;
    f.cfg.job_capacity = 1;
    f.cfg.partial_capacity = 0;
    f.cfg.versions_in_flight = 1;
    check_reports(run_on(4, f), sp::reference(f.cfg, f.u, f.b));
  }
}

TEST_CASE("pipeline: the run result counts every version's full revaluation") {
  fixture f;
  sp::run_result res;
  const std::vector<sp::report> got = run_on(2, f, &res);
  CHECK(res.workers == 2);
  CHECK(res.quotes == 3000);
  CHECK(res.snapshots == 47);
  CHECK(res.valuations == 47 * f.b.size());
  CHECK(got.size() == 47);
  CHECK(res.seconds > 0);
}

TEST_CASE("pipeline: a slow report consumer holds the quote source back") {
  for (unsigned workers : {1u, 2u}) {
    CAPTURE(workers);
    fixture f;
    f.cfg.quotes = 200'000;  // far more than the pipeline can hold
    f.cfg.quotes_per_snapshot = 50;
    f.cfg.quote_capacity = 64;
    constexpr std::size_t report_capacity = 2;
    const std::uint64_t bound = sp::in_flight_quote_bound(f.cfg, f.b, workers, report_capacity);
    REQUIRE(bound < f.cfg.quotes / 10);
    std::uint64_t max_in_flight = 0, drawn_while_stalled = 0, received = 0;
    bool ok = true;
    goro::run(goro::options{.workers = workers}, [&] {
      goro::chan<sp::report> reports(report_capacity);
      sp::counters ctr;
      auto pipeline = goro::spawn([&f, &ctr, reports] { return sp::run_pipeline(f.cfg, f.u, f.b, reports, &ctr); });
      std::uint64_t covered = 0;  // quotes covered by the reports received so far
      auto check = [&] {
        const std::uint64_t in_flight = ctr.quotes_drawn.load() - covered;
        max_in_flight = std::max(max_in_flight, in_flight);
        if (in_flight > bound) ok = false;
      };
      // Slow: a few reports, 20 ms apart, checking the bound meanwhile.
      for (int i = 0; i < 5; ++i) {
        for (int k = 0; k < 4; ++k) {
          goro::sleep_for(5ms);
          check();
        }
        std::optional<sp::report> r = reports.recv();
        REQUIRE(r);
        covered = r->quotes;
        ++received;
        check();
      }
      drawn_while_stalled = ctr.quotes_drawn.load();
      // Then fast, to the end (still within the bound).
      for (sp::report& r : reports) {
        covered = r.quotes;
        ++received;
        check();
      }
      const sp::run_result res = pipeline.get();
      CHECK(res.quotes == f.cfg.quotes);
      CHECK(covered == f.cfg.quotes);
    });
    INFO("bound " << bound << ", max in flight " << max_in_flight << ", drawn while stalled " << drawn_while_stalled);
    CHECK(ok);
    CHECK(max_in_flight <= bound);
    CHECK(drawn_while_stalled <= 5 * 50 + bound);  // the source stopped: nowhere near 200,000
    CHECK(received == f.cfg.quotes / 50);
  }
}

TEST_CASE("snapshot_cell: readers see whole snapshots with versions that never go back") {
  goro::run(goro::options{.workers = 2}, [] {
    sp::snapshot_cell cell;
    CHECK(cell.load() == nullptr);
    constexpr std::uint64_t n = 2000;
    auto writer = goro::spawn([&cell] {
      for (std::uint64_t v = 1; v <= n; ++v) {
        auto s = std::make_shared<sp::snapshot>();
        s->version = v;
        s->spot.assign(16, static_cast<double>(v));
        cell.store(std::move(s));
        if (v % 64 == 0) goro::yield();
      }
    });
    std::vector<goro::join_handle<bool>> readers;
    for (int i = 0; i < 3; ++i)
      readers.push_back(goro::spawn([&cell] {
        std::uint64_t last = 0;
        bool ok = true;
        while (last < n) {
          const sp::snapshot_ptr s = cell.load();
          if (!s) {
            goro::yield();
            continue;
          }
          ok = ok && s->version >= last && s->spot.size() == 16 &&
               std::all_of(s->spot.begin(), s->spot.end(), [&](double x) { return x == static_cast<double>(s->version); });
          last = s->version;
          goro::yield();
        }
        return ok;
      }));
    writer.get();
    for (auto& r : readers) CHECK(r.get());
    CHECK(cell.load()->version == n);
  });
}

TEST_CASE("pipeline: bad configurations are refused") {
  fixture f;
  goro::run(goro::options{.workers = 1}, [&] {
    goro::chan<sp::report> reports(1);
    sp::config c = f.cfg;
    c.chunk = 0;
    CHECK_THROWS_AS(sp::run_pipeline(c, f.u, f.b, reports), std::invalid_argument);
    c = f.cfg;
    c.quotes_per_snapshot = 0;
    CHECK_THROWS_AS(sp::run_pipeline(c, f.u, f.b, reports), std::invalid_argument);
    const sp::book empty = sp::make_book(f.u, 0, 1);
    CHECK_THROWS_AS(sp::run_pipeline(f.cfg, f.u, empty, reports), std::invalid_argument);
  });
}

TEST_CASE("pipeline: no quotes, no reports") {
  fixture f;
  f.cfg.quotes = 0;
  CHECK(run_on(2, f).empty());
  CHECK(sp::reference(f.cfg, f.u, f.b).empty());
}

TEST_CASE("pipeline: a worker's exception ends every stage and reaches the caller") {
  for (unsigned workers : {1u, 2u}) {
    CAPTURE(workers);
    fixture f;
    f.cfg.quotes = 50'000;
    f.cfg.quotes_per_snapshot = 50;
    f.cfg.on_job = [](std::uint64_t version, std::uint32_t chunk) {
      if (version == 7 && chunk == 1) throw std::runtime_error("revaluation failed on version 7");
    };
    std::string what;
    std::uint64_t received = 0;
    bool reports_closed = false;
    goro::run(goro::options{.workers = workers}, [&] {
      goro::chan<sp::report> reports(4);
      auto consumer = goro::spawn([reports, &received]() mutable {
        for (sp::report& r : reports) {
          (void)r;
          ++received;
        }
        return true;  // the range ended: reports was closed
      });
      try {
        sp::run_pipeline(f.cfg, f.u, f.b, reports);
      } catch (const std::runtime_error& e) {
        what = e.what();
      }
      reports_closed = consumer.get();
    });
    CHECK(what == "revaluation failed on version 7");  // the cause, not a consequence
    CHECK(reports_closed);
    CHECK(received < 7);  // version 7 and later were never reported
  }
}

TEST_CASE("pipeline: a consumer that closes the reports early ends the pipeline, not a hang") {
  for (unsigned workers : {1u, 2u}) {
    CAPTURE(workers);
    fixture f;
    f.cfg.quotes = 100'000;
    f.cfg.quotes_per_snapshot = 50;
    bool threw = false;
    goro::run(goro::options{.workers = workers}, [&] {
      goro::chan<sp::report> reports(2);
      auto pipeline = goro::spawn([&f, reports] { return sp::run_pipeline(f.cfg, f.u, f.b, reports); });
      for (int i = 0; i < 3; ++i) REQUIRE(reports.recv());
      reports.close();  // not interested any more
      try {
        pipeline.get();
      } catch (const goro::closed_channel_error&) {
        threw = true;  // the aggregator's send on the closed channel
      }
    });
    CHECK(threw);
  }
}
