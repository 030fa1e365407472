// exchange.hpp: the exchange simulator as a library: FIX 4.4 over TCP on goro::net.
//
//   goro::run([] {
//     qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 300, .seed = 1, .rate = 50000});
//     ex.start();                       // the accept loop, in a coroutine
//     connect_a_client(ex.addr());      // "127.0.0.1:40123"
//     ex.stop();                        // closes the listener and every session, joins them all
//     return 0;
//   });
//
// A session, one per accepted connection, runs the FIX session layer (fix_session.hpp) as an
// acceptor with the exchange's session_store: sequence numbers per client CompID survive
// reconnects; gaps, resends, duplicates, resets, CompID checks and rejects follow FIX there.
//   1. The client's first message must be a Logon (A) within logon_timeout: the exchange answers
//      with a Logon carrying the same HeartBtInt (and ResetSeqNumFlag); anything else closes the
//      connection.
//   2. A pump coroutine then makes Quotes (S), each one tick of the session's own market (a
//      qf::market over the universe, seeded with `seed`: every session sees the same sequence,
//      which a client can re-simulate). rate > 0: at most `rate` quotes a second, paced by the
//      clock in bursts of max(1, rate / 10000) quotes; rate == 0: as fast as the client reads.
//      It also runs the session's timers (Heartbeat, TestRequest, timeouts).
//   3. The reader coroutine frames and hands every message to the session layer, whose
//      application callback handles NewOrderSingle (D) -> ExecutionReport (8): a market order
//      fills at once, whole, at the current ask (buy) or bid (sell); a limit order fills there if
//      marketable, else is rejected, as is an unknown symbol. Execution reports are kept for
//      replay; quotes are gap-filled on a ResendRequest.
//   4. Malformed input is counted (stats().errors); a message that parses but has a bad field
//      gets a session Reject, an unsupported MsgType a BusinessMessageReject.
// WRITE PATH: one mutex per session (`mu`) guards the session state machine, the market and
// the output; it is never held across a socket write. Whoever appends output (the pump, the
// reader) and finds no write in progress becomes the writer: it swaps the output out, unlocks,
// writes (with a write deadline, write_timeout), relocks, and repeats until nothing is left.
// So wire order is MsgSeqNum order, and one writer at a time. SLOW READER: while output is
// waiting and more than quote_queue_bytes are queued, the quotes that fall due are dropped
// (counted: slow_reader_drops) and the schedule moves on, so the exchange never bursts past its
// rate to catch up; admin messages and execution reports are never dropped. A write that misses
// its deadline ends the session.
#pragma once

#include "fix.hpp"
#include "fix_session.hpp"
#include "universe.hpp"

#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>

namespace qf {

struct exchange_options {
  std::string listen = "127.0.0.1:0";
  std::size_t symbols = universe::default_size;
  std::uint64_t seed = 1;
  double rate = 0;                         // quotes a second per session; 0: as fast as the client reads
  std::string comp_id = "EXCH";            // SenderCompID of everything the exchange sends
  std::chrono::milliseconds logon_timeout{10000};
  std::size_t batch_bytes = 32 * 1024;     // about this many bytes of quotes per write
  std::uint64_t quote_limit = 0;           // quotes per session, then only heartbeats; 0: no limit
  std::FILE* log = nullptr;                // session starts, ends and errors; nullptr: silent
  std::chrono::milliseconds write_timeout{5000};  // a write that takes longer ends the session
  std::size_t quote_queue_bytes = 256 * 1024;  // output waiting beyond this: due quotes drop
  // Sequence numbers per client CompID; null: the exchange's own (they live as long as it).
  fix::session_store* store = nullptr;
};

struct exchange_stats {
  std::uint64_t sessions_accepted = 0;
  std::uint64_t sessions_active = 0;
  std::uint64_t sessions_logged_on = 0;
  std::uint64_t quotes_sent = 0;
  std::uint64_t messages_sent = 0;         // every message, quotes included
  std::uint64_t messages_received = 0;     // frames that parsed
  std::uint64_t orders = 0;                // NewOrderSingle received and decoded
  std::uint64_t fills = 0;
  std::uint64_t rejects = 0;
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t test_requests_sent = 0;
  std::uint64_t seq_gaps = 0;              // inbound gaps (each answered by a ResendRequest)
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t slow_reader_drops = 0;     // quotes dropped for clients that do not keep up
  fix::error_counters errors;              // framing, parse and decode errors of ended sessions
  fix::session_counters session;           // the session layer's counters, every session
};

class exchange {
 public:
  // Binds the listener (std::system_error if it cannot). Call inside goro::run.
  explicit exchange(exchange_options o = {});
  ~exchange();  // stop()
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;

  // Starts the accept loop (once).
  void start();
  // Closes the listener and every session (each gets a Logout first if it is still writable) and
  // waits for all their coroutines. Idempotent.
  void stop();

  std::string addr() const { return ln_.addr(); }
  std::uint16_t port() const { return ln_.port(); }
  const universe& symbols() const noexcept { return universe_; }
  const exchange_options& options() const noexcept { return opt_; }
  exchange_stats stats() const;

  struct session;  // exchange.cpp

 private:
  friend struct session;
  void accept_loop();
  void run_session(std::shared_ptr<session> s);
  void reap(bool all);

  exchange_options opt_;
  universe universe_;
  goro::net::listener ln_;
  goro::context ctx_;
  goro::cancel_func cancel_;
  goro::join_handle<void> acceptor_;
  bool started_ = false, stopped_ = false;

  fix::session_store own_store_;
  fix::session_store* store_;
  mutable goro::mutex mu_;  // guards sessions_, errors_, session_totals_ (lock order: before a session's publish lock)
  fix::session_counters session_totals_;  // of ended sessions
  std::unordered_map<std::uint64_t, std::pair<std::shared_ptr<session>, goro::join_handle<void>>> sessions_;
  fix::error_counters errors_;

  struct counters {
    std::atomic<std::uint64_t> accepted{0}, active{0}, logged_on{0}, quotes{0}, sent{0}, received{0},
        orders{0}, fills{0}, rejects{0}, slow_drops{0}, bytes_out{0},
        bytes_in{0};
  } n_;
};

}  // namespace qf
