// goro::net Unix-domain stream sockets: listen("unix", path) / dial("unix", path), abstract
// "@names", the socket file removed on close; and the network-named listen/dial for TCP.
//
// Every socket file lives in a fresh temporary directory removed at the end; every test bounded
// by a watchdog.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/net.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <system_error>

#include "chan_support.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;
namespace net = goro::net;

namespace {

// A fresh directory under $TMPDIR (or /tmp), removed with what is left in it.
struct temp_dir {
  std::string path;
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string t = std::string(base && *base ? base : "/tmp") + "/goro_unix_XXXXXX";
    if (::mkdtemp(t.data())) path = t;
  }
  ~temp_dir() {
    if (!path.empty()) (void)std::system(("rm -rf '" + path + "'").c_str());
  }
};

bool exists(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

bool is_socket(const std::string& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// Accepts one connection and echoes it until end of stream.
goro::join_handle<int> serve_one(net::listener& ln) {
  return goro::spawn([&ln] {
    net::conn c = ln.accept();
    char buf[256];
    int n = 0;
    std::error_code ec;
    for (;;) {
      std::size_t k = c.read(buf, sizeof buf, ec);
      if (ec || k == 0) return n;
      c.write_all(buf, k);
      ++n;
    }
  });
}

}  // namespace

TEST_CASE("net_unix: listen and dial a socket file, echo, the file removed on close") {
  watchdog wd("unix file");
  temp_dir dir;
  REQUIRE_FALSE(dir.path.empty());
  const std::string path = dir.path + "/echo.sock";
  bool was_socket = false, gone = false;
  std::string laddr, raddr, srv_local, back;
  goro::run([&] {
    net::listener ln = net::listen("unix", path);
    was_socket = is_socket(path);
    CHECK(ln.addr() == path);
    CHECK(ln.port() == 0);
    auto srv = serve_one(ln);
    net::conn c = net::dial("unix", path);
    laddr = c.local_addr();
    raddr = c.remote_addr();
    for (int i = 0; i < 50; ++i) {
      std::string msg = "unix " + std::to_string(i);
      c.write_all(msg);
      std::string got(msg.size(), '\0');
      c.read_full(got.data(), got.size());
      if (got != msg) back = got;
    }
    c.write_all("end");
    char b[3];
    c.read_full(b, 3);
    back += std::string(b, 3);
    c.close();
    CHECK(srv.get() == 51);
    ln.close();
    gone = !exists(path);
  });
  CHECK(was_socket);
  CHECK(gone);
  CHECK(laddr.empty());  // an unnamed client socket, as Go's
  CHECK(raddr == path);
  CHECK(back == "end");
}

TEST_CASE("net_unix: abstract names (@name) need no file, close wakes accept and read") {
  watchdog wd("unix abstract");
  const std::string name = "@goro-test-" + std::to_string(::getpid()) + "-" +
                           std::to_string(clk::now().time_since_epoch().count());
  std::string back, accepted_local;
  std::error_code accept_ec, read_ec, again;
  goro::run([&] {
    auto ln = std::make_shared<net::listener>(net::listen("unix", name));
    CHECK(ln->addr() == name);
    // The name is taken while the listener lives.
    net::listen("unix", name, again);
    goro::chan<int> hold;  // the server keeps its end open until the test is done with it
    auto srv = goro::spawn([ln, &accepted_local, hold]() mutable {
      net::conn c = ln->accept();
      accepted_local = c.local_addr();
      char b[4];
      c.read_full(b, 4);
      c.write_all(b, 4);
      (void)hold.recv();
      return 0;
    });
    net::conn c = net::dial("unix", name);
    c.write_all("abst");
    char b[4];
    c.read_full(b, 4);
    back.assign(b, 4);
    // A parked accept and a parked read end with closed.
    auto acc = goro::spawn([ln, &accept_ec] { return ln->accept(accept_ec).is_open(); });
    auto cp = std::make_shared<net::conn>(std::move(c));
    auto rd = goro::spawn([cp, &read_ec] {
      char x[1];
      return cp->read(x, 1, read_ec);
    });
    goro::sleep_for(20ms);
    ln->close();
    cp->close();
    CHECK_FALSE(acc.get());
    CHECK(rd.get() == 0);
    hold.close();
    (void)srv.get();
    // The name is free again once closed.
    net::listener again_ln = net::listen("unix", name);
    CHECK(again_ln.is_open());
  });
  CHECK(again == std::errc::address_in_use);
  CHECK(back == "abst");
  CHECK(accepted_local == name);
  CHECK(accept_ec == goro::errc::closed);
  CHECK(read_ec == goro::errc::closed);
}

TEST_CASE("net_unix: errors: file exists, no listener, path too long, deadline, context") {
  watchdog wd("unix errors");
  temp_dir dir;
  REQUIRE_FALSE(dir.path.empty());
  const std::string path = dir.path + "/s";
  std::error_code in_use, refused, missing, too_long, empty, timeout, ctx_ec, unknown;
  std::string what, udp_what;
  bool kept = false;
  goro::run([&] {
    {
      net::listener ln = net::listen("unix", path);
      net::listen("unix", path, in_use);  // Go: bind: address already in use
      kept = is_socket(path);             // the failed listen did not remove the first one's file
      net::conn c = net::dial("unix", path);
      // No server reads: a read deadline ends the wait.
      net::conn s = ln.accept();
      s.set_read_deadline(clk::now() + 30ms);
      char b[1];
      s.read(b, 1, timeout);
      s.set_read_deadline({});
      auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 20ms);
      s.read(ctx, b, 1, ctx_ec);
      cancel();
    }
    // A file that is not a listening socket: connection refused; no file at all: no such file.
    {
      FILE* f = std::fopen((dir.path + "/plain").c_str(), "w");
      if (f) std::fclose(f);
    }
    net::dial("unix", dir.path + "/missing", missing);
    net::dial("unix", std::string(200, 'x'), too_long);
    net::dial("unix", "", empty);
    net::listen("unixgram", path, unknown);
    try {
      net::dial("unix", dir.path + "/missing");
    } catch (const std::system_error& e) {
      what = e.what();
    }
    try {
      net::dial("udp", "127.0.0.1:1");
    } catch (const std::system_error& e) {
      udp_what = e.what();
    }
  });
  CHECK(in_use == std::errc::address_in_use);
  CHECK(kept);
  CHECK(missing == std::errc::no_such_file_or_directory);
  CHECK(too_long == std::errc::filename_too_long);
  CHECK(empty == std::errc::invalid_argument);
  CHECK(unknown == std::errc::invalid_argument);
  CHECK(timeout == goro::errc::io_timeout);
  CHECK(ctx_ec == goro::errc::deadline_exceeded);
  CHECK(goro_test::contains(what, "dial unix " + dir.path + "/missing"));
  CHECK(goro_test::contains(udp_what, "dial_udp"));
  CHECK_THROWS_AS(net::dial("unix", "/nonexistent"), std::logic_error);  // plain thread
}

