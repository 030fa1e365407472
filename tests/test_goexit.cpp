// goro::goexit (Go's runtime.Goexit): destructors run, the coroutine ends without a panic, in go,
// spawn, errgroup, task_set and the main coroutine; a catch (...) that swallows it is fatal.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>

#include "chan_support.hpp"
#include "support.hpp"

using goro_test::eventually;
using goro_test::watchdog;

namespace {
struct counted_dtor {
  std::atomic<int>* n;
  ~counted_dtor() { ++*n; }
};
[[noreturn]] void deep(int depth, std::atomic<int>& dtors) {
  counted_dtor g{&dtors};
  if (depth == 0) goro::goexit();
  deep(depth - 1, dtors);
}
}  // namespace

TEST_CASE("goexit: go: destructors run, the coroutine ends, nothing after the call runs") {
  watchdog wd("goexit go");
  goro::run([] {
    std::atomic<int> dtors{0}, after{0}, ended{0};
    goro::mutex mu;
    for (int i = 0; i < 8; ++i)
      goro::go([&] {
        counted_dtor e{&ended};
        std::lock_guard g(mu);  // released by the unwinding
        try {
          deep(5, dtors);
        } catch (const std::exception&) {  // not taken: goexit_unwind is no std::exception
          after += 100;
        }
        ++after;
      });
    CHECK(eventually([&] { return ended.load() == 8; }));
    CHECK(dtors.load() == 8 * 6);
    CHECK(after.load() == 0);
    CHECK(mu.try_lock());
    mu.unlock();
    // A catch (...) that rethrows is fine.
    std::atomic<int> saw{0};
    goro::go([&] {
      counted_dtor e{&ended};
      try {
        goro::goexit();
      } catch (...) {
        ++saw;
        throw;
      }
    });
    CHECK(eventually([&] { return ended.load() == 9; }));
    CHECK(saw.load() == 1);
  });
}

TEST_CASE("goexit: spawn: get() throws goexit_error, an unobserved one is no panic") {
  watchdog wd("goexit spawn");
  goro::run([] {
    auto h = goro::spawn([]() -> int { goro::goexit(); });
    CHECK_THROWS_AS(h.get(), goro::goexit_error);
    auto v = goro::spawn([] { goro::goexit(); });
    CHECK_THROWS_WITH_AS(v.get(), "goro: the coroutine called goexit", goro::goexit_error);
    {
      auto dropped = goro::spawn([] { goro::goexit(); });
      dropped.wait();
    }  // no get(): not a panic (the suite would end here with exit code 2)
  });
}

TEST_CASE("goexit: errgroup and task_set") {
  watchdog wd("goexit groups");
  goro::run([] {
    goro::errgroup g;
    std::atomic<int> ran{0};
    g.go([&] {
      ++ran;
      goro::goexit();
    });
    g.go([&] { ++ran; });
    g.wait();  // no failure
    CHECK(ran.load() == 2);
    CHECK_FALSE(g.ctx().err() == goro::errc::deadline_exceeded);

    goro::task_set<int> set;
    set.spawn([]() -> int { goro::goexit(); });
    CHECK_THROWS_AS(set.next(), goro::goexit_error);
    set.spawn([] { return 5; });
    CHECK(set.next() == std::optional<int>(5));
  });
}

TEST_CASE("goexit: in the main coroutine goro::run returns 0, on a plain thread it is an error") {
  std::atomic<int> dtors{0};
  int code = goro::run([&]() -> int {
    counted_dtor e{&dtors};
    goro::goexit();
  });
  CHECK(code == 0);
  CHECK(dtors.load() == 1);
  CHECK_THROWS_AS(goro::goexit(), std::logic_error);
}

TEST_CASE("goexit: a catch (...) that swallows it is a fatal error when the coroutine ends") {
  auto r = goro_test::run_crash_helper({"goexit_swallowed"});
  CHECK(r.exit_code == 2);
  CHECK(goro_test::contains(r.err, "goexit was swallowed"));
}
