// stats_pipeline: revalues a book of Black-Scholes options on every market snapshot, in a goro
// pipeline (see stats_pipeline.hpp), and reports the throughput in valuations per second per
// core (a worker is a core: GOMAXPROCS sets how many).
//
//   stats_pipeline [--quotes N] [--options-per-underlying K] [--symbols S] [--seed X]
//                  [--quotes-per-snapshot Q] [--chunk C] [--verify] [--json]
//
// --verify also computes every report single-threaded (sp::reference) and exits 1 unless the
// pipeline's reports are the same (relative difference below 1e-9; they are in fact identical).
// Exit status: 0 on success, 1 on a verification failure, 2 for a bad command line.
#include "stats_pipeline.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: stats_pipeline [--quotes N] [--options-per-underlying K] [--symbols S] [--seed X]\n"
               "                      [--quotes-per-snapshot Q] [--chunk C] [--verify] [--json]\n");
}

bool close_enough(double a, double b) {
  return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)});
}

bool same(const sp::aggregate& a, const sp::aggregate& b) {
  auto eq = [](const sp::greeks& x, const sp::greeks& y) {
    return close_enough(x.value, y.value) && close_enough(x.delta, y.delta) && close_enough(x.gamma, y.gamma) &&
           close_enough(x.vega, y.vega);
  };
  if (a.valuations != b.valuations || !eq(a.total, b.total)) return false;
  for (std::size_t s = 0; s < qf::sector_count; ++s)
    if (!eq(a.by_sector[s], b.by_sector[s])) return false;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  sp::config cfg;
  std::size_t symbols = 300, per_underlying = 100;
  std::uint64_t seed = 1;
  bool json = false, verify = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto num = [&](std::uint64_t& out) {
      if (i + 1 >= argc) return false;
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(argv[++i], &end, 10);
      if (*end != '\0' || errno != 0 || argv[i][0] == '-') return false;
      out = v;
      return true;
    };
    std::uint64_t v = 0;
    if (a == "--json") {
      json = true;
    } else if (a == "--verify") {
      verify = true;
    } else if (a == "--quotes" && num(v)) {
      cfg.quotes = v;
    } else if (a == "--options-per-underlying" && num(v) && v > 0) {
      per_underlying = v;
    } else if (a == "--symbols" && num(v) && v > 0 && v <= qf::universe::max_size) {
      symbols = v;
    } else if (a == "--seed" && num(v)) {
      seed = v;
    } else if (a == "--quotes-per-snapshot" && num(v) && v > 0) {
      cfg.quotes_per_snapshot = v;
    } else if (a == "--chunk" && num(v) && v > 0) {
      cfg.chunk = v;
    } else {
      usage();
      return 2;
    }
  }
  cfg.seed = seed;

  const qf::universe u(symbols, seed);
  const sp::book b = sp::make_book(u, per_underlying, seed);

  struct summary {
    std::uint64_t reports = 0, max_lag = 0;
    std::vector<sp::report> all;  // kept only with --verify
    sp::report last;
  };
  sp::run_result res;
  summary sum;
  try {
    goro::run([&] {
      goro::chan<sp::report> reports(4);
      auto consumer = goro::spawn(goro::spawn_options{.name = "report-consumer"}, [reports, verify]() mutable {
        summary s;
        for (sp::report& r : reports) {
          ++s.reports;
          s.max_lag = std::max(s.max_lag, r.lag);
          if (verify) s.all.push_back(r);
          s.last = std::move(r);
        }
        return s;
      });
      res = sp::run_pipeline(cfg, u, b, reports);
      sum = consumer.get();
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stats_pipeline: %s\n", e.what());
    return 2;
  }

  bool ok = true;
  if (verify) {
    const std::vector<sp::report> ref = sp::reference(cfg, u, b);
    ok = ref.size() == sum.all.size();
    for (std::size_t i = 0; ok && i < ref.size(); ++i)
      ok = ref[i].version == sum.all[i].version && ref[i].quotes == sum.all[i].quotes && same(ref[i].agg, sum.all[i].agg);
    if (!ok) std::fprintf(stderr, "stats_pipeline: the pipeline's reports differ from the reference\n");
  }

  const double per_s = res.seconds > 0 ? static_cast<double>(res.valuations) / res.seconds : 0;
  const double per_core = res.workers ? per_s / static_cast<double>(res.workers) : 0;
  const sp::greeks& tot = sum.last.agg.total;
  if (json) {
    std::printf(
        "{\"workers\":%zu,\"options\":%zu,\"quotes\":%llu,\"snapshots\":%llu,\"reports\":%llu,"
        "\"valuations\":%llu,\"seconds\":%.6f,\"valuations_per_s\":%.0f,\"valuations_per_s_per_core\":%.0f,"
        "\"max_lag\":%llu,\"final\":{\"value\":%.6f,\"delta\":%.6f,\"gamma\":%.6f,\"vega\":%.6f}%s}\n",
        res.workers, b.size(), static_cast<unsigned long long>(res.quotes),
        static_cast<unsigned long long>(res.snapshots), static_cast<unsigned long long>(sum.reports),
        static_cast<unsigned long long>(res.valuations), res.seconds, per_s, per_core,
        static_cast<unsigned long long>(sum.max_lag), tot.value, tot.delta, tot.gamma, tot.vega,
        verify ? (ok ? ",\"verified\":true" : ",\"verified\":false") : "");
  } else {
    std::printf("book: %zu options on %zu symbols; %llu quotes, %llu snapshots (%llu reports), %zu workers\n",
                b.size(), u.size(), static_cast<unsigned long long>(res.quotes),
                static_cast<unsigned long long>(res.snapshots), static_cast<unsigned long long>(sum.reports),
                res.workers);
    std::printf("valuations: %llu in %.3f s: %.0f /s, %.0f /s per core (reference: 25,000 /s per core in Python: x%.0f)\n",
                static_cast<unsigned long long>(res.valuations), res.seconds, per_s, per_core, per_core / 25000.0);
    std::printf("max lag behind the market: %llu snapshot versions\n", static_cast<unsigned long long>(sum.max_lag));
    std::printf("final snapshot v%llu: value %.2f, delta %.2f, gamma %.4f, vega %.2f\n",
                static_cast<unsigned long long>(sum.last.version), tot.value, tot.delta, tot.gamma, tot.vega);
    for (std::size_t s = 0; s < qf::sector_count; ++s) {
      const sp::greeks& g = sum.last.agg.by_sector[s];
      std::printf("  %-24.*s value %16.2f  delta %14.2f  gamma %10.4f  vega %14.2f\n",
                  static_cast<int>(qf::to_string(static_cast<qf::sector>(s)).size()),
                  qf::to_string(static_cast<qf::sector>(s)).data(), g.value, g.delta, g.gamma, g.vega);
    }
    if (verify) std::printf("verify: %s\n", ok ? "the reports match the single-threaded reference" : "MISMATCH");
  }
  return ok ? 0 : 1;
}
