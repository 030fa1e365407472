// Starting and joining coroutines: run, go, spawn, join_handle, ids and names.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("run returns the exit code of main and 0 for a void main") {
  CHECK(goro::run([] { return 7; }) == 7);
  CHECK(goro::run([] {}) == 0);
}

TEST_CASE("an exception escaping main is rethrown by run after the workers stop") {
  CHECK_THROWS_WITH_AS(goro::run([]() -> int { throw std::runtime_error("main failed"); }),
                       "main failed", std::runtime_error);
  // The runtime is reusable afterwards.
  CHECK(goro::run([] { return 3; }) == 3);
}

TEST_CASE("one million spawns joined give the right sum") {
  // Under TSan every coroutine is a TSan fiber (created and destroyed with mmap traffic): a
  // million take 1.5-2 minutes of a 2-core machine, so TSan runs a tenth of them.
  constexpr long long n = GORO_TSAN ? 100'000 : 1'000'000;
  long long sum = 0;
  goro::run([&] {
    std::vector<goro::join_handle<long long>> hs;
    hs.reserve(n);
    for (long long i = 0; i < n; ++i) hs.push_back(goro::spawn([i] { return i; }));
    long long s = 0;
    for (auto& h : hs) s += h.get();
    sum = s;
  });
  CHECK(sum == n * (n - 1) / 2);
  auto st = goro::stats();
  CHECK(st.spawned == n + 1);  // plus main
  CHECK(st.finished == n + 1);
}

static long long tree(int depth, long long ordinal) {
  if (depth == 0) return ordinal;
  std::vector<goro::join_handle<long long>> kids;
  for (int i = 0; i < 10; ++i) kids.push_back(goro::spawn(tree, depth - 1, ordinal * 10 + i));
  long long s = 0;
  for (auto& k : kids) s += k.get();
  return s;
}

TEST_CASE("a tree of coroutines (skynet with 10^5 leaves) sums correctly") {
  long long total = 0;
  goro::run([&] { total = tree(5, 0); });
  CHECK(total == 99999LL * 100000 / 2);
}

TEST_CASE("exceptions travel through get() with their type and message") {
  struct custom_error {
    int code;
  };
  goro::run([] {
    auto a = goro::spawn([]() -> int { throw std::invalid_argument("bad symbol"); });
    CHECK_THROWS_WITH_AS(a.get(), "bad symbol", std::invalid_argument);
    auto b = goro::spawn([] { throw custom_error{42}; });
    try {
      b.get();
      FAIL("get() did not throw");
    } catch (const custom_error& e) {
      CHECK(e.code == 42);
    }
    // After get(), the handle is empty.
    CHECK_FALSE(b.valid());
    CHECK_THROWS_AS(b.get(), std::logic_error);
  });
}

TEST_CASE("arguments are decay-copied and move-only arguments and results work") {
  goro::run([] {
    std::string s = "quote";
    auto h = goro::spawn([](std::string x) { return x + "s"; }, s);
    s = "changed";  // the coroutine has its own copy
    CHECK(h.get() == "quotes");
    auto p = std::make_unique<int>(5);
    auto h2 = goro::spawn([](std::unique_ptr<int> q) { return std::make_unique<int>(*q * 2); },
                          std::move(p));
    CHECK(*h2.get() == 10);
  });
}

TEST_CASE("void spawn with done() and wait()") {
  goro::run([] {
    std::atomic<int> x{0};
    auto* px = &x;  // x outlives the coroutine: we wait for it below
    auto h = goro::spawn([px] { px->store(1); });
    h.wait();
    CHECK(h.done());
    CHECK(x.load() == 1);
    h.get();
  });
}

TEST_CASE("ids are unique and main is 1 and names are kept") {
  goro::run([] {
    CHECK(goro::this_coroutine::id() == 1);
    CHECK(std::string(goro::this_coroutine::name()) == "main");
    std::vector<goro::join_handle<std::uint64_t>> hs;
    for (int i = 0; i < 1000; ++i) hs.push_back(goro::spawn([] { return goro::this_coroutine::id(); }));
    std::set<std::uint64_t> ids;
    for (auto& h : hs) ids.insert(h.get());
    CHECK(ids.size() == 1000);
    CHECK(ids.count(1) == 0);
    auto n = goro::spawn(goro::spawn_options{.name = "pricer"},
                         [] { return std::string(goro::this_coroutine::name()); });
    CHECK(n.get() == "pricer");
  });
  CHECK(goro::this_coroutine::id() == 0);  // not in a coroutine
}

TEST_CASE("go and spawn outside run throw and leak nothing") {
  CHECK_THROWS_AS(goro::go([] {}), std::logic_error);
  CHECK_THROWS_AS(goro::spawn([] { return 1; }), std::logic_error);
}

