// goro::blocking: calls without an asynchronous form run on the pool while the caller parks.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "chan_support.hpp"

using namespace std::chrono_literals;

TEST_CASE("blocking: other coroutines keep running on the only worker while a call blocks") {
  goro_test::watchdog wd("blocking: does not stall");
  goro::run(goro::options{.workers = 1}, [] {
    std::atomic<bool> in_call{false}, call_done{false};
    std::atomic<long> ticks_during{0};
    auto h = goro::spawn([&] {  // joined below
      return goro::blocking([&] {
        in_call = true;
        std::this_thread::sleep_for(100ms);  // a real blocking call: the worker must not be in it
        call_done = true;
        return std::string("resolved");
      });
    });
    // This coroutine shares the one worker with the caller: it runs only if the caller parked.
    while (!in_call) goro::yield();
    while (!call_done) {
      ++ticks_during;
      goro::yield();
    }
    CHECK(h.get() == "resolved");
    CHECK(ticks_during.load() > 100);
  });
}

TEST_CASE("blocking: an exception in the call reaches the caller") {
  goro::run([] {
    CHECK_THROWS_WITH_AS(goro::blocking([] { throw std::runtime_error("no such host"); }),
                         "no such host", std::runtime_error);
    // The pool survives a throwing job.
    CHECK(goro::blocking([](int a, int b) { return a + b; }, 2, 3) == 5);
  });
}

TEST_CASE("blocking: calls run in parallel on the pool, results and references intact") {
  goro_test::watchdog wd("blocking: parallel");
  goro::run(goro::options{.workers = 2}, [] {
    constexpr int n = 16;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<goro::join_handle<int>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(goro::spawn([i] {
        return goro::blocking([i] {
          std::this_thread::sleep_for(50ms);
          return i * i;
        });
      }));
    int sum = 0;
    for (auto& h : hs) sum += h.get();
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(sum == 1240);  // 0^2 + ... + 15^2
    // Serially 16 x 50 ms = 800 ms; on the pool, well under that even on a loaded machine.
    CHECK(took < 600ms);

    // Move-only results, void results, and a reference result to the caller's object.
    auto p = goro::blocking([] { return std::make_unique<int>(7); });
    CHECK(*p == 7);
    int target = 0;
    goro::blocking([&target] { target = 9; });
    CHECK(target == 9);
    int& ref = goro::blocking([&target]() -> int& { return target; });
    CHECK(&ref == &target);
  });
}

TEST_CASE("blocking: on a plain thread the call runs right there") {
  std::thread::id ran_on;
  int r = goro::blocking([&] {
    ran_on = std::this_thread::get_id();
    return 1;
  });
  CHECK(r == 1);
  CHECK(ran_on == std::this_thread::get_id());
}
