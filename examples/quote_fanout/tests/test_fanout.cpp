// The quote-fanout client against the exchange simulator over loopback: every statistic checked
// against an independent single-threaded computation over the same quotes (re-simulated from the
// seed), a deliberately slow consumer that drops (and only it), and one parse per quote. Each test
// runs inside goro::run and joins everything it starts.
#include "exchange.hpp"
#include "fanout.hpp"

#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace fix = qf::fix;
namespace fo = qf::fanout;
using namespace std::chrono_literals;

namespace {

bool close_rel(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max({std::fabs(a), std::fabs(b), 1e-300});
}

// The expected statistics, computed directly from the re-simulated market, one tick at a time.
struct reference {
  struct sec {
    std::uint64_t n = 0;
    double mid = 0, spread = 0, ewma = 0;
  };
  struct sect {
    std::uint64_t n = 0, returns = 0;
    std::map<std::size_t, double> last;
    std::deque<double> window;
  };
  std::vector<sec> secs;
  std::vector<sect> sectors;
  std::vector<double> mid;  // for the index
  const qf::universe& u;

  reference(const qf::universe& uu, std::uint64_t seed, std::uint64_t n, double alpha, std::size_t w)
      : secs(uu.size()), sectors(qf::sector_count), mid(uu.size()), u(uu) {
    for (std::size_t i = 0; i < u.size(); ++i) mid[i] = fix::to_double(u[i].initial_price);
    qf::market mk(u, seed);
    for (std::uint64_t k = 0; k < n; ++k) {
      const qf::market::tick t = mk.next();
      const double b = static_cast<double>(t.bid) / 1e6, a = static_cast<double>(t.ask) / 1e6;
      const double m = (b + a) / 2;
      sec& s = secs[t.index];
      s.ewma = s.n == 0 ? m : alpha * m + (1 - alpha) * s.ewma;
      s.mid = m;
      s.spread = a - b;
      ++s.n;
      sect& x = sectors[static_cast<std::size_t>(u[t.index].sec)];
      ++x.n;
      if (auto it = x.last.find(t.index); it != x.last.end()) {
        x.window.push_back(std::log(m / it->second));
        if (x.window.size() > w) x.window.pop_front();
        ++x.returns;
      }
      x.last[t.index] = m;
      mid[t.index] = m;
    }
  }
  double vol(std::size_t s) const {
    const auto& w = sectors[s].window;
    if (w.size() < 2) return 0;
    double mean = 0;
    for (double r : w) mean += r;
    mean /= static_cast<double>(w.size());
    double ss = 0;
    for (double r : w) ss += (r - mean) * (r - mean);
    return std::sqrt(ss / static_cast<double>(w.size() - 1));
  }
  double index() const {
    double v = 0;
    for (std::size_t i = 0; i < u.size(); ++i) v += u[i].weight * mid[i] / fix::to_double(u[i].initial_price);
    return 100 * v;
  }
};

void check_security(const fo::security_stats& got, const reference::sec& want) {
  CHECK(got.updates == want.n);
  if (want.n == 0) return;
  CHECK(close_rel(got.mid, want.mid));
  CHECK(close_rel(got.spread, want.spread));
  CHECK(close_rel(got.ewma, want.ewma));
}

std::uint64_t others_alive() {
  std::uint64_t alive = 0;
  for (int k = 0; k < 200; ++k) {
    const auto s = goro::stats();
    alive = s.spawned - s.finished - 1;
    if (alive == 0) break;
    goro::sleep_for(5ms);
  }
  return alive;
}

constexpr std::uint64_t n_quotes = 20000;
constexpr std::size_t n_symbols = 50;
constexpr std::uint64_t seed = 7;

}  // namespace

