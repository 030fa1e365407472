// The FIX session layer as a state machine (no sockets, no clock): every rule of fix_session.hpp
// fed with bytes, checked on what the session wants to send.
#include "fix_session.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fix = qf::fix;

namespace {

constexpr std::int64_t t0 = 1'700'000'000'000'000'000;  // a wall-clock time, ns
constexpr std::int64_t sec = 1'000'000'000;

// One message the session sent: its fields by tag (the first of each).
struct sent_msg {
  std::string type;
  std::uint64_t seq = 0;
  std::map<int, std::string> f;
  std::string get(int t) const {
    auto it = f.find(t);
    return it == f.end() ? std::string() : it->second;
  }
};

// Takes (and clears) what the session wants to send, parsed.
std::vector<sent_msg> take(fix::session& s) {
  std::vector<sent_msg> v;
  fix::framer fr;
  fr.feed(s.output());
  s.output().clear();
  fix::message m;
  for (;;) {
    auto r = fr.next();
    if (r.st == fix::framer::status::need_more) break;
    REQUIRE(r.st == fix::framer::status::frame);
    const fix::error e = m.parse(r.f);
    REQUIRE((!e || e.code == fix::errc::unknown_msg_type));
    sent_msg x;
    x.type = std::string(m.raw_type());
    x.seq = m.seq();
    for (const fix::field& fl : m.fields()) x.f.emplace(fl.tag, std::string(fl.value));
    v.push_back(std::move(x));
  }
  return v;
}

// The peer: builds messages CLIENT -> EXCH with chosen numbers and feeds them to the session.
struct peer {
  std::string sender = "CLIENT", target = "EXCH";
  std::uint64_t seq = 1;
  std::int64_t now = t0;
  std::vector<std::string> app_seen;  // ClOrdIDs / MsgTypes the app got, in order
  fix::error app_result;              // what the app answers

  std::string bytes;
  fix::builder begin(fix::msg_type t, std::uint64_t n, bool poss_dup = false) {
    bytes.clear();
    fix::builder b(bytes);
    fix::header h{sender, target, n, now};
    h.poss_dup = poss_dup;
    h.orig_sending_time_ns = now - sec;
    b.begin(t, h);
    return b;
  }
  void feed(fix::session& s) {
    fix::framer fr;
    fr.feed(bytes);
    for (;;) {
      auto r = fr.next();
      if (r.st == fix::framer::status::need_more) break;
      if (r.st == fix::framer::status::error) {
        s.on_framer_error(r.err, now);
        continue;
      }
      s.on_frame(r.f, now, [this](const fix::message& m) {
        fix::new_order_single o;
        if (m.type() == fix::msg_type::new_order_single) {
          if (auto e = fix::decode(m, o)) return e;
          app_seen.emplace_back(o.cl_ord_id);
          return app_result;
        }
        app_seen.emplace_back(m.raw_type());
        return fix::error::make(fix::errc::unknown_msg_type, "not for this app", fix::tag::msg_type);
      });
    }
  }
  void logon(fix::session& s, bool reset = false, std::int64_t hb = 30) {
    fix::builder b = begin(fix::msg_type::logon, seq++);
    b.add_int(fix::tag::encrypt_method, 0);
    b.add_int(fix::tag::heart_bt_int, hb);
    if (reset) b.add(fix::tag::reset_seq_num_flag, 'Y');
    b.end();
    feed(s);
  }
  void order(fix::session& s, std::string_view id, std::uint64_t n, bool poss_dup = false, char side = '1',
             bool transact_time = true) {
    fix::builder b = begin(fix::msg_type::new_order_single, n, poss_dup);
    b.add(fix::tag::cl_ord_id, id);
    b.add(fix::tag::symbol, "AAPL");
    b.add(fix::tag::side, side);
    if (transact_time) b.add_time(fix::tag::transact_time, now);
    b.add_int(fix::tag::order_qty, 100);
    b.add(fix::tag::ord_type, '1');
    b.end();
    feed(s);
  }
  void order(fix::session& s, std::string_view id) { order(s, id, seq++); }
  void heartbeat(fix::session& s, std::uint64_t n) {
    begin(fix::msg_type::heartbeat, n).end();
    feed(s);
  }
  void gap_fill(fix::session& s, std::uint64_t n, std::uint64_t new_seq, bool gap = true) {
    fix::builder b = begin(fix::msg_type::sequence_reset, n, gap);
    if (gap) b.add(fix::tag::gap_fill_flag, 'Y');
    b.add_int(fix::tag::new_seq_no, static_cast<std::int64_t>(new_seq));
    b.end();
    feed(s);
  }
};

// A message with any BeginString and body, BodyLength and CheckSum right.
std::string raw(std::string_view begin_string, std::string_view body) {
  std::string m = "8=" + std::string(begin_string) + "\x01" "9=" + std::to_string(body.size()) + "\x01" + std::string(body);
  char cs[8];
  std::snprintf(cs, sizeof cs, "%03u", fix::checksum(m));
  return m + "10=" + cs + "\x01";
}

fix::session_config config(std::string local, std::string remote = "", bool initiator = false, std::int64_t hb = 30) {
  fix::session_config c;
  c.local = std::move(local);
  c.remote = std::move(remote);
  c.initiator = initiator;
  c.heartbeat_s = hb;
  return c;
}

fix::session acceptor(fix::session_store& st) { return fix::session(config("EXCH"), &st, t0); }

// A logged-on acceptor session; the Logon answer taken.
void log_on(fix::session& s, peer& p, bool reset = false) {
  p.logon(s, reset);
  REQUIRE(s.logged_on());
  auto out = take(s);
  REQUIRE(out.size() >= 1);
  CHECK(out[0].type == "A");
}

fix::execution_report fill(std::string_view id) {
  fix::execution_report r;
  r.order_id = "O1";
  r.exec_id = "E1";
  r.cl_ord_id = id;
  r.sym = fix::symbol("AAPL");
  r.order_qty = r.last_qty = r.cum_qty = 100;
  r.last_px = r.avg_px = fix::price_from_cents(10000);
  r.transact_time_ns = t0;
  return r;
}

}  // namespace

