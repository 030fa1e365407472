// fix_session.hpp: the FIX 4.4 session layer shared by the exchange and the fanout client: a
// state machine with no sockets and no clock of its own (the caller passes `now`), so every rule
// is testable by feeding it bytes and reading what it wants to send.
//
//   qf::fix::session_store store;                         // one per process: sequence numbers
//   qf::fix::session s({.local = "EXCH"}, &store);         // an acceptor; remote from the Logon
//   for each frame f the framer gives:  s.on_frame(f, now, app);   // app(const message&) -> error
//   for each framer error e:            s.on_framer_error(e, now);
//   from time to time:                  s.on_timer(now);  (s.next_timer_ns() says when)
//   to send:                            s.send(execution_report, now, /*keep=*/true);
//   then write s.output() to the socket (outside any lock), clear it, and close when s.done().
//
// Rules (FIX 4.4 session level, "FIXT" style recovery):
//   - Identity: a session is (local CompID, remote CompID). Its sequence numbers (next outbound,
//     next inbound) and the messages it must be able to replay live in the session_store for the
//     process's lifetime, so a reconnect resumes where the last connection stopped. One live
//     session per identity: a second Logon for it is refused with a Logout.
//   - Logon: the first message must be a Logon (else disconnect without a word). Its TargetCompID
//     must be our CompID (and its SenderCompID the configured remote, if one is set), else the
//     acceptor disconnects without a word (reason() says why), the initiator after a Logout. ResetSeqNumFlag=Y resets both directions to 1 (also mid-session).
//     An acceptor answers with a Logon (same HeartBtInt, ResetSeqNumFlag echoed).
//   - MsgSeqNum: equal to the expected number: processed. Higher: a gap: ResendRequest
//     (BeginSeqNo = expected, EndSeqNo = 0) once, and the message (and every later one) is held,
//     in order, until the gap is filled, then processed. Lower without PossDupFlag=Y: Logout
//     "MsgSeqNum too low, expecting X but received Y" and disconnect. Lower with PossDupFlag=Y:
//     already seen, ignored (counted): an order is never executed twice.
//   - Every message consumes its number, also one that is rejected.
//   - CompIDs on every message: a wrong SenderCompID or TargetCompID is a Reject (3) with
//     SessionRejectReason 9 (CompID problem), then Logout and disconnect.
//   - Application messages: the app callback returns an error for a malformed field (what
//     fix::decode returns): a session Reject with RefSeqNum, RefTagID, RefMsgType and
//     SessionRejectReason (1 required tag missing, 5 value incorrect); errc::unknown_msg_type
//     (also a MsgType the codec does not know) is a BusinessMessageReject (j) reason 3.
//   - ResendRequest: messages sent with keep=true (execution reports, orders) are replayed with
//     PossDupFlag=Y and OrigSendingTime; everything else (quotes are stale by then, admin
//     messages) is covered by SequenceReset-GapFill (4, 123=Y). SequenceReset-Reset (no 123=Y)
//     moves the expected number to NewSeqNo whatever the MsgSeqNum (lower is a Reject).
//   - A BeginString other than FIX.4.4 (the framer's bad_begin_string): Logout and disconnect.
//   - Heartbeats: a Heartbeat after HeartBtInt with nothing sent; a TestRequest after 1.5 x
//     HeartBtInt with nothing received; the same silence again: Logout and disconnect.
//   - Logout: answered with a Logout, then disconnect; our own Logout waits logout_timeout for
//     the answer.
// Thread safety: none; the caller serializes every call (the exchange holds its session mutex,
// which it never holds across a socket write: the output is swapped out and written after).
#pragma once

#include "fix.hpp"

#include <goro/sched/spin_lock.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace qf::fix {

// Sequence numbers and replayable messages per session identity, for the process's lifetime.
class session_store {
 public:
  struct record {
    std::uint64_t next_out = 1;  // MsgSeqNum of our next message
    std::uint64_t next_in = 1;   // MsgSeqNum expected from the peer
    std::map<std::uint64_t, std::string> kept;  // seq -> a message as sent, to replay on resend
    bool in_use = false;         // guarded by the store's lock
  };
  explicit session_store(std::size_t max_kept = 100000) : max_kept_(max_kept) {}

