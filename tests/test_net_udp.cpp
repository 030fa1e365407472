// goro::net UDP (net_udp.hpp): listen_udp, dial_udp, packet_conn over 127.0.0.1 and ::1.
//
// Loopback only, every socket on port 0, every test bounded by a watchdog; lower time bounds
// exact (a deadline never fires early), upper bounds generous. Loopback UDP does not lose
// datagrams while the receiver's buffer has room, and the tests keep far below it.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/net_udp.hpp>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "chan_support.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;
namespace net = goro::net;

namespace {

double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

// Echoes datagrams back to their senders until the socket is closed.
goro::join_handle<int> udp_echo(std::shared_ptr<net::packet_conn> srv) {
  return goro::spawn([srv] {
    char buf[2048];
    int n = 0;
    for (;;) {
      std::error_code ec;
      auto d = srv->read_from(buf, sizeof buf, ec);
      if (ec) return n;
      srv->write_to(buf, d.n, d.from, ec);
      if (ec) return n;
      ++n;
    }
  });
}

bool have_ipv6() {
  std::error_code ec;
  net::packet_conn p = net::listen_udp("[::1]:0", ec);
  return !ec;
}

}  // namespace

TEST_CASE("net_udp: dial_udp and an echo server round trip datagrams over 127.0.0.1") {
  watchdog wd("udp v4 round trips");
  int bad = 0, echoed = 0;
  std::string from_seen, client_local, server_local, client_remote;
  goro::run([&] {
    auto srv = std::make_shared<net::packet_conn>(net::listen_udp("127.0.0.1:0"));
    server_local = srv->local_addr();
    // The first datagram's sender, seen by the server before the echo loop starts.
    net::packet_conn c = net::dial_udp(server_local);
    client_local = c.local_addr();
    client_remote = c.remote_addr();
    c.write("hello", 5);
    char buf[64];
    auto d = srv->read_from(buf, sizeof buf);
    from_seen = d.from.to_string();
    CHECK(std::string(buf, d.n) == "hello");
    CHECK_FALSE(d.truncated);
    auto echo = udp_echo(srv);
    for (int i = 0; i < 200; ++i) {
      std::string msg = "datagram " + std::to_string(i);
      c.write(msg);
      std::size_t n = c.read(buf, sizeof buf);
      if (std::string(buf, n) != msg) ++bad;
    }
    srv->close();  // wakes the echo loop's parked read_from
    echoed = echo.get();
  });
  CHECK(bad == 0);
  CHECK(echoed == 200);
  CHECK(server_local.rfind("127.0.0.1:", 0) == 0);
  CHECK(client_remote == server_local);
  CHECK(from_seen == client_local);
}

TEST_CASE("net_udp: IPv6 loopback [::1], and unconnected sockets with read_from/write_to") {
  watchdog wd("udp v6");
  if (!have_ipv6()) {
    MESSAGE("no IPv6 loopback here: skipped");
    return;
  }
  std::string reply, reply_from, srv_addr;
  goro::run([&] {
    auto srv = std::make_shared<net::packet_conn>(net::listen_udp("[::1]:0"));
    srv_addr = srv->local_addr();
    auto echo = udp_echo(srv);
    net::packet_conn c = net::listen_udp("[::1]:0");  // unconnected: any peer
    const net::udp_addr to = net::udp_addr::resolve(srv_addr);
    CHECK(to.ip.is_v6());
    CHECK(to.ip.is_loopback());
    c.write_to("over v6", 7, to);
    char buf[32];
    auto d = c.read_from(buf, sizeof buf);
    reply.assign(buf, d.n);
    reply_from = d.from.to_string();
    CHECK(d.from == to);
    CHECK(c.remote_addr().empty());
    srv->close();
    (void)echo.get();
  });
  CHECK(srv_addr.rfind("[::1]:", 0) == 0);
  CHECK(reply == "over v6");
  CHECK(reply_from == srv_addr);
}

