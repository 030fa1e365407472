// Porting calls of Go's sync and x/sync: weighted_semaphore (semaphore.Weighted), the timed waits
// (try_lock_for, condition_variable::wait_for/until, semaphore::try_acquire_for/until) and the
// context-aware waits (mutex::lock(ctx), wait_group::wait(ctx)).
// Timing rules are test_time.cpp's: never early (exact lower bounds), generous upper bounds.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::let_others_run;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;

namespace {
const std::error_code canceled = goro::errc::canceled;
const std::error_code deadline_exceeded = goro::errc::deadline_exceeded;
}  // namespace

// ==== weighted_semaphore ========================================================================

TEST_CASE("porting: weighted_semaphore try_acquire, release, errors") {
  goro::weighted_semaphore s(10);
  CHECK(s.size() == 10);
  CHECK(s.try_acquire(4));
  CHECK(s.try_acquire(6));
  CHECK_FALSE(s.try_acquire(1));
  CHECK(s.try_acquire(0));
  CHECK(s.held() == 10);
  s.release(5);
  CHECK(s.held() == 5);
  CHECK_FALSE(s.try_acquire(11));
  CHECK_THROWS_AS(s.release(6), std::logic_error);  // more than held: nothing released
  CHECK(s.held() == 5);
  try {
    s.release(6);
  } catch (const std::logic_error& e) {
    CHECK(std::string(e.what()).find("released more than held") != std::string::npos);
  }
  CHECK_THROWS_AS(s.release(-1), std::invalid_argument);
  CHECK_THROWS_AS(s.try_acquire(-1), std::invalid_argument);
  CHECK_THROWS_AS(goro::weighted_semaphore(-1), std::invalid_argument);
  s.release(5);
  CHECK(s.held() == 0);
  // acquire on a plain thread, no runtime: free units need no wait.
  CHECK_FALSE(s.acquire(goro::context(), 10));
  s.release(10);
}

TEST_CASE("porting: weighted_semaphore FIFO: a large head waiter blocks smaller ones behind it") {
  watchdog wd("weighted fifo");
  goro::run([] {
    goro::weighted_semaphore s(10);
    REQUIRE(s.try_acquire(8));
    std::vector<int> order;
    goro::mutex mu;
    goro::wait_group wg;
    wg.add(2);
    goro::go([&] {  // needs 5: waits (2 free)
      CHECK_FALSE(s.acquire(goro::context(), 5));
      {
        std::lock_guard g(mu);
        order.push_back(5);
      }
      wg.done();
    });
    CHECK(eventually([&] { return !s.try_acquire(0); }));  // it is queued (0 fails behind it)
    goro::go([&] {  // needs 1: fits, but queues behind the 5
      CHECK_FALSE(s.acquire(goro::context(), 1));
      {
        std::lock_guard g(mu);
        order.push_back(1);
      }
      wg.done();
    });
    let_others_run();
    CHECK(s.held() == 8);
    CHECK_FALSE(s.try_acquire(1));  // a newcomer does not overtake either
    s.release(3);  // 5 free: the head gets its 5; the 1 behind it still waits (0 free)
    CHECK(eventually([&] {
      std::lock_guard g(mu);
      return order.size() == 1;
    }));
    let_others_run();
    {
      std::lock_guard g(mu);
      CHECK(order == std::vector<int>{5});
    }
    s.release(1);
    wg.wait();
    CHECK(order == std::vector<int>{5, 1});
    CHECK(s.held() == 10);
    s.release(10);
    CHECK(s.try_acquire(10));
    s.release(10);
  });
}

TEST_CASE("porting: weighted_semaphore acquire ends with its context") {
  watchdog wd("weighted ctx");
  goro::run([] {
    goro::weighted_semaphore s(4);
    // A done ctx fails at once even with free units (Go).
    auto [dead, kill] = goro::with_cancel(goro::context());
    kill();
    CHECK(s.acquire(dead, 1) == canceled);
    CHECK(s.held() == 0);

    REQUIRE(s.try_acquire(4));
    const auto t0 = clk::now();
    auto [t, tcancel] = goro::with_timeout(goro::context(), 20ms);
    CHECK(s.acquire(t, 2) == deadline_exceeded);
    CHECK(clk::now() - t0 >= 20ms);
    tcancel();

    // The head leaving (cancelled) lets a smaller one behind it in.
    auto [c, cancel] = goro::with_cancel(goro::context());
    s.release(1);  // 1 free
    std::atomic<int> stage{0};
    auto big = goro::spawn([&, c = c] { return s.acquire(c, 3); });
    CHECK(eventually([&] { return !s.try_acquire(0); }));
    auto small = goro::spawn([&] {
      std::error_code e = s.acquire(goro::context(), 1);
      stage = 1;
      return e;
    });
    let_others_run();
    CHECK(stage.load() == 0);
    cancel();  // the head gives up; the 1 behind it now fits
    CHECK(big.get() == canceled);
    CHECK_FALSE(small.get());
    CHECK(s.held() == 4);

    // More than the size: waits for the context, does not block others.
    auto [c2, cancel2] = goro::with_cancel(goro::context());
    auto huge = goro::spawn([&, c2 = c2] { return s.acquire(c2, 5); });
    let_others_run();
    s.release(1);
    CHECK(s.try_acquire(1));  // nobody queued ahead
    CHECK_FALSE(huge.done());
    cancel2();
    CHECK(huge.get() == canceled);
    s.release(4);
    CHECK(s.held() == 0);
  });
}

