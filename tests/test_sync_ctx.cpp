// mutex::try_lock_for/try_lock_until/lock(ctx) and wait_group::wait(ctx): timed and
// context-aware waits on detail::wait_abortable. Timing rules are test_time.cpp's: never early
// (exact lower bounds), generous upper bounds.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
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

TEST_CASE(
    "sync_ctx: mutex try_lock_for/until: free at once, times out when held, wins a later unlock") {
  watchdog wd("mutex timed");
  goro::run([] {
    goro::mutex mu;
    CHECK(mu.try_lock_for(1s));  // free: at once
    const auto t0 = clk::now();
    auto other = goro::spawn([&] { return mu.try_lock_for(20ms); });
    CHECK_FALSE(other.get());
    CHECK(clk::now() - t0 >= 20ms);
    auto past = goro::spawn([&] { return mu.try_lock_until(clk::now() - 1s); });
    CHECK_FALSE(past.get());
    // The mutex is intact after the waiters gave up: unlock, then lock again normally.
    mu.unlock();
    CHECK(mu.try_lock());
    auto later = goro::spawn([&] { return mu.try_lock_for(5s); });
    goro::sleep_for(5ms);
    mu.unlock();
    CHECK(later.get());
    CHECK_FALSE(mu.try_lock());
    mu.unlock();
    CHECK(mu.try_lock());
    mu.unlock();
  });
}

TEST_CASE("sync_ctx: mutex lock(ctx): done ctx fails at once, cancel and deadline end the wait") {
  watchdog wd("mutex ctx");
  goro::run([] {
    goro::mutex mu;
    auto [dead, kill] = goro::with_cancel(goro::context());
    kill();
    CHECK(mu.lock(dead) == canceled);  // even though free
    CHECK(mu.try_lock());              // and nothing held
    auto [c, cancel] = goro::with_cancel(goro::context());
    auto w = goro::spawn([&, c = c] { return mu.lock(c); });
    let_others_run();
    CHECK_FALSE(w.done());
    cancel();
    CHECK(w.get() == canceled);
    const auto t0 = clk::now();
    auto [t, tcancel] = goro::with_timeout(goro::context(), 20ms);
    auto wt = goro::spawn([&, t = t] { return mu.lock(t); });
    CHECK(wt.get() == deadline_exceeded);
    CHECK(clk::now() - t0 >= 20ms);
    tcancel();
    // A waiter whose ctx never ends gets the lock.
    auto ok = goro::spawn([&] {
      std::error_code e = mu.lock(goro::context());
      if (!e) mu.unlock();
      return e;
    });
    goro::sleep_for(2ms);
    mu.unlock();
    CHECK_FALSE(ok.get());
    // A plain thread waiting with a ctx a coroutine cancels.
    REQUIRE(mu.try_lock());
    auto [c2, cancel2] = goro::with_cancel(goro::context());
    std::error_code th_err;
    std::thread th([&, c2 = c2] { th_err = mu.lock(c2); });
    goro::sleep_for(5ms);
    cancel2();
    th.join();
    CHECK(th_err == canceled);
    mu.unlock();
    CHECK(mu.try_lock());
    mu.unlock();
  });
}

TEST_CASE(
    "sync_ctx: mutex: waiters giving up race unlocks, hand-off included, and nothing is lost") {
  watchdog wd("mutex abort stress");
  goro::run([] {
    goro::mutex mu;
    long counter = 0;  // guarded by mu
    constexpr int n = 48;
    const int rounds = goro_test::scaled(400);
    std::atomic<long> got{0}, gave_up{0};
    goro::wait_group wg;
    wg.add(n);
    auto [ctx, cancel] = goro::with_cancel(goro::context());
    for (int i = 0; i < n; ++i)
      goro::go([&, i, ctx = ctx] {
        for (int r = 0; r < rounds; ++r) {
          bool have;
          if (i % 3 == 0)
            have = mu.try_lock_for(std::chrono::microseconds((r * 7 + i) % 200));
          else if (i % 3 == 1)
            have = !mu.lock(ctx);
          else {
            mu.lock();
            have = true;
          }
          if (!have) {
            ++gave_up;
            continue;
          }
          ++counter;
          ++got;
          // Hold it a while now and then, so that waiters wait past 1 ms (hand-off mode) and the
          // timed ones time out; a yield otherwise, so that others queue at one worker too.
          if (r % 50 == 0)
            goro::sleep_for(1500us);
          else
            goro::yield();
          mu.unlock();
        }
        wg.done();
      });
    goro::sleep_for(10ms);
    cancel();  // the lock(ctx) waiters give up from now on
    wg.wait();
    std::lock_guard g(mu);
    CHECK(counter == got.load());
    CHECK(got.load() + gave_up.load() == long(n) * rounds);
    CHECK(gave_up.load() > 0);
  });
}