TEST_CASE("net_udp: a dual-stack socket (\":0\") takes IPv4 datagrams and answers them") {
  watchdog wd("udp dual stack");
  if (!have_ipv6()) {
    MESSAGE("no IPv6 here: skipped");
    return;
  }
  std::string from, back;
  goro::run([&] {
    auto srv = std::make_shared<net::packet_conn>(net::listen_udp(":0"));
    const auto port = srv->local_udp_addr().port;
    auto echo = udp_echo(srv);
    net::packet_conn c = net::dial_udp("127.0.0.1:" + std::to_string(port));
    c.write("v4", 2);
    char buf[8];
    back.assign(buf, c.read(buf, sizeof buf));
    // The sender as the server saw it prints as IPv4 (v4-mapped underneath), as Go's.
    net::packet_conn probe = net::listen_udp("127.0.0.1:0");
    probe.write_to("x", 1, net::udp_addr{net::ip_address::v4(127, 0, 0, 1), port});
    from = probe.read_from(buf, sizeof buf).from.to_string();
    srv->close();
    (void)echo.get();
  });
  CHECK(back == "v4");
  CHECK(from.rfind("127.0.0.1:", 0) == 0);
}

TEST_CASE("net_udp: a datagram longer than the buffer is truncated, the next one is whole") {
  watchdog wd("udp truncation");
  goro::run([&] {
    net::packet_conn srv = net::listen_udp("127.0.0.1:0");
    net::packet_conn c = net::dial_udp(srv.local_addr());
    std::string big(100, 'a'), small = "next";
    c.write(big);
    c.write(small);
    char buf[10];
    auto d = srv.read_from(buf, sizeof buf);
    CHECK(d.n == 10);
    CHECK(d.truncated);
    auto e = srv.read_from(buf, sizeof buf);
    CHECK(std::string(buf, e.n) == "next");
    CHECK_FALSE(e.truncated);
    // An empty datagram is one too.
    c.write("", 0);
    auto z = srv.read_from(buf, sizeof buf);
    CHECK(z.n == 0);
    CHECK(z.from.to_string() == c.local_addr());
  });
}

TEST_CASE("net_udp: a read deadline expires with io_timeout, not early, the socket stays usable") {
  watchdog wd("udp read deadline");
  std::error_code ec, past;
  double waited = 0;
  std::string after;
  goro::run([&] {
    net::packet_conn srv = net::listen_udp("127.0.0.1:0");
    const auto t0 = clk::now();
    srv.set_read_deadline(t0 + 50ms);
    char buf[8];
    auto d = srv.read_from(buf, sizeof buf, ec);
    waited = ms_since(t0);
    CHECK(d.n == 0);
    srv.read(buf, sizeof buf, past);  // a past deadline: at once
    srv.set_read_deadline({});
    net::packet_conn c = net::dial_udp(srv.local_addr());
    c.write("still ok", 8);
    after.assign(buf, srv.read(buf, sizeof buf));
  });
  CHECK(ec == goro::errc::io_timeout);
  CHECK(past == goro::errc::io_timeout);
  CHECK(waited >= 50.0);
  CHECK(waited < 5000.0);
  CHECK(after == "still ok");
}

TEST_CASE("net_udp: a deadline set while read_from waits applies to it") {
  watchdog wd("udp deadline while pending");
  std::error_code ec;
  double waited = 0;
  goro::run([&] {
    auto srv = std::make_shared<net::packet_conn>(net::listen_udp("127.0.0.1:0"));
    auto setter = goro::spawn([srv] {
      goro::sleep_for(20ms);
      srv->set_read_deadline(clk::now() + 30ms);
      return 0;
    });
    const auto t0 = clk::now();
    char buf[8];
    srv->read_from(buf, sizeof buf, ec);
    waited = ms_since(t0);
    (void)setter.get();
  });
  CHECK(ec == goro::errc::io_timeout);
  CHECK(waited >= 50.0);
  CHECK(waited < 5000.0);
}