  // The record of (local, remote), created at 1/1 the first time, now in use by the caller; null
  // if another session holds it.
  std::shared_ptr<record> claim(std::string_view local, std::string_view remote);
  void release(const std::shared_ptr<record>& r);
  // A copy of a record's numbers (tests, logs): {next_out, next_in}, {1, 1} if unknown.
  std::pair<std::uint64_t, std::uint64_t> numbers(std::string_view local, std::string_view remote);
  // Messages kept per identity (the oldest are forgotten and gap-filled instead).
  std::size_t max_kept() const noexcept { return max_kept_; }

 private:
  goro::sched::spin_lock mu_;  // short map operations only
  std::map<std::pair<std::string, std::string>, std::shared_ptr<record>> m_;
  std::size_t max_kept_;
};

struct session_counters {
  std::uint64_t messages_in = 0;           // parsed messages received
  std::uint64_t messages_out = 0;          // messages queued for the wire
  std::uint64_t gaps = 0;                  // gaps detected (each sends a ResendRequest)
  std::uint64_t resend_requests_sent = 0;
  std::uint64_t resend_requests_received = 0;
  std::uint64_t replayed = 0;              // messages resent with PossDupFlag=Y
  std::uint64_t gap_fills_sent = 0;        // SequenceReset-GapFill sent
  std::uint64_t duplicates_ignored = 0;    // PossDupFlag=Y below the expected number
  std::uint64_t queued = 0;                // messages held behind a gap
  std::uint64_t seq_too_low = 0;           // Logouts for a MsgSeqNum too low
  std::uint64_t comp_id_errors = 0;
  std::uint64_t rejects_sent = 0;          // session Rejects (3)
  std::uint64_t business_rejects_sent = 0; // BusinessMessageRejects (j)
  std::uint64_t rejects_received = 0;      // Rejects and BusinessMessageRejects from the peer
  std::uint64_t heartbeats_sent = 0;
  std::uint64_t test_requests_sent = 0;
  std::uint64_t resets = 0;                // sequence resets (ResetSeqNumFlag, SequenceReset-Reset)
  std::uint64_t slow_reader_drops = 0;     // quotes dropped for a slow reader (the exchange's)

  void merge(const session_counters& o) noexcept;
};

struct session_config {
  std::string local;                 // our CompID: SenderCompID of what we send
  std::string remote;                // the peer's CompID; empty (acceptor only): the Logon's sender
  bool initiator = false;            // we send the Logon
  std::int64_t heartbeat_s = 30;     // initiator: what we ask for; acceptor: taken from the Logon
  std::int64_t logon_timeout_ns = 10'000'000'000;
  std::int64_t logout_timeout_ns = 5'000'000'000;
  std::size_t max_queued = 100000;   // messages held behind a gap; more: Logout
};

class session {
 public:
  enum class state : std::uint8_t { awaiting_logon, logged_on, logout_sent, done };

  // store: where the sequence numbers live (null: a private one, nothing survives the session).
  session(session_config cfg, session_store* store, std::int64_t now_ns = 0);
  ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  // Initiator: queues our Logon (reset: ResetSeqNumFlag=Y, both directions from 1).
  void logon(std::int64_t now_ns, bool reset = false);

  // One frame from the framer. app(const message&) -> fix::error handles an in-order
  // application message (may call send()); an error it returns is answered with a Reject (or a
  // BusinessMessageReject for errc::unknown_msg_type).
  // Returns the frame's parse error, if any (the caller counts it; unknown_msg_type has been
  // answered with a BusinessMessageReject, other parse errors are ignored, as FIX says for
  // garbled messages).
  template <class App>
  error on_frame(const frame& f, std::int64_t now_ns, App&& app) {
    app_ref a{&app, [](void* p, const message& m) { return (*static_cast<std::remove_reference_t<App>*>(p))(m); }};
    return on_frame_impl(f.body, now_ns, a);
  }