TEST_CASE("fix session: Logon answered; numbers kept per identity across reconnects") {
  fix::session_store st;
  peer p;
  {
    fix::session s = acceptor(st);
    p.logon(s);
    auto out = take(s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].type == "A");
    CHECK(out[0].seq == 1);
    CHECK(out[0].get(56) == "CLIENT");
    CHECK(out[0].get(108) == "30");
    p.order(s, "A1");
    s.send(fill("A1"), p.now, true);
    CHECK(take(s).size() == 1);
    CHECK(s.next_in() == 3);
    CHECK(s.next_out() == 3);
  }  // the connection drops
  CHECK(st.numbers("EXCH", "CLIENT") == std::pair<std::uint64_t, std::uint64_t>{3, 3});
  {
    fix::session s = acceptor(st);
    p.logon(s);  // MsgSeqNum 3: resumes
    REQUIRE(s.logged_on());
    auto out = take(s);
    REQUIRE(out.size() == 1);
    CHECK(out[0].seq == 3);  // the exchange resumes too
    CHECK(s.next_in() == 4);
  }
  {
    // A peer that restarts at 1 without ResetSeqNumFlag: too low.
    fix::session s = acceptor(st);
    p.seq = 1;
    p.logon(s);
    CHECK(s.done());
    auto out = take(s);
    REQUIRE(out.size() == 2);
    CHECK(out[1].type == "5");
    CHECK(out[1].get(58) == "MsgSeqNum too low, expecting 4 but received 1");
    CHECK(s.counters().seq_too_low == 1);
  }
}

TEST_CASE("fix session: one live session per identity") {
  fix::session_store st;
  peer p1, p2;
  fix::session a = acceptor(st);
  log_on(a, p1);
  fix::session b = acceptor(st);
  p2.logon(b, true);
  CHECK(b.done());
  auto out = take(b);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "5");
  CHECK(out[0].get(58).find("already logged on") != std::string::npos);
}

TEST_CASE("fix session: a gap sends a ResendRequest and holds later messages until it is filled") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);          // Logon was 1
  p.order(s, "A2", 2);   // in order
  p.order(s, "A4", 4);   // 3 is missing
  p.order(s, "A5", 5);
  CHECK(p.app_seen == std::vector<std::string>{"A2"});
  auto out = take(s);
  REQUIRE(out.size() == 1);  // one ResendRequest, not one per message
  CHECK(out[0].type == "2");
  CHECK(out[0].get(7) == "3");
  CHECK(out[0].get(16) == "0");
  CHECK(s.counters().gaps == 1);
  CHECK(s.held() == 2);
  // The peer resends 3 (PossDup), then 4 and 5 again as duplicates of what is held.
  p.order(s, "A3", 3, true);
  CHECK(p.app_seen == std::vector<std::string>{"A2", "A3", "A4", "A5"});
  CHECK(s.held() == 0);
  CHECK(s.next_in() == 6);
  p.order(s, "A4", 4, true);
  p.order(s, "A5", 5, true);
  CHECK(p.app_seen.size() == 4);  // never executed twice
  CHECK(s.counters().duplicates_ignored == 2);
}

