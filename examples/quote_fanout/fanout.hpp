// fanout.hpp: the core of the quote-fanout client, as a library.
//
//   goro::run([] {
//     qf::fanout::client cl({.addr = ex.addr(), .symbols = 300, .seed = 1});
//     cl.start();                           // the session and every consumer, in coroutines
//     ...
//     qf::fanout::result r = cl.stop();     // Logout, close, join everything: the statistics
//     return 0;
//   });
//
// Design:
//   - One session coroutine dials the exchange, logs on, and reads the feed with fix::framer.
//     Each Quote is parsed (message::parse + fix::decode) exactly ONCE, into an immutable
//     quote_event (the fix::quote, its universe index and its arrival time in steady-clock ns)
//     held by std::shared_ptr<const quote_event>. That one pointer is handed to every interested
//     consumer; nobody copies or re-parses the quote.
//   - Consumers, each a coroutine with its own bounded goro::chan<quote_ptr>:
//       * one per security: last bid/ask, mid, spread, EWMA of the mid (fixed alpha; the first
//         mid seeds it);
//       * one per sector: rolling volatility, the sample standard deviation (n - 1) of the last
//         `vol_window` log returns of the sector's mids (a return is ln(mid / previous mid of the
//         same security); a security's first quote gives no return);
//       * one global: a market-cap-weighted index, 100 * sum_i w_i * mid_i / p0_i, where w_i is
//         the universe's weight, p0_i the instrument's initial price, and mid_i its last mid (p0_i
//         until it is quoted), so the index starts at 100.
//   - BACKPRESSURE POLICY: a slow consumer must never delay the session or the other consumers.
//     The session hands a quote over with try_send; when a consumer's channel is full the NEW
//     quote is DROPPED for that consumer only (the others still get it), and the drop is counted
//     per consumer (result::securities[i].drops, sectors[s].drops, index.drops, and totals by
//     class). A consumer that dropped quotes has statistics over the quotes it did receive, in
//     order; the others are exact.
//   - stop(): sends a Logout, reads until the exchange's Logout or the end of the stream (with a
//     deadline), closes the connection, closes every consumer channel (consumers drain what is
//     buffered), joins every coroutine and returns the result. wait() does the same without
//     asking to stop (the session ends at max_quotes, or when the exchange closes).
//   - Decision makers (options::decision_makers, 0 by default): coroutine k watches the securities
//     with index % decision_makers == k: it gets their quotes (its own bounded channel, same drop
//     policy) and reads the statistics the other consumers publish (the security's EWMA, the
//     sector's volatility). When the mid strays from its EWMA by more than signal_threshold
//     sector volatilities it sends a market order back over the same session (mean reversion:
//     sell above, buy below), within a per-security position limit, a per-security cooldown and
//     a token bucket of max_orders_per_s. The session matches each ExecutionReport to its order
//     (ClOrdID), keeps positions and cash, and records the order's round trip.
//   - Latency: each consumer records, per update, the time from the quote's arrival (right after
//     it was parsed) to the end of its statistic update, in a histogram per consumer (log2 with 4
//     linear sub-buckets per octave: about 25% resolution).
//   - Live view: while the client runs, live() returns a snapshot (counters, index, sector
//     volatilities, cumulative histograms: diff two with since()) and security(i) one security's
//     last quote and EWMA. Every live value has one writer (the consumer or session that owns
//     it) and is a relaxed atomic, so publishing costs a plain store and readers never block
//     anyone; a snapshot is not atomic as a whole (each value is at most one update old).
#pragma once

#include "fix.hpp"
#include "fix_session.hpp"
#include "universe.hpp"

#include <goro/goro.hpp>
#include <goro/sched/spin_lock.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace qf::fanout {

// A quote as the consumers see it: parsed once, immutable, shared.
struct quote_event {
  fix::quote q;
  std::uint32_t index = 0;       // into the universe
  std::int64_t arrival_ns = 0;   // steady clock, right after parsing
};
using quote_ptr = std::shared_ptr<const quote_event>;

enum class consumer_kind : std::uint8_t { security, sector, index, decision };

