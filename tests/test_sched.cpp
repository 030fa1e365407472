// The scheduler: worker counts, interleaving, stealing, migration, fairness, idle CPU, wake-ups.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <array>
#include <memory>
#include <mutex>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "chan_support.hpp"
#include "sync_flag.hpp"

using namespace std::chrono_literals;
namespace sched = goro::sched;

namespace {
long gettid_now() { return static_cast<long>(::syscall(SYS_gettid)); }

// Busy work the optimiser cannot remove.
__attribute__((noinline)) std::uint64_t spin_work(std::uint64_t n) {
  volatile std::uint64_t x = 0;
  for (std::uint64_t i = 0; i < n; ++i) x = x + i * 2654435761u;
  return x;
}
}  // namespace

TEST_CASE("worker count: options beat GOMAXPROCS which beats the core count") {
  const char* old = std::getenv("GOMAXPROCS");
  std::string saved = old ? old : "";
  ::setenv("GOMAXPROCS", "3", 1);
  CHECK(sched::resolve_workers(0) == 3);
  CHECK(sched::resolve_workers(5) == 5);
  CHECK(goro::run([] { return static_cast<int>(goro::stats().workers); }) == 3);
  CHECK(goro::run(goro::options{.workers = 2}, [] { return static_cast<int>(goro::stats().workers); }) == 2);
  ::setenv("GOMAXPROCS", "lots", 1);  // invalid: warned about and ignored
  unsigned hc = std::thread::hardware_concurrency();
  CHECK(sched::resolve_workers(0) == (hc ? hc : 1));
  if (old)
    ::setenv("GOMAXPROCS", saved.c_str(), 1);
  else
    ::unsetenv("GOMAXPROCS");
}

// The suite runs under several worker counts (tests/main.cpp's --gomaxprocs=N, registered by
// tests/CMakeLists.txt); this checks the count really reaches the runtime. The CTest entry
// `goro_tests_gomaxprocs_flag` runs it with --gomaxprocs=3, where GOMAXPROCS must be set.
TEST_CASE("the suite's worker count reaches goro::run") {
  const char* env = std::getenv("GOMAXPROCS");
  if (!env) return;  // the default registration: nothing was asked for
  const int asked = std::atoi(env);
  REQUIRE(asked > 0);
  CHECK(goro::run([] { return static_cast<int>(goro::stats().workers); }) == asked);
}

TEST_CASE("goro::workers() is the running runtime's worker count, 0 outside one") {
  CHECK(goro::workers() == 0);
  CHECK(goro::run(goro::options{.workers = 3}, [] { return static_cast<int>(goro::workers()); }) == 3);
  // From a plain thread while a runtime runs, too.
  CHECK(goro::run(goro::options{.workers = 2}, [] {
    unsigned seen = 0;
    std::thread t([&] { seen = goro::workers(); });
    t.join();
    return static_cast<int>(seen);
  }) == 2);
  CHECK(goro::workers() == 0);
}

namespace {
int plain_main() { return 7; }
}  // namespace

TEST_CASE("goro::run takes its main as an lvalue, a const lvalue or a function") {
  int calls = 0;
  auto main_fn = [&calls] { return ++calls + 40; };
  CHECK(goro::run(main_fn) == 41);  // copied: the lambda captures by reference, so calls counts
  const auto const_fn = [&calls] { ++calls; };
  CHECK(goro::run(goro::options{.workers = 1}, const_fn) == 0);
  CHECK(calls == 2);
  CHECK(goro::run(plain_main) == 7);
  CHECK(goro::run(&plain_main) == 7);
  std::function<int()> f = [] { return 3; };
  CHECK(goro::run(f) == 3);
  CHECK(f);  // an lvalue is not moved from
}

TEST_CASE("yields interleave coroutines on every worker") {
  // Each iteration a coroutine notes itself as the last one to run on its worker; if someone else
  // was last, then another coroutine ran on this worker since our previous iteration: the yield
  // interleaved us. Independent of timing (a descheduled worker thread changes nothing).
  constexpr int ncos = 8, iters = 2000;
  std::atomic<int> interleaved{0}, total{0};
  std::set<int> workers_seen;
  std::mutex mu;
  goro::run(goro::options{.workers = 2}, [&] {
    auto last = std::make_shared<std::array<std::atomic<int>, 2>>();
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < ncos; ++c) {
      hs.push_back(goro::spawn([&, last, c] {
        for (int i = 0; i < iters; ++i) {
          const int w = sched::worker_index();
          if ((*last)[static_cast<std::size_t>(w)].exchange(c) != c) interleaved.fetch_add(1);
          total.fetch_add(1);
          {
            std::lock_guard lk(mu);
            workers_seen.insert(w);
          }
          spin_work(2000);  // ~100 ms in all: long enough for both worker threads to get a core
          goro::yield();
        }
      }));
    }
    for (auto& h : hs) h.get();
  });
  CHECK(total.load() == ncos * iters);
  CHECK(interleaved.load() > total.load() / 2);
  CHECK(workers_seen.size() == 2);
}

