// errgroup::try_go (Go's TryGo) and goro::task_set<T> (Tokio's JoinSet): results as they finish,
// exceptions at next(), cancel_all through the context, wait(), the destructor's cancel and join.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
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

TEST_CASE(
    "errgroup_try_go: starts below the limit, refuses at it without parking, always without one") {
  watchdog wd("try_go");
  goro::run([] {
    goro::errgroup g;
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; ++i) CHECK(g.try_go([&] { ++ran; }));  // no limit: always
    g.wait();
    CHECK(ran.load() == 10);

    goro::errgroup lim;
    lim.set_limit(2);
    goro::chan<int> gate;  // unbuffered: the two started coroutines park on it
    CHECK(lim.try_go([&] { (void)gate.recv(); }));
    CHECK(lim.try_go([&] { (void)gate.recv(); }));
    bool third_ran = false;
    CHECK_FALSE(lim.try_go([&] { third_ran = true; }));  // at the limit: false at once
    gate.send(1);
    gate.send(2);
    // A token comes back when a coroutine ends: try_go succeeds again (eventually).
    CHECK(eventually([&] { return lim.try_go([] {}); }));
    lim.wait();
    CHECK_FALSE(third_ran);

    goro::errgroup zero;
    zero.set_limit(0);
    CHECK_FALSE(zero.try_go([] {}));  // Go: a limit of 0 never starts anything
    zero.wait();

    // Failures through try_go count as through go.
    goro::errgroup f;
    CHECK(f.try_go([]() -> std::error_code { return std::make_error_code(std::errc::io_error); }));
    CHECK_THROWS_AS(f.wait(), std::system_error);
  });
}

TEST_CASE("task_set: next() returns results in finishing order, then nullopt") {
  watchdog wd("task_set order");
  goro::run([] {
    goro::task_set<int> set;
    CHECK_FALSE(set.next().has_value());  // empty: at once
    CHECK(set.empty());
    for (int i : {3, 1, 2})
      set.spawn([i] {
        goro::sleep_for(std::chrono::milliseconds(i * 15));
        return i;
      });
    CHECK(set.size() == 3);
    std::vector<int> got;
    while (std::optional<int> r = set.next()) got.push_back(*r);
    CHECK(got == std::vector<int>{1, 2, 3});
    CHECK(set.empty());
    CHECK_FALSE(set.next().has_value());

    // Many tasks, all results taken exactly once.
    constexpr int n = 200;
    for (int i = 0; i < n; ++i)
      set.spawn([i] {
        goro::yield();
        return i;
      });
    std::set<int> seen;
    while (auto r = set.next()) CHECK(seen.insert(*r).second);
    CHECK(seen.size() == std::size_t(n));
  });
}

TEST_CASE("task_set: an exception comes out of next(), and the set goes on") {
  watchdog wd("task_set exc");
  goro::run([] {
    goro::task_set<std::string> set;
    set.spawn([]() -> std::string { throw std::runtime_error("boom"); });
    CHECK_THROWS_WITH_AS(set.next(), "boom", std::runtime_error);
    set.spawn([] {
      goro::sleep_for(2ms);
      return std::string("ok");
    });
    auto r = set.next();
    REQUIRE(r.has_value());
    CHECK(*r == "ok");
    CHECK_FALSE(set.next().has_value());

    goro::task_set<void> vs;
    std::atomic<int> ran{0};
    vs.spawn([&] { ++ran; });
    vs.spawn([&](const goro::context&) { ++ran; });
    CHECK(vs.next());
    CHECK(vs.next());
    CHECK_FALSE(vs.next());
    CHECK(ran.load() == 2);
  });
}

TEST_CASE("task_set: cancel_all cancels the running tasks' context, later tasks get a fresh one") {
  watchdog wd("task_set cancel");
  goro::run([] {
    auto [parent, pcancel] = goro::with_cancel(goro::context());
    goro::task_set<std::error_code> set(parent);
    for (int i = 0; i < 5; ++i)
      set.spawn([](const goro::context& c) { return goro::sleep_for(c, 60s); });
    let_others_run();
    CHECK(set.size() == 5);
    const auto t0 = clk::now();
    set.cancel_all();
    int n = 0;
    while (auto r = set.next()) {
      CHECK(*r == goro::errc::canceled);
      ++n;
    }
    CHECK(n == 5);
    CHECK(clk::now() - t0 < 30s);
    CHECK_FALSE(set.ctx().is_done());  // renewed
    set.spawn([](const goro::context& c) { return goro::sleep_for(c, 1ms); });
    auto r = set.next();
    REQUIRE(r.has_value());
    CHECK_FALSE(*r);  // ran to its end
    // The parent's cancellation reaches the set's tasks.
    set.spawn([](const goro::context& c) { return goro::sleep_for(c, 60s); });
    pcancel();
    r = set.next();
    REQUIRE(r.has_value());
    CHECK(*r == goro::errc::canceled);
  });
}

TEST_CASE("task_set: wait() keeps the results, the destructor cancels and joins") {
  watchdog wd("task_set dtor");
  goro::run([] {
    {
      goro::task_set<int> set;
      for (int i = 0; i < 4; ++i) set.spawn([i] { return i; });
      set.wait();
      CHECK(set.size() == 4);
      int sum = 0;
      while (auto r = set.next()) sum += *r;
      CHECK(sum == 6);
    }
    auto alive = std::make_shared<int>(1);
    std::atomic<int> finished{0};
    {
      goro::task_set<int> set;
      for (int i = 0; i < 8; ++i)
        set.spawn([&finished, keep = alive](const goro::context& c) {
          (void)goro::sleep_for(c, 60s);
          ++finished;
          return 0;
        });
      set.spawn([]() -> int { throw std::runtime_error("dropped with the set"); });
      let_others_run();
      CHECK(alive.use_count() == 9);
    }  // cancels the sleeps, waits for all eight, drops the results and the exception
    CHECK(finished.load() == 8);
    CHECK(alive.use_count() == 1);  // the tasks' captures are gone too
  });
}

TEST_CASE("task_set: a plain thread owns a set of coroutines") {
  watchdog wd("task_set thread");
  goro::run([] {
    std::vector<int> got;
    std::atomic<bool> over{false};
    std::thread th([&] {
      goro::task_set<int> set;
      for (int i = 0; i < 16; ++i)
        set.spawn([i] {
          goro::yield();
          return i * i;
        });
      while (auto r = set.next()) got.push_back(*r);
      over = true;
    });
    CHECK(eventually([&] { return over.load(); }));  // keeps this worker free for the tasks
    th.join();
    CHECK(got.size() == 16);
  });
}