struct options {
  std::string addr;                               // the exchange, "127.0.0.1:9878"
  std::size_t symbols = universe::default_size;   // the exchange's universe: size and seed
  std::uint64_t seed = 1;
  std::string comp_id = "CLIENT";                 // our SenderCompID
  std::string target = "EXCH";                    // the exchange's
  std::int64_t heartbeat_interval_s = 30;
  // Per-consumer channel capacities (quotes).
  std::size_t security_capacity = 256;
  std::size_t sector_capacity = 1024;
  std::size_t index_capacity = 4096;
  // Per-security capacity by universe index (e.g. one small channel in a test); null: all
  // security_capacity.
  std::function<std::size_t(std::size_t index)> security_capacity_of = nullptr;
  double ewma_alpha = 0.05;
  std::size_t vol_window = 100;                   // returns in the rolling volatility (>= 2)
  // Quotes to take, then the session logs out by itself; 0: until stop() or the end of stream.
  std::uint64_t max_quotes = 0;
  std::chrono::milliseconds logout_timeout{5000}; // waiting for the exchange's Logout
  std::chrono::milliseconds io_timeout{60000};    // no byte at all for this long ends the session
  std::chrono::milliseconds write_timeout{5000};  // a write that takes longer ends the session
  // Sequence numbers of (comp_id, target) for a later client to resume (null: this client's own).
  fix::session_store* store = nullptr;
  // Decision makers (see the top of this file); 0: none.
  std::size_t decision_makers = 0;
  std::size_t decision_capacity = 1024;
  double signal_threshold = 6;         // |ln(mid / ewma)| above this many sector volatilities
  std::int64_t order_qty = 100;        // shares per order
  std::int64_t max_position = 1000;    // |filled + in-flight position| per security, shares
  double max_orders_per_s = 20;        // over all decision makers
  std::chrono::milliseconds order_cooldown{1000};  // between two orders on one security
  // Test hook: called by a consumer with each quote it takes, before updating its statistic
  // (may sleep, to make a consumer slow). Called concurrently from several consumers.
  std::function<void(consumer_kind, std::size_t id, const quote_ptr&)> on_consume = nullptr;
};

struct security_stats {
  fix::symbol sym;
  std::uint64_t updates = 0;  // quotes taken
  std::uint64_t drops = 0;    // quotes dropped: the channel was full
  double bid = 0, ask = 0, mid = 0, spread = 0, ewma = 0;  // of the last quote taken
};

struct sector_stats {
  sector sec = sector::information_technology;
  std::uint64_t updates = 0, drops = 0;
  std::uint64_t returns = 0;  // log returns seen in all (the window holds the last vol_window)
  double volatility = 0;      // stddev of the window's returns; 0 with fewer than two
};

struct index_stats {
  std::uint64_t updates = 0, drops = 0;
  double value = 100;
};

// Latency in ns. Buckets: 0-7 ns one each; above, 4 linear sub-buckets per power of two (about
// 25% wide), up to 2^63.
struct latency_histogram {
  static constexpr std::size_t bucket_count = 8 + 60 * 4;
  static std::size_t bucket_of(std::int64_t ns) noexcept;
  static std::int64_t bucket_top(std::size_t b) noexcept;  // the largest value in bucket b

  std::array<std::uint64_t, bucket_count> buckets{};
  std::uint64_t count = 0;
  std::int64_t sum_ns = 0, max_ns = 0;
  void add(std::int64_t ns) noexcept;
  void merge(const latency_histogram& o) noexcept;
  // The samples added after `earlier` (a snapshot of the same histogram taken before): max_ns
  // becomes the top of the highest bucket that grew.
  latency_histogram since(const latency_histogram& earlier) const noexcept;
  double mean_ns() const noexcept { return count ? static_cast<double>(sum_ns) / count : 0; }
  std::int64_t quantile_ns(double q) const noexcept;  // an upper bound: the bucket's top (<= max)
};