  void on_framer_error(const error& e, std::int64_t now_ns);
  // Heartbeats, TestRequests, silence, the Logon and Logout timeouts.
  void on_timer(std::int64_t now_ns);
  // When on_timer next has something to do (INT64_MAX: nothing pending).
  std::int64_t next_timer_ns() const noexcept;
  // Our Logout: no more application messages; done when the answer comes (or logout_timeout).
  void logout(std::string_view text, std::int64_t now_ns);
  // The end without waiting (the connection failed): done(), reason set if none yet.
  void abort(std::string_view why);

  // Queues an application message with the next MsgSeqNum; keep: replay it on a ResendRequest
  // (else it is gap-filled). False (nothing queued) unless logged on.
  template <class M>
  bool send(const M& m, std::int64_t now_ns, bool keep = false) {
    if (st_ != state::logged_on) return false;
    const std::size_t at = out_.size();
    encode(out_, next_header(now_ns), m);
    if (keep) remember(std::string_view(out_).substr(at));
    return true;
  }
  // The header of the next message (consumes a MsgSeqNum; counts as sent), for callers that
  // build messages field by field (the exchange's quotes). Never replayed: gap-filled.
  header next_header(std::int64_t now_ns) noexcept;

  // The bytes to write, in MsgSeqNum order. The caller takes them (swap or clear) and writes.
  std::string& output() noexcept { return out_; }

  state current() const noexcept { return st_; }
  bool logged_on() const noexcept { return st_ == state::logged_on; }
  bool done() const noexcept { return st_ == state::done; }
  bool logged_out() const noexcept { return logged_out_; }  // the peer's Logout was received
  const std::string& reason() const noexcept { return reason_; }  // why it ended
  const std::string& local() const noexcept { return cfg_.local; }
  const std::string& remote() const noexcept { return remote_; }
  std::int64_t heartbeat_s() const noexcept { return cfg_.heartbeat_s; }
  std::uint64_t next_out() const noexcept;
  std::uint64_t next_in() const noexcept;
  std::size_t held() const noexcept { return queue_.size(); }  // messages waiting behind a gap
  const session_counters& counters() const noexcept { return n_; }
  session_counters& counters() noexcept { return n_; }

 private:
  struct app_ref {
    void* p;
    error (*fn)(void*, const message&);
  };
  error on_frame_impl(std::string_view body, std::int64_t now_ns, const app_ref& app);
  void process(const message& m, std::string_view body, bool unsupported, std::int64_t now_ns, const app_ref& app);
  void in_order(const message& m, bool unsupported, std::int64_t now_ns, const app_ref& app);
  void on_logon(const message& m, std::int64_t now_ns);
  void drain(std::int64_t now_ns, const app_ref& app);
  void replay(std::uint64_t begin, std::uint64_t end, std::int64_t now_ns);
  void remember(std::string_view msg);
  void reset_numbers();
  void session_reject(const message& m, int ref_tag, int reason, std::string_view text, std::int64_t now_ns);
  void end_with_logout(std::string_view text, std::int64_t now_ns);
  void finish(std::string_view why);
  template <class M>
  void admin(const M& m, std::int64_t now_ns) {
    encode(out_, next_header(now_ns), m);
  }

  session_config cfg_;
  session_store own_store_;  // when none is given
  session_store* store_;
  std::shared_ptr<session_store::record> rec_;  // claimed at Logon
  session_store::record pre_;                   // numbers before the Logon (initiator's Logon)
  std::string remote_;
  state st_ = state::awaiting_logon;
  bool logged_out_ = false;
  bool released_ = false;
  std::string reason_;
  std::string out_;
  // Messages held behind a gap, by MsgSeqNum (copies of their bodies).
  std::map<std::uint64_t, std::string> queue_;
  std::uint64_t resend_until_ = 0;  // a ResendRequest is out for numbers below this; 0: none
  message in_;                      // the frame being handled
  message drained_;                 // what is drained from queue_
  message replayed_;                // a kept message being replayed
  std::int64_t last_in_ns_ = 0, last_out_ns_ = 0, test_request_ns_ = 0, deadline_ns_ = 0;
  std::uint64_t test_req_ids_ = 0;
  session_counters n_;
};

}  // namespace qf::fix
