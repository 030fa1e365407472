// chan_support.hpp: helpers for the channel, select and sync tests, whose failure mode is often a
// hang, so that every test ends in bounded time:
//   goro_test::watchdog wd("what");  - a plain thread that aborts the process with a message if
//                                       the test has not finished within the limit
//   goro_test::eventually(pred)       - waits (yielding) until pred() holds; false after a limit
//   goro_test::let_others_run()       - yields and pauses: before checking that something did
//                                       NOT happen
//   goro_test::scaled(n)              - n, or n / 10 under a sanitizer
// and doctest printers for std::optional and std::vector (failed checks show the values).
//
// Note: doctest's INFO/CAPTURE keep their state per thread; a coroutine may resume on another
// thread after it parks, so these tests use them only outside goro::run (or around code that
// cannot park).
#pragma once

#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/sched/config.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace doctest {
template <class T>
struct StringMaker<std::optional<T>> {
  static String convert(const std::optional<T>& o) {
    if (!o) return "nullopt";
    return String("optional(") + toString(*o) + ")";
  }
};
template <class T>
struct StringMaker<std::vector<T>> {
  static String convert(const std::vector<T>& v) {
    String s = "{";
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (i == 16) {
        s += ", ... (" + toString(v.size()) + " elements)";
        break;
      }
      if (i) s += ", ";
      s += toString(v[i]);
    }
    return s + "}";
  }
};
}  // namespace doctest

namespace goro_test {

inline constexpr bool sanitized = GORO_ASAN || GORO_TSAN;

// Loop counts shrink under the sanitizers, which run this code 5 to 20 times slower.
template <class T>
constexpr T scaled(T n) {
  return sanitized ? n / 10 : n;
}

class watchdog {
 public:
  explicit watchdog(const char* what, std::chrono::seconds limit = std::chrono::seconds(sanitized ? 90 : 30))
      : what_(what), thread_([this, limit] { watch(limit); }) {}
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void watch(std::chrono::seconds limit) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, limit, [this] { return done_; })) {
      std::fprintf(stderr, "watchdog: \"%s\" did not finish within %lld s (a hang: lost wake-up, "
                           "deadlock or waiter never woken)\n",
                   what_, static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::abort();
    }
  }

  const char* what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Waits until pred() holds, letting other coroutines run (goro::yield is std::this_thread::yield
// on a plain thread). Returns false if it still does not hold after `limit`.
template <class P>
bool eventually(P&& pred, std::chrono::milliseconds limit = std::chrono::milliseconds(sanitized ? 20000 : 5000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  std::uint64_t spins = 0;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    goro::yield();
    // A plain thread, or a coroutine alone on its worker, should not burn a core the code under
    // test needs: back off a little after a while.
    if (++spins % 1024 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return true;
}

// Gives other coroutines (and, with several workers, other threads) ample chance to run: used
// before checking that something did NOT happen (a send that must not have completed yet).
inline void let_others_run(int yields = 500, std::chrono::milliseconds pause = std::chrono::milliseconds(5)) {
  for (int i = 0; i < yields; ++i) goro::yield();
  std::this_thread::sleep_for(pause);
  for (int i = 0; i < yields; ++i) goro::yield();
}

}  // namespace goro_test
