// Porting calls of Go's time package: AfterFunc (goro::after_func, goro::func_timer).
// Timing rules are test_time.cpp's: never early (exact lower bounds), generous upper bounds.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::let_others_run;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;

TEST_CASE("porting: after_func runs f in its own coroutine, not early") {
  watchdog wd("after_func");
  goro::run([] {
    goro::chan<std::uint64_t> ran(1);
    const auto t0 = clk::now();
    goro::after_func(20ms, [ran]() mutable { ran.send(goro::this_coroutine::id()); });  // handle dropped: still runs
    std::optional<std::uint64_t> id;
    goro::select(goro::on_recv(ran, [&](std::optional<std::uint64_t> v) { id = v; }),
                 goro::on_recv(goro::after(5s)));
    REQUIRE(id.has_value());
    CHECK(clk::now() - t0 >= 20ms);
    CHECK(*id != 0);
    CHECK(*id != goro::this_coroutine::id());
    // A non-positive duration runs it soon.
    std::atomic<int> n{0};
    goro::after_func(-1s, [&n] { n.fetch_add(1); });
    goro::after_func(0s, [&n] { n.fetch_add(1); });
    CHECK(eventually([&] { return n.load() == 2; }));
  });
}

TEST_CASE("porting: after_func stop prevents the call, reset re-arms it") {
  watchdog wd("after_func stop");
  goro::run([] {
    auto n = std::make_shared<std::atomic<int>>(0);
    goro::func_timer t = goro::after_func(30ms, [n] { n->fetch_add(1); });
    CHECK(t.stop());        // prevented
    CHECK_FALSE(t.stop());  // already stopped
    goro::sleep_for(60ms);
    CHECK(n->load() == 0);

    // reset of a stopped timer: false, and it runs after the new duration.
    const auto t0 = clk::now();
    CHECK_FALSE(t.reset(10ms));
    CHECK(eventually([&] { return n->load() == 1; }));
    CHECK(clk::now() - t0 >= 10ms);
    CHECK_FALSE(t.stop());  // it has run

    // reset of an armed timer: true, and the pending call is replaced, not added to.
    goro::func_timer u = goro::after_func(1h, [n] { n->fetch_add(10); });
    goro::func_timer copy = u;  // copies control the same timer
    CHECK(copy.reset(5ms));
    CHECK(eventually([&] { return n->load() == 11; }));
    let_others_run();
    CHECK(n->load() == 11);
    // After it has run, reset arms a new call.
    CHECK_FALSE(u.reset(1ms));
    CHECK(eventually([&] { return n->load() == 21; }));
    // Stop from a plain thread.
    goro::func_timer v = goro::after_func(1h, [n] { n->fetch_add(100); });
    bool stopped = false;
    std::thread th([&] { stopped = v.stop(); });
    th.join();
    CHECK(stopped);
  });
}

TEST_CASE("porting: after_func racing stop and fire: exactly one of them wins") {
  watchdog wd("after_func race");
  goro::run([] {
    constexpr int rounds = goro_test::scaled(2000);
    auto ran = std::make_shared<std::atomic<int>>(0);
    int stopped = 0;
    for (int i = 0; i < rounds; ++i) {
      goro::func_timer t = goro::after_func(std::chrono::microseconds(i % 50), [ran] { ran->fetch_add(1); });
      if (i % 3 == 0) goro::yield();
      if (t.stop()) ++stopped;
    }
    CHECK(eventually([&] { return ran->load() + stopped == rounds; }));
    let_others_run();
    CHECK(ran->load() + stopped == rounds);
  });
}

TEST_CASE("porting: after_func needs a running runtime") {
  CHECK_THROWS_AS(goro::after_func(1s, [] {}), std::logic_error);
}