TEST_CASE("sync_ctx: try_lock_for with a deadline needs a runtime, an immediate answer does not") {
  goro::mutex mu;
  CHECK(mu.try_lock_for(1s));  // free: no wait, no timer
  std::thread th([&] { CHECK_THROWS_AS((void)mu.try_lock_for(10ms), std::logic_error); });
  th.join();
  mu.unlock();
  CHECK(mu.try_lock());  // the failed waiter left nothing behind
  mu.unlock();
}

TEST_CASE(
    "sync_ctx: wait_group wait(ctx): zero at once, done ctx fails, cancel and deadline end it") {
  watchdog wd("wait_group ctx");
  goro::run([] {
    goro::wait_group wg;
    CHECK_FALSE(wg.wait(goro::context()));  // zero
    auto [dead, kill] = goro::with_cancel(goro::context());
    kill();
    CHECK(wg.wait(dead) == canceled);
    wg.add(1);
    auto [c, cancel] = goro::with_cancel(goro::context());
    auto w = goro::spawn([&, c = c] { return wg.wait(c); });
    let_others_run();
    CHECK_FALSE(w.done());
    cancel();
    CHECK(w.get() == canceled);
    const auto t0 = clk::now();
    auto [t, tcancel] = goro::with_timeout(goro::context(), 20ms);
    CHECK(wg.wait(t) == deadline_exceeded);
    CHECK(clk::now() - t0 >= 20ms);
    tcancel();
    // The waiters that left are unregistered: done() reaches zero and a real waiter is woken.
    auto real = goro::spawn([&] { return wg.wait(goro::context()); });
    auto plain = goro::spawn([&] {
      wg.wait();
      return 1;
    });
    let_others_run();
    CHECK_FALSE(real.done());
    wg.done();
    CHECK_FALSE(real.get());
    CHECK(plain.get() == 1);
    CHECK(wg.count() == 0);
  });
}

TEST_CASE(
    "sync_ctx: wait_group wait(ctx): cancels racing the last done(), wait_group destroyed after") {
  watchdog wd("wait_group ctx race");
  goro::run([] {
    const int rounds = goro_test::scaled(300);
    for (int r = 0; r < rounds; ++r) {
      auto* wg = new goro::wait_group;
      wg->add(1);
      auto [c, cancel] = goro::with_cancel(goro::context());
      constexpr int n = 4;
      std::vector<goro::join_handle<std::error_code>> ws;
      for (int i = 0; i < n; ++i) ws.push_back(goro::spawn([wg, c = c] { return wg->wait(c); }));
      goro::yield();
      std::atomic<bool> done_returned{false};
      goro::go([cancel = cancel]() mutable { cancel(); });
      goro::go([wg, &done_returned] {
        wg->done();
        done_returned = true;
      });
      for (auto& f : ws) {
        std::error_code e = f.get();
        CHECK((!e || e == canceled));
      }
      REQUIRE(eventually([&] { return done_returned.load(); }));
      // Whoever gave up unregistered exactly itself: the word is back to zero, so a new round
      // works (a miscount would leave a waiter unwoken or borrow from the counter).
      CHECK(wg->count() == 0);
      wg->add(1);
      auto again = goro::spawn([wg] { return wg->wait(goro::context()); });
      goro::yield();
      wg->done();
      CHECK_FALSE(again.get());
      delete wg;  // every waiter has returned: nobody may touch it any more (ASan checks)
    }
  });
}
