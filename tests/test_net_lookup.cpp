// goro::net::lookup_host / lookup_ip (net_lookup.hpp): localhost from /etc/hosts, literals, and
// names that must fail without any network (malformed, the reserved .invalid domain).
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/net_lookup.hpp>

#include <algorithm>
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
bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

TEST_CASE("net_lookup: localhost resolves to a loopback address, literals to themselves") {
  watchdog wd("lookup localhost");
  std::vector<std::string> local, lit4, lit6;
  std::vector<net::ip_address> ips;
  goro::run([&] {
    local = net::lookup_host("localhost");
    ips = net::lookup_ip("localhost");
    lit4 = net::lookup_host("192.0.2.7");
    lit6 = net::lookup_host("::1");
  });
  CHECK_FALSE(local.empty());
  CHECK((has(local, "127.0.0.1") || has(local, "::1")));
  REQUIRE_FALSE(ips.empty());
  CHECK(std::all_of(ips.begin(), ips.end(),
                    [](const net::ip_address& a) { return a.is_loopback(); }));
  CHECK(lit4 == std::vector<std::string>{"192.0.2.7"});
  CHECK(lit6 == std::vector<std::string>{"::1"});
  // No duplicates.
  auto sorted = local;
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

TEST_CASE("net_lookup: impossible names fail at once with no_such_host, naming the host") {
  watchdog wd("lookup invalid");
  std::error_code inv, sub, empty, bad, label;
  std::string what;
  double ms = 0;
  goro::run([&] {
    const auto t0 = clk::now();
    net::lookup_host("no-such-host.invalid", inv);
    net::lookup_ip("a.b.INVALID.", sub);
    net::lookup_host("", empty);
    net::lookup_host("bad host!", bad);
    net::lookup_host(std::string(64, 'a') + ".com", label);
    ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
    try {
      net::lookup_host("no-such-host.invalid");
    } catch (const std::system_error& e) {
      what = e.what();
    }
  });
  CHECK(inv == net::resolver_errc::no_such_host);
  CHECK(sub == net::resolver_errc::no_such_host);
  CHECK(empty == net::resolver_errc::no_such_host);
  CHECK(bad == net::resolver_errc::no_such_host);
  CHECK(label == net::resolver_errc::no_such_host);
  CHECK(ms < 1000.0);  // no query was sent
  CHECK(what == "goro::net: lookup no-such-host.invalid: no such host");
  CHECK(std::error_code(net::resolver_errc::temporary_failure).message() ==
        "temporary failure in name resolution");
}

TEST_CASE("net_lookup: a done context fails at once, plain threads may look up too") {
  watchdog wd("lookup ctx");
  std::error_code ec, ok_ec;
  std::vector<std::string> with_ctx;
  goro::run([&] {
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    cancel();
    net::lookup_host(ctx, "localhost", ec);
    auto [live, stop] = goro::with_timeout(goro::context::background(), 10s);
    with_ctx = net::lookup_host(live, "localhost", ok_ec);
    stop();
  });
  CHECK(ec == goro::errc::canceled);
  CHECK_FALSE(ok_ec);
  CHECK_FALSE(with_ctx.empty());
  // Outside goro::run: getaddrinfo runs on the calling thread.
  auto plain = net::lookup_host("localhost");
  CHECK_FALSE(plain.empty());
  std::error_code pe;
  net::lookup_ip("x.invalid", pe);
  CHECK(pe == net::resolver_errc::no_such_host);
}

TEST_CASE(
    "net_lookup: a context ends a lookup still queued on a busy pool, the job finishes alone") {
  watchdog wd("lookup abandoned");
  std::error_code ec;
  double ms = 0;
  std::vector<std::string> later;
  goro::run([&] {
    // Occupy every pool thread (at most 64) so the lookup waits in the queue.
    std::atomic<bool> release{false};
    std::atomic<int> busy{0};
    std::vector<goro::join_handle<int>> hs;
    for (int i = 0; i < 64; ++i)
      hs.push_back(goro::spawn([&] {
        return goro::blocking([&] {
          ++busy;
          while (!release.load()) std::this_thread::sleep_for(1ms);
          return 0;
        });
      }));
    REQUIRE(goro_test::eventually([&] { return busy.load() == 64; }));
    const auto t0 = clk::now();  // before the deadline is set: it counts from its creation
    auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 40ms);
    net::lookup_host(ctx, "localhost", ec);
    ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
    cancel();
    release = true;
    for (auto& h : hs) (void)h.get();
    later = net::lookup_host("localhost");  // the pool works on
  });
  CHECK(ec == goro::errc::deadline_exceeded);
  CHECK(ms >= 40.0);
  CHECK(ms < 5000.0);
  CHECK_FALSE(later.empty());
}

TEST_CASE("net_lookup: the context overloads from a plain thread") {
  watchdog wd("lookup plain ctx");
  auto [ctx, cancel] = goro::with_cancel(goro::context::background());
  std::error_code ec;
  auto r = net::lookup_ip(ctx, "localhost", ec);
  cancel();
  CHECK_FALSE(ec);
  CHECK_FALSE(r.empty());
  std::error_code done_ec;
  net::lookup_host(ctx, "localhost", done_ec);  // cancelled now
  CHECK(done_ec == goro::errc::canceled);
}