TEST_CASE("net_udp: cancelling the context ends a parked read_from, a done context fails at once") {
  watchdog wd("udp context");
  std::error_code ec, again, wctx;
  double waited = 0;
  goro::run([&] {
    net::packet_conn srv = net::listen_udp("127.0.0.1:0");
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    auto canceller = goro::spawn([cancel = cancel] {
      goro::sleep_for(30ms);
      cancel();
      return 0;
    });
    const auto t0 = clk::now();
    char buf[8];
    srv.read_from(ctx, buf, sizeof buf, ec);
    waited = ms_since(t0);
    srv.read(ctx, buf, sizeof buf, again);
    srv.write_to(ctx, "x", 1, srv.local_udp_addr(), wctx);
    (void)canceller.get();
    auto [tctx, tcancel] = goro::with_timeout(goro::context::background(), 20ms);
    std::error_code dl;
    srv.read_from(tctx, buf, sizeof buf, dl);
    CHECK(dl == goro::errc::deadline_exceeded);
    tcancel();
  });
  CHECK(ec == goro::errc::canceled);
  CHECK(again == goro::errc::canceled);
  CHECK(wctx == goro::errc::canceled);
  CHECK(waited >= 30.0);
}

TEST_CASE(
    "net_udp: close() from a coroutine or a plain thread wakes a blocked reader with closed") {
  watchdog wd("udp close wakes");
  std::error_code r1, r2, after, wafter;
  std::string what;
  goro::run([&] {
    auto a = std::make_shared<net::packet_conn>(net::listen_udp("127.0.0.1:0"));
    auto b = std::make_shared<net::packet_conn>(net::listen_udp("127.0.0.1:0"));
    auto ra = goro::spawn([a, &r1] {
      char buf[8];
      return a->read_from(buf, sizeof buf, r1).n;
    });
    auto rb = goro::spawn([b, &r2] {
      char buf[8];
      return b->read(buf, sizeof buf, r2);
    });
    goro::sleep_for(20ms);
    a->close();
    std::thread t([b] { b->close(); });
    CHECK(ra.get() == 0);
    CHECK(rb.get() == 0);
    t.join();
    char buf[1];
    a->read_from(buf, 1, after);
    a->write_to("x", 1, b->local_udp_addr(), wafter);
    CHECK_FALSE(a->is_open());
    CHECK(a->native_handle() == -1);
    try {
      a->read(buf, 1);
    } catch (const std::system_error& e) {
      what = e.what();
    }
    a->close();  // idempotent
  });
  CHECK(r1 == goro::errc::closed);
  CHECK(r2 == goro::errc::closed);
  CHECK(after == goro::errc::closed);
  CHECK(wafter == goro::errc::closed);
  CHECK(goro_test::contains(what, "read udp 127.0.0.1:"));
  CHECK(goro_test::contains(what, "use of closed network connection"));
}

TEST_CASE("net_udp: a connected socket whose peer is gone reports connection_refused") {
  watchdog wd("udp refused");
  std::error_code ec;
  goro::run([&] {
    std::string dead;
    {
      net::packet_conn p = net::listen_udp("127.0.0.1:0");
      dead = p.local_addr();
    }  // closed: nobody on that port now
    net::packet_conn c = net::dial_udp(dead);
    c.set_read_deadline(clk::now() + 5s);
    c.write("anyone?", 7);
    char buf[8];
    c.read(buf, sizeof buf, ec);
  });
  CHECK(ec == std::errc::connection_refused);
}

TEST_CASE("net_udp: many senders on several coroutines, every datagram echoed to its sender") {
  watchdog wd("udp many");
  constexpr int clients = 8;
  const int per = goro_test::scaled(300);
  std::atomic<int> bad{0}, done{0};
  goro::run([&] {
    auto srv = std::make_shared<net::packet_conn>(net::listen_udp("127.0.0.1:0"));
    auto echo = udp_echo(srv);
    std::vector<goro::join_handle<int>> hs;
    for (int k = 0; k < clients; ++k) {
      hs.push_back(goro::spawn([&, k] {
        net::packet_conn c = net::dial_udp(srv->local_addr());
        c.set_read_deadline(clk::now() + 20s);  // a lost datagram fails the test, not hangs it
        char buf[64];
        for (int i = 0; i < per; ++i) {
          std::string msg = std::to_string(k) + ":" + std::to_string(i);
          c.write(msg);
          std::error_code ec;
          std::size_t n = c.read(buf, sizeof buf, ec);
          if (ec || std::string(buf, n) != msg) {
            ++bad;
            return 0;
          }
        }
        ++done;
        return 0;
      }));
    }
    for (auto& h : hs) (void)h.get();
    srv->close();
    (void)echo.get();
  });
  CHECK(bad.load() == 0);
  CHECK(done.load() == clients);
}

