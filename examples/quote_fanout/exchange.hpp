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
// A session, one per accepted connection:
//   1. The client's first message must be a Logon (A) within logon_timeout: the exchange answers
//      with a Logon carrying the same HeartBtInt (and ResetSeqNumFlag); anything else closes the
//      connection.
//   2. A writer coroutine then sends Quotes (S), each one tick of the session's own market (a
//      qf::market over the universe, seeded with `seed`: every session sees the same sequence,
//      which a client can re-simulate). rate > 0: at most `rate` quotes a second, paced by the
//      clock in bursts (a wake-up for every max(1, rate / 1000) quotes, so about a millisecond
//      apart at high rates), batches capped by batch_bytes; rate == 0: as fast as the client
//      reads (write_all parks on a full
//      socket). Without anything else to send for HeartBtInt seconds it sends a Heartbeat (0).
//   3. The session's coroutine reads: TestRequest (1) -> Heartbeat with its TestReqID;
//      NewOrderSingle (D) -> ExecutionReport (8): a market order fills at once, whole, at the
//      current ask (buy) or bid (sell); a limit order fills there if marketable, else is rejected,
//      as is an unknown symbol; Logout (5) -> a Logout back, then the connection closes. Nothing
//      received for 1.5 x HeartBtInt: a TestRequest; still nothing: the session ends.
//   4. Malformed input is counted (stats().errors) and skipped: a session survives bad checksums,
//      garbage and the like as long as the framing allows (see fix.hpp).
// Outbound MsgSeqNum counts 1, 2, ... across every message of the session, in wire order (one
// mutex guards the sequence number, the market and the socket's write side). Inbound sequence
// gaps are counted (no resend: this is a simulator).
#pragma once

#include "fix.hpp"
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
  std::uint64_t seq_gaps = 0;              // inbound MsgSeqNum not the one expected
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  fix::error_counters errors;              // framing, parse and decode errors of ended sessions
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

  mutable goro::mutex mu_;  // guards sessions_, errors_
  std::unordered_map<std::uint64_t, std::pair<std::shared_ptr<session>, goro::join_handle<void>>> sessions_;
  fix::error_counters errors_;

  struct counters {
    std::atomic<std::uint64_t> accepted{0}, active{0}, logged_on{0}, quotes{0}, sent{0}, received{0},
        orders{0}, fills{0}, rejects{0}, heartbeats{0}, test_requests{0}, seq_gaps{0}, bytes_out{0},
        bytes_in{0};
  } n_;
};

}  // namespace qf