TEST_CASE("fix session: a gap filled by SequenceReset-GapFill") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  p.order(s, "A5", 5);
  CHECK(take(s).at(0).type == "2");
  p.gap_fill(s, 2, 5);  // 2..4 were admin messages
  CHECK(p.app_seen == std::vector<std::string>{"A5"});
  CHECK(s.next_in() == 6);
}

TEST_CASE("fix session: MsgSeqNum too low without PossDupFlag is a Logout; with it, ignored") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  p.order(s, "A2", 2);
  p.order(s, "A2", 2, true);  // a PossDup of what was done: ignored
  CHECK(s.logged_on());
  CHECK(p.app_seen.size() == 1);
  CHECK(take(s).empty());
  p.order(s, "A2", 2);  // the same number again, no PossDup
  CHECK(p.app_seen.size() == 1);
  CHECK(s.done());
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "5");
  CHECK(out[0].get(58) == "MsgSeqNum too low, expecting 3 but received 2");
}

TEST_CASE("fix session: ResendRequest: execution reports replayed with PossDupFlag, the rest gap-filled") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);  // our Logon was 1
  const fix::quote q(fix::symbol("AAPL"), fix::price_from_cents(100), fix::price_from_cents(101), 1, 1, t0, t0, 0);
  s.send(q, p.now);                     // 2: a quote (not kept)
  s.send(q, p.now);                     // 3
  s.send(fill("X1"), p.now - sec, true);  // 4: kept
  s.send(q, p.now);                     // 5
  take(s);
  fix::builder b = p.begin(fix::msg_type::resend_request, p.seq++);
  b.add_int(fix::tag::begin_seq_no, 1);
  b.add_int(fix::tag::end_seq_no, 0);
  b.end();
  p.feed(s);
  auto out = take(s);
  REQUIRE(out.size() == 3);
  CHECK(out[0].type == "4");
  CHECK(out[0].seq == 1);
  CHECK(out[0].get(123) == "Y");
  CHECK(out[0].get(36) == "4");
  CHECK(out[0].get(43) == "Y");
  CHECK(out[1].type == "8");
  CHECK(out[1].seq == 4);
  CHECK(out[1].get(43) == "Y");
  CHECK(out[1].get(11) == "X1");
  CHECK(!out[1].get(122).empty());
  CHECK(out[1].get(122) != out[1].get(52));  // OrigSendingTime: when it was first sent
  CHECK(out[2].type == "4");
  CHECK(out[2].seq == 5);
  CHECK(out[2].get(36) == "6");
  CHECK(s.next_out() == 6);  // replays do not consume numbers
  CHECK(s.counters().replayed == 1);
  CHECK(s.counters().gap_fills_sent == 2);
}

TEST_CASE("fix session: SequenceReset-Reset moves the expected number; lower is rejected") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  p.gap_fill(s, 99, 20, false);  // its MsgSeqNum does not matter
  CHECK(s.next_in() == 20);
  CHECK(take(s).empty());
  p.gap_fill(s, 99, 10, false);
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "3");
  CHECK(out[0].get(371) == "36");
  CHECK(s.next_in() == 20);
}

TEST_CASE("fix session: ResetSeqNumFlag=Y at Logon and mid-session") {
  fix::session_store st;
  peer p;
  {
    fix::session s = acceptor(st);
    log_on(s, p);
    p.order(s, "A2");
    s.send(fill("A2"), p.now, true);
  }
  fix::session s = acceptor(st);
  p.seq = 1;
  p.logon(s, true);
  REQUIRE(s.logged_on());
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].seq == 1);
  CHECK(out[0].get(141) == "Y");
  CHECK(s.next_in() == 2);
  p.order(s, "B2");
  p.order(s, "B3");
  CHECK(s.next_in() == 4);
  p.seq = 1;
  p.logon(s, true);  // mid-session
  out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "A");
  CHECK(out[0].seq == 1);
  CHECK(s.next_in() == 2);
  CHECK(s.next_out() == 2);
  CHECK(s.counters().resets == 2);
}

TEST_CASE("fix session: CompIDs: Logon to another TargetCompID refused; a wrong SenderCompID rejected") {
  fix::session_store st;
  {
    peer p;
    p.target = "NOTEXCH";
    fix::session s = acceptor(st);
    p.logon(s);
    CHECK(s.done());
    CHECK_FALSE(s.logged_on());
    CHECK(take(s).empty());  // no session to answer in: disconnected without a word
    CHECK(s.reason().find("TargetCompID NOTEXCH") != std::string::npos);
    CHECK(s.counters().comp_id_errors == 1);
  }
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  p.sender = "INTRUDER";
  p.order(s, "I1");
  CHECK(p.app_seen.empty());  // never filled
  CHECK(s.done());
  auto out = take(s);
  REQUIRE(out.size() == 2);
  CHECK(out[0].type == "3");
  CHECK(out[0].get(373) == "9");
  CHECK(out[0].get(371) == "49");
  CHECK(out[0].get(45) == "2");
  CHECK(out[1].type == "5");
}

