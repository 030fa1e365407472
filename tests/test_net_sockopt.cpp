// Socket options on goro::net's TCP types (conn::set_no_delay, set_keep_alive,
// set_keep_alive_period, set_read_buffer, set_write_buffer; listen_config's reuse_port,
// keep_alive and buffers), each read back with getsockopt. Loopback only, watchdogs.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/net.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <system_error>

#include "chan_support.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;
namespace net = goro::net;

namespace {
int opt(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  if (::getsockopt(fd, level, name, &v, &len) != 0) return -100;
  return v;
}
}  // namespace

TEST_CASE("net_sockopt: conn options read back with getsockopt") {
  watchdog wd("sockopt conn");
  goro::run([&] {
    auto ln = net::listen("127.0.0.1:0");
    net::conn c = net::dial(ln.addr());
    net::conn s = ln.accept();
    const int fd = c.native_handle();
    CHECK(opt(fd, IPPROTO_TCP, TCP_NODELAY) != 0);  // Go's default: on
    CHECK(opt(s.native_handle(), IPPROTO_TCP, TCP_NODELAY) != 0);
    c.set_no_delay(false);
    CHECK(opt(fd, IPPROTO_TCP, TCP_NODELAY) == 0);
    c.set_no_delay(true);
    CHECK(opt(fd, IPPROTO_TCP, TCP_NODELAY) != 0);
    c.set_keep_alive(true);
    CHECK(opt(fd, SOL_SOCKET, SO_KEEPALIVE) != 0);
    c.set_keep_alive_period(42s);
    CHECK(opt(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 42);
    CHECK(opt(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 42);
    c.set_keep_alive(false);
    CHECK(opt(fd, SOL_SOCKET, SO_KEEPALIVE) == 0);
    c.set_read_buffer(96 * 1024);
    c.set_write_buffer(80 * 1024);
    CHECK(opt(fd, SOL_SOCKET, SO_RCVBUF) >= 96 * 1024);
    CHECK(opt(fd, SOL_SOCKET, SO_SNDBUF) >= 80 * 1024);
    // Still a working connection.
    c.write_all("ok");
    char b[2];
    s.read_full(b, 2);
    CHECK(std::string(b, 2) == "ok");
    // Bad values and closed connections are error values.
    std::error_code bad, closed_ec;
    c.set_read_buffer(0, bad);
    CHECK(bad == std::errc::invalid_argument);
    c.set_keep_alive_period(0s, bad);
    CHECK(bad == std::errc::invalid_argument);
    c.close();
    c.set_no_delay(false, closed_ec);
    CHECK(closed_ec == goro::errc::closed);
    CHECK_THROWS_AS(c.set_keep_alive(true), std::system_error);
  });
}

TEST_CASE(
    "net_sockopt: listen_config: reuse_port lets two listeners share a port, keep-alive and "
    "buffers reach accepted connections") {
  watchdog wd("sockopt listen_config");
  int ka = -1, idle = -1, rcv = -1, reuse = -1;
  std::error_code second_plain;
  int served = 0;
  goro::run([&] {
    net::listen_config lc;
    lc.reuse_port = true;
    lc.keep_alive = 30s;
    lc.read_buffer = 128 * 1024;
    net::listener a = lc.listen("tcp", "127.0.0.1:0");
    reuse = opt(a.native_handle(), SOL_SOCKET, SO_REUSEPORT);
    const std::string addr = a.addr();
    net::listener b = lc.listen("tcp", addr);  // same port, both with SO_REUSEPORT
    CHECK(b.port() == a.port());
    net::listen(addr, second_plain);  // without it: address in use
    // Connections go to one or the other; accept from both until each dial is taken.
    goro::chan<int> got(16);
    auto acc = [got](net::listener* l) {
      return goro::spawn([l, got]() mutable {
        std::error_code ec;
        for (;;) {
          net::conn s = l->accept(ec);
          if (ec) return 0;
          const int fd = s.native_handle();
          got.send(opt(fd, SOL_SOCKET, SO_KEEPALIVE) != 0 ? opt(fd, IPPROTO_TCP, TCP_KEEPIDLE)
                                                          : -1);
          got.send(opt(fd, SOL_SOCKET, SO_RCVBUF));
        }
      });
    };
    auto ha = acc(&a), hb = acc(&b);
    std::vector<net::conn> cs;
    for (int i = 0; i < 4; ++i) cs.push_back(net::dial(addr));
    for (int i = 0; i < 4; ++i) {
      idle = *got.recv();
      rcv = *got.recv();
      ka = idle > 0 ? 1 : 0;
      if (idle == 30 && rcv >= 128 * 1024) ++served;
    }
    a.close();
    b.close();
    (void)ha.get();
    (void)hb.get();
  });
  CHECK(reuse != 0);
  CHECK(second_plain == std::errc::address_in_use);
  CHECK(ka == 1);
  CHECK(served == 4);
}

TEST_CASE(
    "net_sockopt: plain listen keeps Go's defaults: keep-alive 15 s on accepted connections, "
    "keep_alive 0 turns it off") {
  watchdog wd("sockopt defaults");
  int idle = -1, off = -1;
  goro::run([&] {
    net::listener ln = net::listen("127.0.0.1:0");
    net::conn c = net::dial(ln.addr());
    net::conn s = ln.accept();
    if (opt(s.native_handle(), SOL_SOCKET, SO_KEEPALIVE) != 0)
      idle = opt(s.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE);
    net::listen_config lc;
    lc.keep_alive = 0s;
    net::listener l2 = lc.listen("tcp", "127.0.0.1:0");
    net::conn c2 = net::dial(l2.addr());
    net::conn s2 = l2.accept();
    off = opt(s2.native_handle(), SOL_SOCKET, SO_KEEPALIVE);
  });
  CHECK(idle == 15);
  CHECK(off == 0);
}