TEST_CASE("idle workers steal: steals are counted and both workers run the work") {
  std::atomic<int> on[2] = {0, 0};
  std::uint64_t steals = 0;
  goro::run(goro::options{.workers = 2}, [&] {
    auto* pon = on;
    std::vector<goro::join_handle<void>> hs;
    // Spawned from one coroutine: all land on this worker; only stealing moves them.
    for (int i = 0; i < 200; ++i)
      hs.push_back(goro::spawn([pon] {
        spin_work(200000);
        pon[sched::worker_index()].fetch_add(1);
      }));
    for (auto& h : hs) h.get();
    steals = goro::stats().steals;
  });
  CHECK(steals > 0);
  CHECK(on[0].load() > 0);
  CHECK(on[1].load() > 0);
  CHECK(on[0].load() + on[1].load() == 200);
}

TEST_CASE("a coroutine that migrates between threads sees its own identity after every switch") {
  // Guards the thread_local trap: after a switch the coroutine may run on another thread, and any
  // cached TLS address would make current() return another worker's coroutine.
  std::atomic<int> migrations{0}, mismatches{0};
  goro::run(goro::options{.workers = 2}, [&] {
    auto* pm = &migrations;
    auto* px = &mismatches;
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < 16; ++c) {
      hs.push_back(goro::spawn([pm, px] {
        sched::coroutine* self = sched::current();
        const std::uint64_t id = goro::this_coroutine::id();
        long tid = gettid_now();
        // 2 s, or up to 20 s while no coroutine has migrated yet: under TSan on a loaded 2-core
        // machine (ctest -j2) the second worker can get so little CPU that 2 s saw none (CI, once).
        const auto start = std::chrono::steady_clock::now();
        auto go_on = [&] {
          const auto now = std::chrono::steady_clock::now();
          return now < start + 2s || (pm->load() == 0 && now < start + 20s);
        };
        for (int i = 0; i < 3000 && go_on(); ++i) {
          // The child runs next on this worker while we wait in the queue (yield): the other
          // worker steals us, or the child, started there, readies us there. Either way we move.
          // (Parking in get() alone switches straight into the child on this worker, so the
          // yield is what makes migrations frequent.)
          auto child = goro::spawn([] { return spin_work(500); });
          goro::yield();
          child.get();
          if (sched::current() != self || goro::this_coroutine::id() != id) px->fetch_add(1);
          long now = gettid_now();
          if (now != tid) {
            pm->fetch_add(1);
            tid = now;
          }
        }
      }));
    }
    for (auto& h : hs) h.get();
  });
  CHECK(mismatches.load() == 0);
  CHECK(migrations.load() > 0);  // else the test proved nothing
}

TEST_CASE("two coroutines ready-ing each other cannot starve a third (ping-pong hog)") {
  // On one worker, A and B hand a baton back and forth through the run-next slot forever unless
  // the run-next streak is bounded. C, sitting in the queue, must get to run and stop them. A
  // gives up after 10 s of volleys (C starved), which fails the test instead of hanging it.
  std::atomic<bool> starved{false};
  std::atomic<std::uint64_t> volleys{0};
  goro::run(goro::options{.workers = 1}, [&starved, &volleys] {
    auto st = std::make_shared<std::atomic<bool>>(false);
    auto b_done = std::make_shared<std::atomic<bool>>(false);
    auto a_ptr = std::make_shared<std::atomic<sched::coroutine*>>(nullptr);
    auto b_ptr = std::make_shared<std::atomic<sched::coroutine*>>(nullptr);
    auto b = goro::spawn([=] {
      b_ptr->store(sched::current());
      for (;;) {
        sched::park();
        bool s = st->load();
        if (s) b_done->store(true);
        sched::ready(a_ptr->load());
        if (s) return;
      }
    });
    goro::yield();  // let B publish itself and park
    auto a = goro::spawn([=, &starved, &volleys] {
      a_ptr->store(sched::current());
      const auto give_up = std::chrono::steady_clock::now() + 10s;
      for (std::uint64_t n = 1;; ++n) {
        if (n % 1024 == 0 && std::chrono::steady_clock::now() > give_up) {
          starved.store(true);
          st->store(true);  // stop B ourselves
        }
        sched::ready(b_ptr->load());
        sched::park();
        volleys.store(n, std::memory_order_relaxed);
        if (b_done->load()) return;
      }
    });
    auto c = goro::spawn([=] { st->store(true); });
    c.get();
    a.get();
    b.get();
  });
  MESSAGE(volleys.load() << " volleys before C ran");
  CHECK_FALSE(starved.load());  // C ran while A and B were volleying, and its flag stopped them
}