// Adds to a value that only the calling coroutine writes and others read (relaxed: a plain load
// and store on x86, no locked instruction; readers see each value whole).
template <class T>
inline void owner_add(std::atomic<T>& a, T by) noexcept {
  a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

// The same, written by one owner while others read it (relaxed atomics: the owner's add is a
// few plain loads and stores on x86; a reader's snapshot may be mid-update by one sample).
class live_histogram {
 public:
  void add(std::int64_t ns) noexcept;  // owner only
  latency_histogram snapshot() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, latency_histogram::bucket_count> buckets_{};
  std::atomic<std::uint64_t> count_{0}, sum_{0}, max_{0};
};

struct order_stats {
  std::uint64_t sent = 0, fills = 0, rejects = 0;
  std::uint64_t unmatched = 0;        // ExecutionReports for no order of ours
  std::int64_t gross_shares = 0;      // sum of |filled quantity|
  double cash = 0;                    // - sum of signed fill value
  double pnl = 0;                     // cash + positions marked at the last mids (result only)
};

struct result {
  bool logged_on = false;
  bool logged_out = false;           // the exchange's Logout was received
  std::string error;                 // why the session ended abnormally, if it did
  std::uint64_t frames = 0;          // framer.frames()
  std::uint64_t messages = 0;        // frames that parsed (message::parse calls that succeeded)
  std::uint64_t parse_calls = 0;     // message::parse calls (one per frame)
  std::uint64_t quote_decodes = 0;   // fix::decode(quote) calls
  std::uint64_t quotes_received = 0; // quotes decoded and dispatched
  std::uint64_t quotes_ignored = 0;  // after max_quotes or stop()
  std::uint64_t unknown_symbols = 0;
  std::uint64_t heartbeats_sent = 0;
  fix::session_counters session;     // the session layer's (gaps, resends, rejects, heartbeats...)
  fix::error_counters errors;        // framing, parse and decode errors by class
  std::vector<security_stats> securities;  // by universe index
  std::array<sector_stats, sector_count> sectors{};
  index_stats index;
  std::uint64_t security_drops = 0, sector_drops = 0, index_drops = 0, decision_drops = 0;
  latency_histogram security_latency, sector_latency, index_latency, decision_latency;
  order_stats orders;
  latency_histogram order_round_trip;  // NewOrderSingle written to its ExecutionReport parsed
  std::vector<std::int64_t> positions; // filled shares by universe index
};

// What live() returns: cumulative since start().
struct live_snapshot {
  std::uint64_t quotes = 0, frames = 0, errors = 0, unknown_symbols = 0;
  std::uint64_t security_drops = 0, sector_drops = 0, index_drops = 0, decision_drops = 0;
  double index = 100;
  std::array<double, sector_count> volatility{};
  latency_histogram security_latency, sector_latency, index_latency, decision_latency, order_round_trip;
  order_stats orders;  // pnl marked at the securities' last published mids
};

struct security_view {
  double bid = 0, ask = 0, ewma = 0;
  std::uint64_t updates = 0;
  std::int64_t position = 0;
};

// The pure statistic updates, shared by the consumers (and usable single-threaded).
struct security_calc {
  double alpha;
  security_stats s;
  void update(const fix::quote& q) noexcept;
};
struct sector_calc {
  std::size_t window;
  std::vector<double> last_mid;  // by universe index; 0: not quoted yet
  std::vector<double> ring;      // the last `window` returns
  std::size_t head = 0;
  sector_stats s;
  void update(std::uint32_t index, const fix::quote& q);
};
struct index_calc {
  const universe* u;
  std::vector<double> mid;       // by universe index
  index_stats s;
  explicit index_calc(const universe& uu);
  void update(std::uint32_t index, const fix::quote& q) noexcept;
};

class client {
 public:
  explicit client(options o);
  ~client();  // stop() if started and not yet joined
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Dials (std::system_error if the dial fails; std::invalid_argument for a zero capacity),
  // spawns every consumer and waits until each has started, then sends the Logon and spawns the
  // session (once). A Logon that cannot be written ends the session at its first read
  // (result::error). Call inside goro::run.
  void start();
  // Asks the session to log out, then wait().
  result stop();
  // Joins the session and every consumer; returns the result (once; later calls return it again).
  result wait();

  const universe& symbols() const noexcept { return u_; }
  const options& opts() const noexcept { return opt_; }
  // Live counter (any coroutine may read it).
  std::uint64_t quotes_received() const noexcept { return live_quotes_.load(std::memory_order_relaxed); }
  // The session has ended (the exchange logged out or closed, the feed failed, or max_quotes):
  // wait() will not block for long.
  bool session_over() const noexcept { return session_over_.load(std::memory_order_acquire); }
  // A snapshot of the live statistics (after start(); any coroutine or thread).
  live_snapshot live() const;
  security_view security(std::size_t i) const;

 private:
  void session();
  void timers();
  void send_logout();
  bool kick(std::unique_lock<goro::mutex>& lk);
  void decide(std::size_t k, goro::chan<quote_ptr> ch);
  bool send_order(std::size_t k, std::uint32_t index, fix::side sd, std::int64_t qty);
  void on_execution(const fix::execution_report& er);

  // Published by one writer each (see "Live view" above).
  struct alignas(64) live_security {
    std::atomic<double> bid{0}, ask{0}, ewma{0};
    std::atomic<std::uint64_t> updates{0};
    std::atomic<std::int64_t> position{0};   // filled shares: the session writes it
    std::atomic<std::int64_t> exposure{0};   // filled + in flight: decision maker and session
  };
  struct alignas(64) live_consumer {
    live_histogram latency;
    std::atomic<double> value{0};            // a sector's volatility, the index level
  };
  struct live_counters {
    std::atomic<std::uint64_t> frames{0}, errors{0}, unknown{0};
    std::atomic<std::uint64_t> sec_drops{0}, sector_drops{0}, index_drops{0}, decision_drops{0};
    std::atomic<std::uint64_t> orders_sent{0}, fills{0}, rejects{0}, unmatched{0};
    std::atomic<std::int64_t> gross_shares{0};
    std::atomic<double> cash{0};
  };
  static void bump(std::atomic<std::uint64_t>& a) noexcept { owner_add<std::uint64_t>(a, 1); }

  options opt_;
  universe u_;
  goro::net::conn conn_;
  // The FIX session (fix_session.hpp, an initiator) and the write side. mu_ guards fs_, writing_
  // and the session's output; it is never held across a socket write: whoever finds no write in
  // progress becomes the writer (writing_), swaps the output into wbuf_, unlocks, writes, relocks
  // and repeats (kick()). Lock order: mu_ before order_mu_.
  goro::mutex mu_;
  fix::session_store own_store_;
  std::unique_ptr<fix::session> fs_;
  bool writing_ = false;
  std::string wbuf_;               // the writer's (the coroutine that set writing_)
  goro::context ctx_;              // ends the timer coroutine
  goro::cancel_func cancel_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> live_quotes_{0};
  std::atomic<bool> session_over_{false};

  std::vector<goro::chan<quote_ptr>> sec_ch_;
  std::array<goro::chan<quote_ptr>, sector_count> sector_ch_;
  goro::chan<quote_ptr> index_ch_ = nullptr;
  std::vector<goro::chan<quote_ptr>> decision_ch_;

  std::unique_ptr<live_security[]> live_sec_;    // by universe index
  std::unique_ptr<live_consumer[]> live_sec_lat_;  // by universe index (latency only)
  std::array<live_consumer, sector_count> live_sector_;
  live_consumer live_index_;
  std::unique_ptr<live_consumer[]> live_decision_;
  live_histogram live_rtt_;                        // the session's
  live_counters live_;

  // Orders sent and not yet answered, by ClOrdID: guarded by order_mu_ (a spin lock: held for a
  // map operation, never across I/O).
  struct pending_order {
    std::int64_t sent_ns = 0;
    std::uint32_t index = 0;
    std::int64_t signed_qty = 0;
  };
  mutable goro::sched::spin_lock order_mu_;
  std::unordered_map<std::string, pending_order> pending_ GORO_GUARDED_BY(order_mu_);
  std::atomic<std::uint64_t> next_order_{1};

  goro::join_handle<void> session_h_;
  goro::join_handle<void> timer_h_;
  std::vector<goro::join_handle<security_stats>> sec_h_;
  std::vector<goro::join_handle<sector_stats>> sector_h_;
  goro::join_handle<index_stats> index_h_;
  std::vector<goro::join_handle<void>> decision_h_;

  result r_;  // the session's part, written by the session only, read after it is joined
  bool started_ = false, joined_ = false;
};

}  // namespace qf::fanout
