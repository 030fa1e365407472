// The exchange simulator over loopback, with a minimal goro client: logon, quotes checked against
// a re-simulation of the market from the same seed, orders and their execution reports, test
// requests and heartbeats, malformed input, logout and shutdown. Everything runs inside
// goro::run, bounded by connection deadlines, and joins every coroutine it starts.
#include "exchange.hpp"

#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fix = qf::fix;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

// A minimal FIX client.
struct client {
  goro::net::conn c;
  fix::framer fr;
  fix::message m;
  std::string out;
  std::uint64_t seq = 1;
  std::string me;  // our SenderCompID: one session per CompID at a time

  explicit client(const std::string& addr, std::string id = "CLIENT") : c(goro::net::dial(addr)), me(std::move(id)) {
    c.set_deadline(steady::now() + 60s);  // nothing in a test waits longer
  }

  template <class M>
  void send(const M& msg) {
    out.clear();
    fix::encode(out, fix::header{me, "EXCH", seq++, fix::utc_now_ns()}, msg);
    c.write_all(out);
  }

  // The next message, parsed into m; false at end of stream. Framing or parse errors fail the test.
  bool next() {
    for (;;) {
      const auto r = fr.next();
      if (r.st == fix::framer::status::frame) {
        const fix::error e = m.parse(r.f);
        INFO(e.message());
        REQUIRE_FALSE(e);
        return true;
      }
      if (r.st == fix::framer::status::error) FAIL(r.err.message());
      const auto room = fr.prepare();
      std::error_code ec;
      const std::size_t n = c.read(room.data(), room.size(), ec);
      if (ec || n == 0) {
        if (ec) MESSAGE("client read: " << ec.message());
        CHECK(fr.finish().st == fix::framer::status::need_more);
        return false;
      }
      fr.commit(n);
    }
  }
};

// Checks the quotes a client receives against a re-simulation of the exchange's market.
struct checker {
  const qf::universe& u;
  qf::market mk;
  std::uint64_t want_seq = 2;  // 1 was the Logon
  std::uint64_t quotes = 0;
  std::string target = "CLIENT";

  checker(const qf::universe& uu, std::uint64_t seed, std::string t = "CLIENT") : u(uu), mk(uu, seed), target(std::move(t)) {}

  // The current message (any type): its sequence number follows; a quote matches the next tick.
  void check(const fix::message& m) {
    REQUIRE(m.seq() == want_seq);
    ++want_seq;
    CHECK(m.sender() == "EXCH");
    CHECK(m.target() == target);
    if (m.type() != fix::msg_type::quote) return;
    fix::quote q;
    const fix::error e = fix::decode(m, q);
    INFO(e.message());
    REQUIRE_FALSE(e);
    const qf::market::tick t = mk.next();
    REQUIRE(q.sym() == u[t.index].sym);
    REQUIRE(q.bid() == t.bid);
    REQUIRE(q.ask() == t.ask);
    REQUIRE(q.bid_size() == t.bid_size);
    REQUIRE(q.ask_size() == t.ask_size);
    REQUIRE(q.seq() == m.seq());
    const std::int64_t now = fix::utc_now_ns();
    REQUIRE(q.exchange_time_ns() <= now);
    REQUIRE(q.exchange_time_ns() > now - 60'000'000'000);
    ++quotes;
  }

  // Reads (checking quotes) until a message of type t; false at end of stream.
  bool until(client& cl, fix::msg_type t) {
    while (cl.next()) {
      check(cl.m);
      if (cl.m.type() == t) return true;
    }
    return false;
  }
};

struct report {
  std::string cl_ord_id, text;
  fix::exec_type etype;
  fix::ord_status status;
  fix::symbol sym;
  fix::side sd;
  std::int64_t qty, cum_qty, leaves_qty;
  fix::price px;
};

report read_report(client& cl, checker& ck) {
  REQUIRE(ck.until(cl, fix::msg_type::execution_report));
  fix::execution_report r;
  const fix::error e = fix::decode(cl.m, r);
  INFO(e.message());
  REQUIRE_FALSE(e);
  return {std::string(r.cl_ord_id), std::string(r.text), r.etype, r.status, r.sym, r.sd, r.last_qty, r.cum_qty,
          r.leaves_qty, r.last_px};
}

fix::new_order_single order(std::string_view id, std::string_view sym, fix::side sd, std::int64_t qty,
                            std::optional<fix::price> limit = std::nullopt) {
  fix::new_order_single o;
  o.cl_ord_id = id;
  o.sym = fix::symbol(sym);
  o.sd = sd;
  o.qty = qty;
  o.type = limit ? fix::ord_type::limit : fix::ord_type::market;
  o.limit_price = limit.value_or(0);
  o.transact_time_ns = fix::utc_now_ns();
  return o;
}

// The runtime's coroutines still alive besides the caller, once the finished ones are counted.
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

}  // namespace