TEST_CASE("an idle runtime burns (almost) no CPU") {
  goro::run([] {
    // Some work first, so every worker has been awake.
    std::vector<goro::join_handle<std::uint64_t>> hs;
    for (int i = 0; i < 64; ++i) hs.push_back(goro::spawn([] { return spin_work(10000); }));
    for (auto& h : hs) h.get();
    std::this_thread::sleep_for(50ms);  // let the workers reach their sleep
    rusage before{}, after{};
    ::getrusage(RUSAGE_SELF, &before);
    sched::waiter w;
    std::thread t([&w] {
      std::this_thread::sleep_for(1s);
      w.wake();
    });
    w.wait();  // the main coroutine parks for a second; nothing else is runnable
    ::getrusage(RUSAGE_SELF, &after);
    t.join();
    auto us = [](const timeval& tv) { return tv.tv_sec * 1000000L + tv.tv_usec; };
    long cpu_us = us(after.ru_utime) - us(before.ru_utime) + us(after.ru_stime) - us(before.ru_stime);
    MESSAGE("CPU used by an idle runtime over 1 s: " << cpu_us << " us");
    CHECK(cpu_us < 50000);  // under 5% of one core
  });
}

TEST_CASE("lost wake-up hunt: short-lived coroutines ready-ing each other across workers") {
  // Rounds of ping-pong pairs, relays through plain threads, and idle gaps that send every worker
  // to sleep. A lost wake-up leaves a coroutine parked forever: the round never completes and the
  // test hits its timeout. Bounded to about 3 seconds.
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  int rounds = 0;
  std::uint64_t hops = 0;
  goro_test::watchdog wd("lost wake-up hunt");  // a lost wake-up: a clear failure, not a hang
  goro::run([&] {
    while (std::chrono::steady_clock::now() < deadline) {
      constexpr int pairs = 32, volleys = 50;
      std::vector<goro::join_handle<int>> hs;
      for (int p = 0; p < pairs; ++p) {
        auto ping = std::make_shared<goro_test::flag>();
        auto pong = std::make_shared<goro_test::flag>();
        hs.push_back(goro::spawn([ping, pong] {
          for (int v = 0; v < volleys; ++v) {
            ping->set();
            pong->wait();
            pong->reset();
          }
          return volleys;
        }));
        hs.push_back(goro::spawn([ping, pong, p] {
          for (int v = 0; v < volleys; ++v) {
            ping->wait();
            ping->reset();
            if (p % 8 == 0 && v % 10 == 0) {
              // Wake the partner from a plain thread: the foreign-thread path of ready().
              std::thread t([pong] { pong->set(); });
              t.detach();
            } else {
              pong->set();
            }
          }
          return volleys;
        }));
      }
      for (auto& h : hs) hops += static_cast<std::uint64_t>(h.get());
      ++rounds;
      if (rounds % 4 == 0) {
        // Idle gap: every worker goes to sleep; the next round must wake them.
        sched::waiter w;
        std::thread t([&w] {
          std::this_thread::sleep_for(2ms);
          w.wake();
        });
        w.wait();
        t.join();
      }
    }
  });
  MESSAGE(rounds << " rounds, " << hops << " hand-offs");
  CHECK(rounds > 0);
  CHECK(hops == static_cast<std::uint64_t>(rounds) * 32 * 2 * 50);  // every volley of every pair
}

TEST_CASE("a yield hands the worker straight to the next coroutine, even one that never ran") {
  // With one worker, yield switches directly to the coroutine at the head of the local queue
  // (here: a freshly spawned one, whose first frame then lands from a coroutine instead of the
  // worker loop) and that coroutine re-queues the yielder. Order is observable.
  goro::run(goro::options{.workers = 1}, [] {
    auto order = std::make_shared<std::vector<int>>();
    auto child = goro::spawn([order] {
      order->push_back(1);
      goro::yield();  // back to main, directly
      order->push_back(3);
    });
    order->push_back(0);
    goro::yield();  // to the child (never ran yet)
    order->push_back(2);
    goro::yield();  // to the child again
    child.get();
    CHECK(*order == std::vector<int>{0, 1, 2, 3});
    CHECK(goro::stats().yields >= 3);
  });
}