TEST_CASE("fanout: every statistic matches a single-threaded re-simulation, no drops") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = n_symbols, .seed = seed, .rate = 0,
                     .quote_limit = n_quotes});
    ex.start();
    fo::options o{.addr = ex.addr(), .symbols = n_symbols, .seed = seed};
    o.security_capacity = o.sector_capacity = o.index_capacity = n_quotes;  // nothing can drop
    o.max_quotes = n_quotes;
    o.ewma_alpha = 0.1;
    o.vol_window = 50;
    fo::result r;
    {
      fo::client cl(o);
      cl.start();
      r = cl.wait();  // the session logs out by itself after max_quotes
    }
    ex.stop();
    CHECK(r.error == "");
    CHECK(r.logged_on);
    CHECK(r.logged_out);
    CHECK(r.quotes_received == n_quotes);
    CHECK(r.errors.total() == 0);
    CHECK(r.security_drops == 0);
    CHECK(r.sector_drops == 0);
    CHECK(r.index_drops == 0);

    const qf::universe u(n_symbols, seed);
    const reference want(u, seed, n_quotes, o.ewma_alpha, o.vol_window);
    REQUIRE(r.securities.size() == n_symbols);
    for (std::size_t i = 0; i < n_symbols; ++i) {
      INFO("security " << u[i].sym.view());
      CHECK(r.securities[i].sym == u[i].sym);
      CHECK(r.securities[i].drops == 0);
      check_security(r.securities[i], want.secs[i]);
    }
    for (std::size_t s = 0; s < qf::sector_count; ++s) {
      INFO("sector " << qf::to_string(static_cast<qf::sector>(s)));
      CHECK(r.sectors[s].updates == want.sectors[s].n);
      CHECK(r.sectors[s].returns == want.sectors[s].returns);
      CHECK(r.sectors[s].drops == 0);
      CHECK(close_rel(r.sectors[s].volatility, want.vol(s)));
    }
    CHECK(r.sectors[0].volatility > 0);
    CHECK(r.index.updates == n_quotes);
    CHECK(close_rel(r.index.value, want.index()));
    CHECK(r.security_latency.count == n_quotes);
    CHECK(r.sector_latency.count == n_quotes);
    CHECK(r.index_latency.count == n_quotes);
    MESSAGE("latency: security mean " << r.security_latency.mean_ns() << " ns, p99 <= "
                                      << r.security_latency.quantile_ns(0.99) << " ns; index mean "
                                      << r.index_latency.mean_ns() << " ns");
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("fanout: a slow consumer drops and is counted, the others stay exact") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = n_symbols, .seed = seed, .rate = 0,
                     .quote_limit = n_quotes});
    ex.start();
    const qf::universe u(n_symbols, seed);
    const std::size_t slow = *u.find("AAPL");
    fo::options o{.addr = ex.addr(), .symbols = n_symbols, .seed = seed};
    o.security_capacity = o.sector_capacity = o.index_capacity = n_quotes;
    o.security_capacity_of = [slow](std::size_t i) -> std::size_t { return i == slow ? 4 : n_quotes; };
    o.max_quotes = n_quotes;
    o.on_consume = [slow](fo::consumer_kind k, std::size_t id, const fo::quote_ptr&) {
      if (k == fo::consumer_kind::security && id == slow) goro::sleep_for(2ms);
    };
    fo::result r;
    {
      fo::client cl(o);
      cl.start();
      r = cl.wait();
    }
    ex.stop();
    CHECK(r.error == "");
    CHECK(r.quotes_received == n_quotes);
    const reference want(u, seed, n_quotes, o.ewma_alpha, o.vol_window);
    // The slow one dropped, and every quote for it was either taken or counted as a drop.
    CHECK(r.securities[slow].drops > 0);
    CHECK(r.securities[slow].updates + r.securities[slow].drops == want.secs[slow].n);
    CHECK(r.security_drops == r.securities[slow].drops);
    MESSAGE("slow consumer: " << r.securities[slow].updates << " taken, " << r.securities[slow].drops
                              << " dropped");
    for (std::size_t i = 0; i < n_symbols; ++i) {
      if (i == slow) continue;
      INFO("security " << u[i].sym.view());
      CHECK(r.securities[i].drops == 0);
      check_security(r.securities[i], want.secs[i]);
    }
    CHECK(r.sector_drops == 0);
    CHECK(r.index_drops == 0);
    for (std::size_t s = 0; s < qf::sector_count; ++s) {
      CHECK(r.sectors[s].updates == want.sectors[s].n);
      CHECK(close_rel(r.sectors[s].volatility, want.vol(s)));
    }
    CHECK(close_rel(r.index.value, want.index()));
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("fanout: each quote is parsed once and every consumer gets the same object") {
  const int rc = goro::run([] {
    constexpr std::uint64_t n = 5000;
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = n_symbols, .seed = seed, .rate = 0, .quote_limit = n});
    ex.start();
    fo::options o{.addr = ex.addr(), .symbols = n_symbols, .seed = seed};
    o.security_capacity = o.sector_capacity = o.index_capacity = n;
    o.max_quotes = n;
    // Which objects each consumer class saw, by quote sequence number.
    std::mutex mu;
    std::unordered_map<std::uint64_t, std::array<const void*, 3>> seen;
    std::uint64_t deliveries = 0;
    o.on_consume = [&](fo::consumer_kind k, std::size_t, const fo::quote_ptr& p) {
      std::lock_guard<std::mutex> lk(mu);
      seen[p->q.seq()][static_cast<std::size_t>(k)] = p.get();
      ++deliveries;
    };
    fo::result r;
    {
      fo::client cl(o);
      cl.start();
      r = cl.wait();
    }
    ex.stop();
    CHECK(r.error == "");
    CHECK(r.quotes_received == n);
    // One parse per frame, one quote decode per quote; frames are the quotes plus the Logon and
    // Logout (and any heartbeats), each parsed once.
    CHECK(r.parse_calls == r.frames);
    CHECK(r.messages == r.frames);
    CHECK(r.quote_decodes == n);
    CHECK(r.quotes_ignored == 0);
    CHECK(r.frames >= n + 2);
    CHECK(r.frames - n < 10);
    // Every quote went to exactly three consumers (its security, its sector, the index), and all
    // three got the one shared object.
    CHECK(deliveries == 3 * n);
    CHECK(seen.size() == n);
    std::size_t same = 0;
    for (const auto& [sq, ptrs] : seen) {
      if (ptrs[0] != nullptr && ptrs[0] == ptrs[1] && ptrs[1] == ptrs[2]) ++same;
    }
    CHECK(same == n);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("fanout: stop logs out and joins everything while quotes are still flowing") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = n_symbols, .seed = seed, .rate = 20000});
    ex.start();
    fo::result r;
    {
      fo::client cl({.addr = ex.addr(), .symbols = n_symbols, .seed = seed});
      cl.start();
      for (int k = 0; k < 2000 && cl.quotes_received() < 500; ++k) goro::sleep_for(5ms);
      r = cl.stop();
    }
    ex.stop();
    CHECK(r.error == "");
    CHECK(r.logged_out);
    CHECK(r.quotes_received >= 500);
    const std::uint64_t taken = r.index.updates + r.index_drops;
    CHECK(taken == r.quotes_received);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("fanout: decision makers send orders over the session, every ExecutionReport is matched") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = n_symbols, .seed = seed, .rate = 0,
                     .quote_limit = n_quotes});
    ex.start();
    fo::options o{.addr = ex.addr(), .symbols = n_symbols, .seed = seed};
    o.security_capacity = o.sector_capacity = o.index_capacity = o.decision_capacity = n_quotes;
    o.max_quotes = n_quotes;
    o.decision_makers = 3;
    o.signal_threshold = 1;         // trade often
    o.max_orders_per_s = 1e6;       // no rate limit to speak of
    o.order_cooldown = 0ms;
    o.order_qty = 100;
    o.max_position = 300;
    fo::result r;
    std::uint64_t live_quotes = 0;
    {
      fo::client cl(o);
      cl.start();
      // The live view moves while the session runs, and never goes back.
      std::uint64_t last = 0;
      while (!cl.session_over()) {
        const fo::live_snapshot v = cl.live();
        CHECK(v.quotes >= last);
        CHECK(v.orders.fills + v.orders.rejects <= v.orders.sent);
        last = v.quotes;
        goro::sleep_for(1ms);
      }
      r = cl.wait();
      const fo::live_snapshot v = cl.live();
      live_quotes = v.quotes;
      CHECK(v.security_latency.count == r.security_latency.count);
      CHECK(v.orders.sent == r.orders.sent);
    }
    ex.stop();
    const qf::exchange_stats es = ex.stats();
    CHECK(r.error == "");
    CHECK(r.logged_out);
    CHECK(live_quotes == n_quotes);
    CHECK(r.decision_drops == 0);
    CHECK(r.decision_latency.count == n_quotes);  // each quote goes to exactly one decision maker
    MESSAGE("orders: " << r.orders.sent << " sent, " << r.orders.fills << " filled, P&L " << r.orders.pnl);
    REQUIRE(r.orders.sent > 10);
    // The exchange saw every order, answered each one, and the client matched every answer.
    CHECK(es.orders == r.orders.sent);
    CHECK(es.fills == r.orders.fills);
    CHECK(es.rejects == r.orders.rejects);
    CHECK(r.orders.fills + r.orders.rejects == r.orders.sent);
    CHECK(r.orders.unmatched == 0);
    CHECK(r.order_round_trip.count == r.orders.sent);
    CHECK(r.orders.gross_shares == static_cast<std::int64_t>(r.orders.fills) * o.order_qty);
    // Positions stay within the limit and add up to the shares traded.
    std::int64_t gross_bound = 0;
    for (std::int64_t p : r.positions) {
      CHECK(std::abs(p) <= o.max_position);
      gross_bound += std::abs(p);
    }
    CHECK(gross_bound <= r.orders.gross_shares);
    CHECK(std::isfinite(r.orders.pnl));
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("fanout: latency histogram buckets, quantiles and differences") {
  using h = fo::latency_histogram;
  // Every value lands in a bucket whose top is at least the value and whose predecessor's top is
  // below it; buckets are at most 25% wide above 8 ns.
  for (std::int64_t v : std::initializer_list<std::int64_t>{0, 1, 7, 8, 9, 15, 16, 99, 1000, 4095, 4096, 123456789,
                         (1LL << 40) + 12345, INT64_MAX / 2, INT64_MAX}) {
    INFO("value " << v);
    const std::size_t b = h::bucket_of(v);
    REQUIRE(b < h::bucket_count);
    CHECK(h::bucket_top(b) >= v);
    if (b > 0) CHECK(h::bucket_top(b - 1) < v);
    if (v >= 8) CHECK(static_cast<double>(h::bucket_top(b)) <= 1.25 * static_cast<double>(v) + 1);
  }
  h a;
  for (int i = 1; i <= 1000; ++i) a.add(i * 1000);  // 1 us .. 1 ms
  CHECK(a.count == 1000);
  CHECK(a.max_ns == 1'000'000);
  const std::int64_t p50 = a.quantile_ns(0.5), p99 = a.quantile_ns(0.99);
  CHECK(p50 >= 500'000);
  CHECK(p50 <= 625'000);
  CHECK(p99 >= 990'000);
  CHECK(p99 <= 1'000'000);  // capped by the max
  h b2 = a;
  for (int i = 0; i < 10; ++i) b2.add(5'000'000);
  const h d = b2.since(a);
  CHECK(d.count == 10);
  CHECK(d.quantile_ns(0.5) >= 5'000'000);
  CHECK(d.quantile_ns(0.5) <= 5'000'000);  // the bucket's top is capped by max_ns
  fo::live_histogram live;
  for (int i = 1; i <= 1000; ++i) live.add(i * 1000);
  const h s = live.snapshot();
  CHECK(s.count == a.count);
  CHECK(s.sum_ns == a.sum_ns);
  CHECK(s.buckets == a.buckets);
}