TEST_CASE("fix session: bad application fields get a session Reject; the number is consumed") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  p.order(s, "S1", p.seq++, false, '7');  // invalid Side
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "3");
  CHECK(out[0].get(45) == "2");
  CHECK(out[0].get(371) == "54");
  CHECK(out[0].get(372) == "D");
  CHECK(out[0].get(373) == "5");
  p.order(s, "S2", p.seq++, false, '1', false);  // no TransactTime
  out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].get(371) == "60");
  CHECK(out[0].get(373) == "1");
  CHECK(s.next_in() == 4);
  CHECK(p.app_seen.empty());
  CHECK(s.counters().rejects_sent == 2);
}

TEST_CASE("fix session: an unsupported MsgType gets a BusinessMessageReject") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  // 35=V (MarketDataRequest): not in the codec.
  p.bytes = raw("FIX.4.4", "35=V\x01" "49=CLIENT\x01" "56=EXCH\x01" "34=2\x01" "52=20240102-03:04:05\x01" "262=x\x01");
  p.feed(s);
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "j");
  CHECK(out[0].get(372) == "V");
  CHECK(out[0].get(380) == "3");
  CHECK(out[0].get(45) == "2");
  CHECK(s.next_in() == 3);
  // An application MsgType the app does not take (a Quote to the exchange): also j.
  p.seq = 3;
  fix::builder b = p.begin(fix::msg_type::quote, p.seq++);
  b.add(fix::tag::quote_id, "1");
  b.end();
  p.feed(s);
  out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "j");
  CHECK(out[0].get(372) == "S");
  CHECK(s.logged_on());
}

TEST_CASE("fix session: a wrong BeginString ends the session with a Logout") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  p.bytes = raw("FIX.4.2", "35=0\x01" "49=CLIENT\x01" "56=EXCH\x01" "34=2\x01" "52=20240102-03:04:05\x01");
  p.feed(s);
  CHECK(s.done());
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "5");
  CHECK(out[0].get(58) == "BeginString must be FIX.4.4");
}

TEST_CASE("fix session: Heartbeat when idle, TestRequest on silence, then Logout") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  p.logon(s, false, 10);
  take(s);
  CHECK(s.next_timer_ns() == t0 + 10 * sec);
  s.on_timer(t0 + 10 * sec);
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "0");
  s.on_timer(t0 + 15 * sec);
  out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "1");
  const std::string id = out[0].get(112);
  CHECK(!id.empty());
  s.on_timer(t0 + 29 * sec);
  CHECK(s.logged_on());
  s.on_timer(t0 + 30 * sec);  // 1.5 x HeartBtInt after the TestRequest
  CHECK(s.done());
  out = take(s);
  REQUIRE(!out.empty());
  CHECK(out.back().type == "5");
  CHECK(s.counters().test_requests_sent == 1);
}

TEST_CASE("fix session: TestRequest answered; Logout answered") {
  fix::session_store st;
  peer p;
  fix::session s = acceptor(st);
  log_on(s, p);
  fix::builder b = p.begin(fix::msg_type::test_request, p.seq++);
  b.add(fix::tag::test_req_id, "abc");
  b.end();
  p.feed(s);
  auto out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "0");
  CHECK(out[0].get(112) == "abc");
  p.begin(fix::msg_type::logout, p.seq++).end();
  p.feed(s);
  CHECK(s.done());
  CHECK(s.logged_out());
  out = take(s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "5");
}

TEST_CASE("fix session: initiator: Logon, its answer checked, our Logout answered") {
  fix::session_store st;
  fix::session c(config("CLIENT", "EXCH", true, 5), &st, t0);
  c.logon(t0);
  auto out = take(c);
  REQUIRE(out.size() == 1);
  CHECK(out[0].type == "A");
  CHECK(out[0].get(108) == "5");
  peer ex;
  ex.sender = "EXCH";
  ex.target = "CLIENT";
  ex.logon(c, false, 5);
  CHECK(c.logged_on());
  c.logout("bye", t0);
  CHECK(take(c).at(0).type == "5");
  ex.begin(fix::msg_type::logout, ex.seq++).end();
  ex.feed(c);
  CHECK(c.done());
  CHECK(take(c).empty());  // our Logout was first: no second one

  fix::session d(config("CLIENT", "EXCH", true), &st, t0);
  d.logon(t0);
  take(d);
  peer wrong;
  wrong.sender = "OTHER";
  wrong.target = "CLIENT";
  wrong.logon(d);
  CHECK(d.done());
  CHECK_FALSE(d.logged_on());
}