TEST_CASE("net_unix: the network-named TCP spellings: tcp, tcp4, tcp6") {
  watchdog wd("network tcp");
  std::error_code fam, fam6;
  std::string a4, back;
  goro::run([&] {
    net::listener l4 = net::listen("tcp4", ":0");
    a4 = l4.addr();
    auto srv = serve_one(l4);
    net::conn c = net::dial("tcp4", "127.0.0.1:" + std::to_string(l4.port()));
    c.write_all("t4");
    char b[2];
    c.read_full(b, 2);
    back.assign(b, 2);
    c.close();
    (void)srv.get();
    net::listen("tcp4", "[::1]:0", fam);
    net::dial("tcp6", "127.0.0.1:1", fam6);
    std::error_code v6;
    net::listener l6 = net::listen("tcp6", "[::1]:0", v6);
    if (!v6) {
      auto s6 = serve_one(l6);
      net::conn c6 = net::dial("tcp", l6.addr());
      c6.write_all("66");
      c6.read_full(b, 2);
      CHECK(std::string(b, 2) == "66");
      c6.close();
      (void)s6.get();
    }
  });
  CHECK(a4.rfind("0.0.0.0:", 0) == 0);
  CHECK(back == "t4");
  CHECK(fam == std::errc::address_family_not_supported);
  CHECK(fam6 == std::errc::address_family_not_supported);
}