TEST_CASE("net_udp: bad input and misuse are clear errors") {
  watchdog wd("udp errors");
  std::error_code bad_addr, too_big, no_dest;
  std::string listen_what, plain_what;
  goro::run([&] {
    net::listen_udp("127.0.0.1", bad_addr);  // no port
    try {
      net::listen_udp("[::1:0");
    } catch (const std::system_error& e) {
      listen_what = e.what();
    }
    net::packet_conn srv = net::listen_udp("127.0.0.1:0");
    std::string huge(70000, 'x');
    srv.write_to(huge.data(), huge.size(), srv.local_udp_addr(), too_big);
    srv.write("x", 1, no_dest);  // not connected
    net::packet_conn none;
    std::error_code ec;
    char b[1];
    none.read(b, 1, ec);
    CHECK(ec == goro::errc::closed);
    CHECK_FALSE(none.is_open());
    // Buffer sizes read back (the kernel doubles what it is given).
    srv.set_read_buffer(64 * 1024);
    srv.set_write_buffer(32 * 1024);
    int v = 0;
    socklen_t len = sizeof v;
    ::getsockopt(srv.native_handle(), SOL_SOCKET, SO_RCVBUF, &v, &len);
    CHECK(v >= 64 * 1024);
    ::getsockopt(srv.native_handle(), SOL_SOCKET, SO_SNDBUF, &v, &len);
    CHECK(v >= 32 * 1024);
  });
  CHECK(bad_addr == std::errc::invalid_argument);
  CHECK(goro_test::contains(listen_what, "listen udp [::1:0"));
  CHECK(too_big == std::errc::message_size);
  CHECK(no_dest == std::errc::destination_address_required);
  // From a plain thread: opening works (nothing parks), reading does not.
  net::packet_conn p = net::listen_udp("127.0.0.1:0");
  char b[1];
  try {
    p.read(b, 1);
  } catch (const std::logic_error& e) {
    plain_what = e.what();
  }
  CHECK(goro_test::contains(plain_what, "must be called from a coroutine"));
}

TEST_CASE("net_udp: ip_address and udp_addr parse, print and compare") {
  auto a = net::ip_address::parse("127.0.0.1");
  CHECK(a.is_v4());
  CHECK(a.is_loopback());
  CHECK(a == net::ip_address::v4(127, 0, 0, 1));
  CHECK(a.size() == 4);
  auto b = net::ip_address::parse("::1");
  CHECK(b.is_v6());
  CHECK(b.is_loopback());
  CHECK(b.to_string() == "::1");
  CHECK(net::ip_address::parse("::").is_unspecified());
  CHECK(net::ip_address::parse("0.0.0.0").is_unspecified());
  CHECK_FALSE(net::ip_address().is_valid());
  CHECK_THROWS_AS(net::ip_address::parse("localhost"), std::invalid_argument);
  net::ip_address out;
  CHECK_FALSE(net::ip_address::try_parse("1.2.3", out));
  CHECK(net::udp_addr{b, 53}.to_string() == "[::1]:53");
  CHECK(net::udp_addr::resolve("10.1.2.3:99").to_string() == "10.1.2.3:99");
  CHECK(net::udp_addr::resolve("localhost:7").to_string() == "127.0.0.1:7");
  std::error_code ec;
  net::udp_addr::resolve("1.2.3.4", ec);
  CHECK(ec == std::errc::invalid_argument);
  CHECK_THROWS_AS(net::udp_addr::resolve("1.2.3.4:99999"), std::system_error);
}
