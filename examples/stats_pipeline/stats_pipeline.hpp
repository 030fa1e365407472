// stats_pipeline.hpp: a market-risk pipeline in stages joined by bounded goro channels.
//
//   quote source --quotes--> snapshot updater --snapshots--> fan-out --jobs--> N revaluation
//   workers --partials--> aggregator --reports--> the caller's consumer
//
//   qf::universe u(300, seed);
//   sp::book b = sp::make_book(u, /*options_per_underlying=*/100, seed);
//   goro::chan<sp::report> reports(4);
//   auto consumer = goro::spawn([reports]() mutable { for (sp::report r : reports) use(r); });
//   sp::run_result res = sp::run_pipeline(cfg, u, b, reports);   // closes `reports` at the end
//   consumer.get();
//
// Stages (each one coroutine, except the workers: one per goro worker by default):
//   - quote source: draws cfg.quotes ticks from a qf::market seeded with cfg.seed.
//   - snapshot updater: applies them to its own price vector (mid of bid and ask); every
//     cfg.quotes_per_snapshot quotes (and once more for a final partial batch) it builds a new
//     immutable snapshot, version 1, 2, ..., publishes it in the snapshot_cell (an atomic swap of
//     a shared_ptr<const snapshot>) and hands the same pointer to the fan-out.
//   - fan-out: cuts the book into chunks of cfg.chunk options, one job per chunk, each job holding
//     a reference to the snapshot (a shared_ptr copy: one refcount increment, the prices are
//     never copied; every worker reads the same immutable object).
//   - workers: Black-Scholes value, delta, gamma and vega of every option in the chunk, summed per
//     GICS sector, in option order; one partial per chunk.
//   - aggregator: collects the partials of each version; when a version is complete it sums the
//     chunk partials in chunk order (so the result does not depend on which worker finished
//     first: it is bit-for-bit the single-threaded reference), and sends the reports in version
//     order.
//
// No snapshot is skipped: every version is fully revalued, and when the workers cannot keep up
// the bounded channels push back all the way to the quote source (which then stops drawing
// quotes). This makes the set of evaluated snapshots deterministic, so the test compares every
// report with reference() for the same version. (A live system would rather skip stale
// versions; here determinism was chosen, and in_flight_quote_bound() is the backpressure bound.)
//
// The snapshot_cell holds the latest published snapshot for any reader that wants "the market
// now" (the aggregator reads it to report how far the market has moved ahead of each report:
// report::lag). It is a shared_ptr guarded by goro's spin lock (a few instructions held, never
// parks a coroutine nor blocks a worker on a futex), rather than std::atomic<std::shared_ptr>,
// whose libstdc++ 12 implementation waits on a futex under contention.
#pragma once

#include "universe.hpp"

#include <goro/goro.hpp>
#include <goro/sched/spin_lock.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace sp {

// ---- Black-Scholes ---------------------------------------------------------------------------

struct bs_result {
  double price = 0, delta = 0, gamma = 0, vega = 0;  // vega per 1.00 of volatility
};
// European option on a non-dividend-paying stock: spot S, strike K, rate r (continuous), vol
// sigma, time to expiry T in years (T > 0, sigma > 0).
bs_result black_scholes(bool call, double S, double K, double r, double sigma, double T) noexcept;

// ---- the book --------------------------------------------------------------------------------

// A book of European options on the universe's symbols, structure of arrays, sorted by
// underlying. Per-option constants of the Black-Scholes formula are precomputed.
struct book {
  double rate = 0.04;
  std::size_t underlyings = 0;
  std::vector<std::uint32_t> underlying;
  std::vector<std::uint8_t> sector;  // qf::sector of the underlying
  std::vector<std::uint8_t> call;    // 1: call, 0: put
  std::vector<double> strike, expiry, sigma, quantity;  // quantity: contracts x 100 shares
  // Precomputed: sigma*sqrt(T), (r + sigma^2/2) T, K exp(-rT), sqrt(T).
  std::vector<double> sig_sqrt_t, drift, disc_strike, sqrt_t;

  std::size_t size() const noexcept { return underlying.size(); }
};

// options_per_underlying options on each symbol: strikes 70% to 130% of the initial price,
// expiries from one month to two years, calls and puts, long and short, vols 15% to 60% with a
// smile; deterministic from the seed.
book make_book(const qf::universe& u, std::size_t options_per_underlying, std::uint64_t seed);

// ---- snapshots -------------------------------------------------------------------------------

// The market at one instant: never modified once published.
struct snapshot {
  std::uint64_t version = 0;  // 1, 2, ...
  std::uint64_t quotes = 0;   // quotes applied since the start
  std::vector<double> spot;   // per underlying: mid of bid and ask, in dollars
};
using snapshot_ptr = std::shared_ptr<const snapshot>;