TEST_CASE("porting: weighted_semaphore stress: never more than the size held, all requests served") {
  watchdog wd("weighted stress");
  goro::run([] {
    constexpr std::int64_t size = 7;
    goro::weighted_semaphore s(size);
    std::atomic<std::int64_t> inside{0}, peak{0};
    std::atomic<int> cancelled{0}, served{0};
    constexpr int workers = 16, rounds = goro_test::scaled(200);
    goro::wait_group wg;
    wg.add(workers);
    for (int i = 0; i < workers; ++i)
      goro::go([&, i] {
        for (int r = 0; r < rounds; ++r) {
          const std::int64_t n = 1 + (i + r) % size;
          auto [c, cancel] = goro::with_timeout(goro::context(), std::chrono::microseconds((r % 5) * 200));
          if (s.acquire(r % 4 == 0 ? c : goro::context(), n)) {
            ++cancelled;
            cancel();
            continue;
          }
          const std::int64_t now = inside.fetch_add(n) + n;
          std::int64_t p = peak.load();
          while (now > p && !peak.compare_exchange_weak(p, now)) {
          }
          if (r % 3 == 0) goro::yield();
          inside.fetch_sub(n);
          s.release(n);
          ++served;
          cancel();
        }
        wg.done();
      });
    wg.wait();
    CHECK(peak.load() <= size);
    CHECK(served.load() + cancelled.load() == workers * rounds);
    CHECK(s.held() == 0);
    MESSAGE("served " << served.load() << ", cancelled " << cancelled.load());
  });
}

// ==== timed waits ===============================================================================

TEST_CASE("porting: condition_variable wait_for/wait_until time out, notify ends them early") {
  watchdog wd("cv timed");
  goro::run([] {
    goro::mutex mu;
    goro::condition_variable cv;
    std::unique_lock lk(mu);
    const auto t0 = clk::now();
    CHECK(cv.wait_for(lk, 20ms) == std::cv_status::timeout);
    CHECK(clk::now() - t0 >= 20ms);
    CHECK(lk.owns_lock());
    CHECK(cv.wait_until(lk, clk::now() - 1s) == std::cv_status::timeout);  // past: no park
    CHECK(lk.owns_lock());

    bool flag = false;
    goro::go([&] {
      goro::sleep_for(5ms);
      std::lock_guard g(mu);
      flag = true;
      cv.notify_one();
    });
    CHECK(cv.wait_for(lk, 5s, [&] { return flag; }));
    CHECK(clk::now() - t0 < 5s);
    CHECK_FALSE(cv.wait_for(lk, 1ms, [] { return false; }));
    // A plain thread notifying; many timed waiters racing notify_all and their deadlines.
    constexpr int n = 32;
    std::atomic<int> woke{0}, timed{0};
    goro::wait_group wg;
    wg.add(n);
    lk.unlock();
    for (int i = 0; i < n; ++i)
      goro::go([&, i] {
        std::unique_lock l(mu);
        if (cv.wait_for(l, std::chrono::microseconds(i * 100)) == std::cv_status::timeout)
          ++timed;
        else
          ++woke;
        wg.done();
      });
    std::thread th([&] {
      std::this_thread::sleep_for(1ms);
      cv.notify_all();
    });
    wg.wait();
    th.join();
    CHECK(woke.load() + timed.load() == n);
  });
}

TEST_CASE("porting: semaphore try_acquire_for/until") {
  watchdog wd("semaphore timed");
  goro::run([] {
    goro::semaphore s(1);
    CHECK(s.try_acquire_for(1s));  // free: at once
    const auto t0 = clk::now();
    CHECK_FALSE(s.try_acquire_for(20ms));
    CHECK(clk::now() - t0 >= 20ms);
    CHECK_FALSE(s.try_acquire_until(clk::now() - 1s));
    goro::go([&] {
      goro::sleep_for(5ms);
      s.release();
    });
    CHECK(s.try_acquire_for(5s));
    CHECK(s.available() == 0);
    // Racing releases and deadlines: every permit is either taken or still available.
    constexpr int n = 32;
    std::atomic<int> got{0};
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&, i] {
        if (s.try_acquire_for(std::chrono::microseconds(i * 50))) ++got;
        wg.done();
      });
    std::thread th([&] {
      for (int i = 0; i < n / 2; ++i) s.release();
    });
    th.join();
    wg.wait();
    CHECK(got.load() + s.available() == n / 2);
  });
}