TEST_CASE("run inside run throws") {
  goro::run([] { CHECK_THROWS_AS(goro::run([] {}), std::logic_error); });
}

TEST_CASE("plain threads can start coroutines and join them") {
  goro::run([] {
    std::atomic<int> done{0};
    std::atomic<bool> joined{false};
    auto* pd = &done;
    long long got = 0;
    std::thread t([pd, &got, &joined] {
      // Runs on a thread that is not a worker: go() goes through the global queue, get() blocks
      // the thread on a futex instead of parking.
      for (int i = 0; i < 100; ++i) goro::go([pd] { pd->fetch_add(1); });
      auto h = goro::spawn([] {
        long long s = 0;
        for (int i = 0; i < 1000; ++i) s += i;
        return s;
      });
      got = h.get();
      joined = true;
    });
    // Yield (never block this worker) until the thread is done with the runtime: with one worker,
    // blocking in t.join() while the thread's spawned coroutine is still queued would hang.
    while (done.load() < 100 || !joined.load()) goro::yield();
    t.join();
    CHECK(got == 499500);
  });
}

TEST_CASE("a worker blocked in a system call does not strand the coroutine it just readied") {
  // The child goes to this worker's run-next slot (no wake-up: the common hand-off case), then the
  // main coroutine blocks the whole worker thread in join(), which waits for the child. Only the
  // monitor can rescue it: it sees a worker that has not switched for a tick while holding queued
  // work, and wakes the idle worker to steal it. (Blocking a worker is a user error with one
  // worker: nobody is left to run anything.)
  goro::run(goro::options{.workers = 2}, [] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the other worker goes to sleep
    auto h = goro::spawn([] { return 11; });
    int got = 0;
    std::thread t([&got, h = std::move(h)]() mutable { got = h.get(); });
    t.join();
    CHECK(got == 11);
    // Usually the monitor did it; on a loaded machine the idle worker may not have reached its
    // sleep yet and found the work itself. Either way nothing hung, which is what is asserted.
    MESSAGE("monitor wake-ups: " << goro::stats().monitor_wakeups);
  });
}

TEST_CASE("the runtime starts and stops repeatedly") {
  for (int i = 0; i < 20; ++i) {
    int r = goro::run(goro::options{.workers = 1 + static_cast<unsigned>(i % 3)}, [i] {
      auto h = goro::spawn([i] { return i; });
      return h.get();
    });
    CHECK(r == i);
  }
}

template <std::size_t N>
static long long payload_sum(int round) {
  // A closure of about N bytes: lands in each task size class (and above the largest).
  std::array<unsigned char, N> bytes;
  for (std::size_t i = 0; i < N; ++i) bytes[i] = static_cast<unsigned char>((i + round) & 0xff);
  auto h = goro::spawn([bytes, round] {
    long long s = 0;
    for (auto b : bytes) s += b;
    return s + round;
  });
  return h.get();
}

template <std::size_t N>
static long long expected_sum(int round) {
  long long s = 0;
  for (std::size_t i = 0; i < N; ++i) s += static_cast<unsigned char>((i + round) & 0xff);
  return s + round;
}

TEST_CASE("task memory recycled across workers keeps every closure intact") {
  // Tasks are allocated where they are spawned and freed where they end, often another worker
  // or a plain thread; the pool trades blocks between threads. Corruption or overlap shows up
  // as a wrong sum.
  std::atomic<int> wrong{0};
  goro::run(goro::options{.workers = 2}, [&] {
    auto* pw = &wrong;
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < 8; ++c) {
      hs.push_back(goro::spawn([pw, c] {
        for (int round = c; round < 400 + c; ++round) {
          if (payload_sum<8>(round) != expected_sum<8>(round)) pw->fetch_add(1);
          if (payload_sum<100>(round) != expected_sum<100>(round)) pw->fetch_add(1);
          if (payload_sum<200>(round) != expected_sum<200>(round)) pw->fetch_add(1);
          if (payload_sum<450>(round) != expected_sum<450>(round)) pw->fetch_add(1);
          if (payload_sum<2000>(round) != expected_sum<2000>(round)) pw->fetch_add(1);
        }
      }));
    }
    // Handles dropped on a plain thread after their coroutines ended: freed off the workers.
    std::vector<goro::join_handle<int>> later;
    for (int i = 0; i < 1000; ++i) later.push_back(goro::spawn([i] { return i; }));
    for (auto& h : later) h.wait();
    std::thread t([later = std::move(later)]() mutable {
      int s = 0;
      for (auto& h : later) s += h.get();
      CHECK(s == 999 * 1000 / 2);
    });
    t.join();
    for (auto& h : hs) h.get();
  });
  CHECK(wrong.load() == 0);
}
