// Porting calls of Go's runtime package: NumGoroutine.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/goroutine.hpp>

#include <chrono>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::watchdog;

TEST_CASE("porting: num_goroutine counts live coroutines, main included") {
  CHECK(goro::num_goroutine() == 0);  // no runtime
  watchdog wd("num_goroutine");
  goro::run([] {
    CHECK(eventually([] { return goro::num_goroutine() == 1; }));
    goro::chan<int> gate;
    constexpr int n = 50;
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([gate, &wg]() mutable {
        wg.done();
        gate.recv();  // parked ones count
      });
    wg.wait();
    CHECK(goro::num_goroutine() == n + 1);
    gate.close();
    CHECK(eventually([] { return goro::num_goroutine() == 1; }));
  });
  CHECK(goro::num_goroutine() == 0);
}