// The latest snapshot, swapped atomically (see the note at the top).
class snapshot_cell {
 public:
  snapshot_ptr load() const {
    goro::sched::spin_guard g(mu_);
    return p_;
  }
  void store(snapshot_ptr p) {
    {
      goro::sched::spin_guard g(mu_);
      p_.swap(p);
    }
    // the old snapshot (now in p) is released here, outside the lock
  }

 private:
  mutable goro::sched::spin_lock mu_;
  snapshot_ptr p_ GORO_GUARDED_BY(mu_);
};

// ---- aggregates ------------------------------------------------------------------------------

struct greeks {
  double value = 0, delta = 0, gamma = 0, vega = 0;
  greeks& operator+=(const greeks& o) noexcept {
    value += o.value;
    delta += o.delta;
    gamma += o.gamma;
    vega += o.vega;
    return *this;
  }
};

struct aggregate {
  std::array<greeks, qf::sector_count> by_sector{};
  greeks total;  // the sum of by_sector, in sector order
  std::uint64_t valuations = 0;
  aggregate& operator+=(const aggregate& o) noexcept;
};

// Values options [begin, end) of the book at snapshot s: per-sector sums in option order
// (total left zero: finish() fills it).
aggregate value_chunk(const book& b, const snapshot& s, std::size_t begin, std::size_t end) noexcept;
// Sets a.total from a.by_sector.
void finish(aggregate& a) noexcept;

struct report {
  std::uint64_t version = 0;
  std::uint64_t quotes = 0;  // quotes applied in this version's snapshot
  aggregate agg;
  std::uint64_t lag = 0;  // latest published version minus this one, when the report was sent
};

// ---- the pipeline ----------------------------------------------------------------------------

struct config {
  std::size_t quotes = 50'000;
  std::size_t quotes_per_snapshot = 100;
  std::uint64_t seed = 1;  // the market's (the book has its own)
  std::size_t chunk = 1024;  // options per revaluation job
  std::size_t workers = 0;   // revaluation coroutines; 0: one per goro worker
  // Channel capacities (0 for the jobs and partials: 2 per worker).
  std::size_t quote_capacity = 1024;
  std::size_t snapshot_capacity = 2;
  std::size_t job_capacity = 0;
  std::size_t partial_capacity = 0;
  // Snapshot versions between the fan-out and the report send at most (a window: the fan-out
  // waits for a token before dispatching a version, the aggregator gives it back once the
  // version's report is sent). Without it a stalled worker holding the oldest version's last
  // chunk would let the others complete newer versions that the aggregator, sending in order,
  // would have to buffer without bound.
  std::size_t versions_in_flight = 4;
  // Test hook: called by a revaluation worker before it values a chunk (it may throw, to
  // exercise the failure path below).
  std::function<void(std::uint64_t version, std::uint32_t chunk)> on_job = nullptr;
};

// Counters updated while the pipeline runs (may be read meanwhile by another coroutine).
struct counters {
  std::atomic<std::uint64_t> quotes_drawn{0};       // ticks taken from the market
  std::atomic<std::uint64_t> snapshots_published{0};
  std::atomic<std::uint64_t> jobs_done{0};
  std::atomic<std::uint64_t> reports_sent{0};        // send() on the report channel returned
};

struct run_result {
  std::size_t workers = 0;
  std::uint64_t quotes = 0;
  std::uint64_t snapshots = 0;
  std::uint64_t valuations = 0;
  double seconds = 0;  // from the start of the stages to the last report sent
};

// Runs the pipeline, sending one report per snapshot version, in version order, on `reports`
// (closed at the end). Must be called from a coroutine inside goro::run; returns when every
// stage has finished. Someone else must receive the reports. Throws std::invalid_argument for
// a zero chunk or quotes_per_snapshot.
// Failure: when a stage throws (a worker's exception, or the caller closing `reports` early,
// which makes the aggregator's send throw goro::closed_channel_error), every channel of the
// pipeline is closed and the version window opened, so that each stage blocked on a send or a
// receive ends too; run_pipeline joins them all, closes `reports` and rethrows the FIRST
// exception (the others are its consequences). No stage is left blocked.
run_result run_pipeline(const config& cfg, const qf::universe& u, const book& b,
                        goro::send_chan<report> reports, counters* ctr = nullptr);

// The same reports, computed on the calling thread with no coroutine.
std::vector<report> reference(const config& cfg, const qf::universe& u, const book& b);

// An upper bound on quotes drawn from the market but not yet covered by a report the consumer
// has received, given the capacities (report_capacity: that of the caller's report channel) and
// the worker count; the backpressure test checks it holds when the consumer is slow.
std::uint64_t in_flight_quote_bound(const config& cfg, const book& b, std::size_t workers,
                                    std::size_t report_capacity);

}  // namespace sp