TEST_CASE("exchange: logon, quotes as fast as the client reads, orders, test request, logout") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 100, .seed = 3, .rate = 0});
    ex.start();
    {
      client cl(ex.addr());
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      REQUIRE(cl.next());
      REQUIRE(cl.m.type() == fix::msg_type::logon);
      CHECK(cl.m.seq() == 1);
      fix::logon lg;
      REQUIRE_FALSE(fix::decode(cl.m, lg));
      CHECK(lg.heartbeat_interval_s == 30);

      const qf::universe u(100, 3);
      checker ck(u, 3);
      while (ck.quotes < 20000) {
        REQUIRE(cl.next());
        REQUIRE(cl.m.type() == fix::msg_type::quote);
        ck.check(cl.m);
      }

      // A market buy fills whole at the ask of the quotes sent before the report.
      const std::size_t aapl = *u.find("AAPL");
      cl.send(order("C1", "AAPL", fix::side::buy, 100));
      report r = read_report(cl, ck);
      CHECK(r.cl_ord_id == "C1");
      CHECK(r.etype == fix::exec_type::trade);
      CHECK(r.status == fix::ord_status::filled);
      CHECK(r.sym == fix::symbol("AAPL"));
      CHECK(r.qty == 100);
      CHECK(r.cum_qty == 100);
      CHECK(r.leaves_qty == 0);
      CHECK(r.px == ck.mk.ask(aapl));

      // A marketable limit sell fills at the bid; one far above it is rejected.
      const std::size_t xom = *u.find("XOM");
      cl.send(order("C2", "XOM", fix::side::sell, 300, fix::price_from_cents(1)));
      r = read_report(cl, ck);
      CHECK(r.cl_ord_id == "C2");
      CHECK(r.status == fix::ord_status::filled);
      CHECK(r.sd == fix::side::sell);
      CHECK(r.px == ck.mk.bid(xom));
      cl.send(order("C3", "XOM", fix::side::sell, 300, fix::price_from_cents(100'000'000)));
      r = read_report(cl, ck);
      CHECK(r.cl_ord_id == "C3");
      CHECK(r.etype == fix::exec_type::rejected);
      CHECK(r.status == fix::ord_status::rejected);
      CHECK(r.text.find("not marketable") != std::string::npos);
      cl.send(order("C4", "NOSUCH", fix::side::buy, 1));
      r = read_report(cl, ck);
      CHECK(r.cl_ord_id == "C4");
      CHECK(r.status == fix::ord_status::rejected);
      CHECK(r.text == "unknown symbol");

      // A TestRequest is answered with a Heartbeat carrying its id.
      cl.send(fix::test_request{"ping-1"});
      REQUIRE(ck.until(cl, fix::msg_type::heartbeat));
      fix::heartbeat hb;
      REQUIRE_FALSE(fix::decode(cl.m, hb));
      CHECK(hb.test_req_id == "ping-1");

      // Logout: a Logout back, then end of stream.
      cl.send(fix::logout{"done"});
      REQUIRE(ck.until(cl, fix::msg_type::logout));
      CHECK_FALSE(cl.next());
      CHECK(cl.fr.errors().total() == 0);
      MESSAGE("client: " << ck.quotes << " quotes checked");
    }
    ex.stop();
    const qf::exchange_stats s = ex.stats();
    CHECK(s.sessions_accepted == 1);
    CHECK(s.sessions_logged_on == 1);
    CHECK(s.sessions_active == 0);
    CHECK(s.orders == 4);
    CHECK(s.fills == 2);
    CHECK(s.rejects == 2);
    CHECK(s.quotes_sent >= 20000);
    CHECK(s.messages_received == 7);  // Logon, 4 orders, TestRequest, Logout
    CHECK(s.seq_gaps == 0);
    CHECK(s.errors.total() == 0);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: a paced rate, two sessions, each the same market") {
  const int rc = goro::run([] {
    constexpr double rate = 4000;
    constexpr std::uint64_t n = 600;
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 300, .seed = 9, .rate = rate});
    ex.start();
    const qf::universe u(300, 9);
    int ids = 0;
    auto session = [&ex, &u, &ids] {
      const std::string me = "CLIENT" + std::to_string(++ids);
      client cl(ex.addr(), me);
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      REQUIRE(cl.next());
      REQUIRE(cl.m.type() == fix::msg_type::logon);
      const auto t0 = steady::now();
      checker ck(u, 9, me);
      while (ck.quotes < n) {
        REQUIRE(cl.next());
        ck.check(cl.m);
      }
      const double secs = std::chrono::duration<double>(steady::now() - t0).count();
      cl.send(fix::logout{});
      REQUIRE(ck.until(cl, fix::msg_type::logout));
      return secs;
    };
    auto a = goro::spawn(session), b = goro::spawn(session);
    const double sa = a.get(), sb = b.get();
    MESSAGE(n << " quotes at " << rate << "/s: " << sa << " s and " << sb << " s");
    // Never faster than the rate: n quotes take at least n / rate seconds.
    CHECK(sa >= n / rate * 0.95);
    CHECK(sb >= n / rate * 0.95);
    CHECK(sa < 30);
    ex.stop();
    CHECK(ex.stats().sessions_accepted == 2);
    CHECK(ex.stats().errors.total() == 0);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: malformed input is counted and the session goes on") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 50, .seed = 1, .rate = 1000});
    ex.start();
    {
      client cl(ex.addr());
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      REQUIRE(cl.next());
      const qf::universe u(50, 1);
      checker ck(u, 1);

      std::string bad;
      auto encode_order = [&](std::string_view id) {
        bad.clear();
        fix::encode(bad, fix::header{"CLIENT", "EXCH", cl.seq++, fix::utc_now_ns()}, order(id, "AAPL", fix::side::buy, 5));
        return bad;
      };
      cl.c.write_all("this is not FIX\r\n");               // garbage
      std::string m = encode_order("BAD1");
      m[m.size() - 2] = m[m.size() - 2] == '9' ? '0' : '9';  // bad checksum
      cl.c.write_all(m);
      m = encode_order("BAD2");
      cl.c.write_all(std::string_view(m).substr(0, 50));     // truncated, a good one follows
      cl.send(order("GOOD", "AAPL", fix::side::buy, 5));
      // Messages 2 and 3 never arrived whole: a gap. The exchange asks for them and holds GOOD.
      REQUIRE(ck.until(cl, fix::msg_type::resend_request));
      fix::resend_request rr;
      REQUIRE_FALSE(fix::decode(cl.m, rr));
      CHECK(rr.begin_seq == 2);
      CHECK(rr.end_seq == 0);
      {
        fix::header h{"CLIENT", "EXCH", 2, fix::utc_now_ns()};
        h.poss_dup = true;
        h.orig_sending_time_ns = h.sending_time_ns;
        cl.out.clear();
        fix::encode(cl.out, h, fix::sequence_reset{.new_seq = 4, .gap_fill = true});
        cl.c.write_all(cl.out);
      }
      const report r = read_report(cl, ck);
      CHECK(r.cl_ord_id == "GOOD");
      CHECK(r.status == fix::ord_status::filled);
      // An order that does not decode (OrderQty 0) is counted and gets a session Reject naming
      // the field; the session goes on.
      cl.send(order("ZERO", "AAPL", fix::side::buy, 0));
      REQUIRE(ck.until(cl, fix::msg_type::reject));
      fix::reject rj;
      REQUIRE_FALSE(fix::decode(cl.m, rj));
      CHECK(rj.ref_seq == 5);
      CHECK(rj.ref_tag == fix::tag::order_qty);
      CHECK(rj.reason == fix::reject_reason::value_incorrect);
      cl.send(order("AFTER", "AAPL", fix::side::sell, 5));
      CHECK(read_report(cl, ck).cl_ord_id == "AFTER");
      cl.send(fix::logout{});
      REQUIRE(ck.until(cl, fix::msg_type::logout));
    }
    ex.stop();
    const auto s = ex.stats();
    CHECK(s.errors[fix::errc::garbage] == 1);
    CHECK(s.errors[fix::errc::bad_checksum] == 1);
    CHECK(s.errors[fix::errc::truncated] == 1);
    CHECK(s.errors[fix::errc::bad_value] == 1);
    CHECK(s.errors.total() == 4);
    CHECK(s.orders == 2);
    CHECK(s.seq_gaps == 1);  // the client's messages 2 and 3 never arrived whole
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: heartbeats when idle, and a TestRequest when the client is silent") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 20, .seed = 1, .rate = 0, .quote_limit = 5});
    ex.start();
    {
      client cl(ex.addr());
      cl.send(fix::logon{.heartbeat_interval_s = 1});
      REQUIRE(cl.next());
      const qf::universe u(20, 1);
      checker ck(u, 1);
      // Five quotes, then only heartbeats (1 s of silence), then a TestRequest (1.5 s of ours).
      bool heartbeat = false;
      for (;;) {
        REQUIRE(cl.next());
        ck.check(cl.m);
        if (cl.m.type() == fix::msg_type::heartbeat) heartbeat = true;
        if (cl.m.type() == fix::msg_type::test_request) break;
      }
      CHECK(ck.quotes == 5);
      CHECK(heartbeat);
      fix::test_request tr;
      REQUIRE_FALSE(fix::decode(cl.m, tr));
      cl.send(fix::heartbeat{tr.test_req_id});
      cl.send(fix::logout{});
      REQUIRE(ck.until(cl, fix::msg_type::logout));
    }
    ex.stop();
    const auto s = ex.stats();
    CHECK(s.quotes_sent == 5);
    CHECK(s.heartbeats_sent >= 1);
    CHECK(s.test_requests_sent == 1);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: no Logon first, or none in time: the connection is closed") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 20, .logon_timeout = 200ms});
    ex.start();
    {
      client cl(ex.addr());
      cl.send(fix::heartbeat{});
      CHECK_FALSE(cl.next());  // closed without a word
    }
    {
      const auto t0 = steady::now();  // before the exchange can have accepted the connection
      client cl(ex.addr());
      CHECK_FALSE(cl.next());
      CHECK(steady::now() - t0 >= 200ms);
    }
    ex.stop();
    CHECK(ex.stats().sessions_accepted == 2);
    CHECK(ex.stats().sessions_logged_on == 0);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: stop() logs every session out and joins everything") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 100, .seed = 2, .rate = 0});
    ex.start();
    const qf::universe u(100, 2);
    goro::wait_group started;
    started.add(3);
    std::atomic<int> ids{0};
    auto session = [&ex, &u, &started, &ids] {
      const std::string me = "CLIENT" + std::to_string(++ids);
      client cl(ex.addr(), me);
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      REQUIRE(cl.next());
      checker ck(u, 2, me);
      bool logout = false;
      std::string text;
      while (cl.next()) {
        ck.check(cl.m);
        if (ck.quotes == 1000) started.done();
        if (cl.m.type() == fix::msg_type::logout) {
          logout = true;
          fix::logout lo;
          REQUIRE_FALSE(fix::decode(cl.m, lo));
          text = lo.text;
        }
      }
      CHECK(cl.fr.errors().total() == 0);  // no message was cut in half
      CHECK(logout);
      CHECK(text == "exchange shutting down");
      return ck.quotes;
    };
    const std::string addr = ex.addr();
    auto a = goro::spawn(session), b = goro::spawn(session), c = goro::spawn(session);
    started.wait();
    ex.stop();  // with three clients reading as fast as they can
    CHECK(a.get() >= 1000);
    CHECK(b.get() >= 1000);
    CHECK(c.get() >= 1000);
    CHECK(ex.stats().sessions_active == 0);
    // A stopped exchange accepts nobody.
    std::error_code ec;
    goro::net::dial(addr, ec);
    CHECK(ec);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: a reconnect resumes the session's sequence numbers; starting over at 1 is too low") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 20, .seed = 1, .rate = 0, .quote_limit = 10});
    ex.start();
    const qf::universe u(20, 1);
    std::uint64_t our_next = 0, their_last = 0;
    {
      client cl(ex.addr(), "RECON");
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      checker ck(u, 1, "RECON");
      ck.want_seq = 1;
      while (ck.quotes < 10) {
        REQUIRE(cl.next());
        ck.check(cl.m);
      }
      their_last = ck.want_seq - 1;
      our_next = cl.seq;
    }  // the connection drops without a Logout
    // The exchange notices (end of stream) and frees the identity.
    for (int k = 0; k < 200 && ex.stats().sessions_active != 0; ++k) goro::sleep_for(5ms);
    {
      client cl(ex.addr(), "RECON");
      cl.seq = our_next;
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      REQUIRE(cl.next());
      CHECK(cl.m.type() == fix::msg_type::logon);
      CHECK(cl.m.seq() == their_last + 1);  // resumed, not 1
      cl.send(fix::logout{});
      while (cl.next() && cl.m.type() != fix::msg_type::logout) {
      }
    }
    for (int k = 0; k < 200 && ex.stats().sessions_active != 0; ++k) goro::sleep_for(5ms);
    {
      client cl(ex.addr(), "RECON");  // a client that forgot its numbers
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      bool logout = false;
      std::string text;
      while (cl.next()) {
        if (cl.m.type() == fix::msg_type::logout) {
          logout = true;
          fix::logout lo;
          REQUIRE_FALSE(fix::decode(cl.m, lo));
          text = lo.text;
        }
      }
      CHECK(logout);
      CHECK(text.find("MsgSeqNum too low, expecting") == 0);
    }
    ex.stop();
    CHECK(ex.stats().session.seq_too_low == 1);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}

TEST_CASE("exchange: a client that stops reading: quotes drop (counted), then the write deadline ends it") {
  const int rc = goro::run([] {
    qf::exchange ex({.listen = "127.0.0.1:0", .symbols = 50, .seed = 1, .rate = 50000,
                     .write_timeout = std::chrono::milliseconds(300)});
    ex.start();
    {
      client cl(ex.addr(), "SLOW");
      cl.send(fix::logon{.heartbeat_interval_s = 30});
      REQUIRE(cl.next());
      // Stop reading: the socket buffers fill, the exchange's write blocks, the deadline ends it.
      const auto t0 = steady::now();
      while (ex.stats().sessions_active != 0 && steady::now() - t0 < 20s) goro::sleep_for(20ms);
      CHECK(ex.stats().sessions_active == 0);
    }
    ex.stop();
    const auto s = ex.stats();
    MESSAGE("slow reader: " << s.quotes_sent << " quotes sent, " << s.slow_reader_drops << " dropped");
    CHECK(s.slow_reader_drops > 0);
    CHECK(s.session.slow_reader_drops == s.slow_reader_drops);
    CHECK(others_alive() == 0);
    return 0;
  });
  CHECK(rc == 0);
}
