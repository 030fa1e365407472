// Sync primitives that park the coroutine, never the worker: mutex, shared_mutex,
// condition_variable, once, wait_group, semaphore; from coroutines and from plain threads.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support.hpp"
#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::let_others_run;
using goro_test::scaled;
using goro_test::watchdog;

static_assert(!std::is_copy_constructible_v<goro::mutex> && !std::is_copy_assignable_v<goro::mutex>);
static_assert(!std::is_copy_constructible_v<goro::shared_mutex>);
static_assert(!std::is_copy_constructible_v<goro::condition_variable>);
static_assert(!std::is_copy_constructible_v<goro::once>);
static_assert(!std::is_copy_constructible_v<goro::wait_group>);
static_assert(!std::is_copy_constructible_v<goro::semaphore>);
static_assert(!std::is_convertible_v<int, goro::semaphore>, "semaphore(n) is explicit");

namespace {
void atomic_max(std::atomic<int>& m, int v) {
  int cur = m.load();
  while (v > cur && !m.compare_exchange_weak(cur, v)) {
  }
}
}  // namespace

// ---- mutex ----------------------------------------------------------------------------------

TEST_CASE("mutex: mutual exclusion under contention on two workers") {
  // A plain (non-atomic) counter: lost updates, or a race TSan reports, if exclusion fails. The
  // yield inside the critical section makes the others find it locked and park.
  watchdog wd("mutex contention");
  constexpr int ncos = 8;
  static constexpr int iters = scaled(20000);
  long counter = 0;
  std::atomic<int> inside{0}, overlaps{0};
  goro::run(goro::options{.workers = 2}, [&] {
    goro::mutex mu;
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < ncos; ++c)
      // mu, counter, inside, overlaps outlive the coroutines: all joined below.
      hs.push_back(goro::spawn([&mu, &counter, &inside, &overlaps] {
        for (int i = 0; i < iters; ++i) {
          std::lock_guard lk(mu);
          if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
          ++counter;
          if (i % 64 == 0) goro::yield();
          inside.fetch_sub(1);
        }
      }));
    for (auto& h : hs) h.get();
  });
  CHECK(overlaps.load() == 0);
  CHECK(counter == long{ncos} * iters);
}

TEST_CASE("mutex: lock parks the coroutine, not the worker thread") {
  // One worker: if lock() blocked the thread, the coroutine that holds the lock could never run
  // again to unlock it (the watchdog would end the test).
  watchdog wd("mutex parks");
  goro::run(goro::options{.workers = 1}, [] {
    goro::mutex mu;
    mu.lock();
    // mu outlives the coroutines: both joined below.
    auto locker = goro::spawn([&mu] {
      std::lock_guard lk(mu);
      return true;
    });
    auto ticks = std::make_shared<std::atomic<int>>(0);
    auto ticker = goro::spawn([ticks] {
      for (int i = 0; i < 100; ++i) {
        ticks->fetch_add(1);
        goro::yield();
      }
    });
    ticker.get();
    CHECK(ticks->load() == 100);
    CHECK_FALSE(locker.done());
    mu.unlock();
    CHECK(locker.get());
  });
}

TEST_CASE("mutex: a waiter is not starved by a coroutine that keeps relocking") {
  // One worker. The hog holds the lock across a yield (so the waiter finds it locked and parks),
  // unlocks and at once locks again. A mutex that lets the running coroutine barge in every time
  // starves the waiter; Go's starvation mode (or FIFO hand-off) lets it in within about a
  // millisecond. The hog gives up after 2 s: then the waiter was starved.
  watchdog wd("mutex starvation");
  goro::run(goro::options{.workers = 1}, [] {
    auto mu = std::make_shared<goro::mutex>();
    auto got = std::make_shared<std::atomic<bool>>(false);
    auto hog = goro::spawn([mu, got] {
      const auto end = std::chrono::steady_clock::now() + 2s;
      long rounds = 0;
      while (!got->load() && std::chrono::steady_clock::now() < end) {
        mu->lock();
        goro::yield();
        mu->unlock();
        ++rounds;
      }
      return got->load();
    });
    goro::yield();  // the hog starts first
    auto waiter = goro::spawn([mu, got] {
      std::lock_guard lk(*mu);
      got->store(true);
    });
    waiter.get();
    CHECK(hog.get());  // the hog stopped because the waiter got the lock, not on its timeout
  });
}

TEST_CASE("mutex: try_lock and the standard lock wrappers") {
  watchdog wd("mutex wrappers");
  goro::run([] {
    goro::mutex m, m2;
    // try_lock from another coroutine; m, m2 outlive these coroutines (joined at once)
    auto other_try = [&](goro::mutex& x) {
      auto h = goro::spawn([&x] {
        const bool ok = x.try_lock();
        if (ok) x.unlock();
        return ok;
      });
      return h.get();
    };
    CHECK(m.try_lock());
    CHECK_FALSE(other_try(m));
    m.unlock();
    CHECK(other_try(m));
    {
      std::lock_guard lk(m);
      CHECK_FALSE(other_try(m));
    }
    CHECK(other_try(m));
    {
      std::unique_lock lk(m);
      CHECK(lk.owns_lock());
      CHECK_FALSE(other_try(m));
      lk.unlock();
      CHECK(other_try(m));
      lk.lock();
      CHECK_FALSE(other_try(m));
    }
    {
      std::unique_lock lk(m, std::try_to_lock);
      CHECK(lk.owns_lock());
      std::unique_lock lk2(m, std::try_to_lock);
      CHECK_FALSE(lk2.owns_lock());
    }
    {
      std::scoped_lock lk(m, m2);
      CHECK_FALSE(other_try(m));
      CHECK_FALSE(other_try(m2));
    }
    CHECK(other_try(m));
    CHECK(other_try(m2));
    // try_lock from a plain thread
    m.lock();
    bool thread_got = true;
    std::thread t([&] {
      thread_got = m.try_lock();
      if (thread_got) m.unlock();
    });
    t.join();
    CHECK_FALSE(thread_got);
    m.unlock();
  });
}

TEST_CASE("mutex: a plain thread and coroutines share one goro::mutex") {
  watchdog wd("mutex thread + coroutines");
  static constexpr int iters = scaled(20000);
  long counter = 0;
  std::atomic<int> inside{0}, overlaps{0};
  goro::run(goro::options{.workers = 2}, [&] {
    goro::mutex mu;
    goro::chan<bool> thread_done(1);
    auto body = [&mu, &counter, &inside, &overlaps] {
      for (int i = 0; i < iters; ++i) {
        std::lock_guard lk(mu);
        if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
        ++counter;
        inside.fetch_sub(1);
      }
    };
    // all of them are joined before mu and the counters go away
    std::thread t([body, thread_done]() mutable {
      body();
      thread_done.send(true);
    });
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < 3; ++c) hs.push_back(goro::spawn(body));
    for (auto& h : hs) h.get();
    CHECK(thread_done.recv() == true);  // parks, not blocks
    t.join();
  });
  CHECK(overlaps.load() == 0);
  CHECK(counter == 4L * iters);
}

TEST_CASE("mutex: a coroutine waits while a plain thread holds the lock, and others still run") {
  watchdog wd("mutex held by a thread");
  goro::run(goro::options{.workers = 1}, [] {
    auto mu = std::make_shared<goro::mutex>();
    goro::chan<int> locked(1), release(1);
    std::thread t([mu, locked, release]() mutable {
      mu->lock();
      locked.send(1);
      (void)release.recv();  // blocks this thread until the coroutines have done their part
      mu->unlock();
    });
    CHECK(locked.recv() == 1);
    auto waiter = goro::spawn([mu] {
      std::lock_guard lk(*mu);
      return true;
    });
    auto ticks = std::make_shared<std::atomic<int>>(0);
    auto ticker = goro::spawn([ticks] {
      for (int i = 0; i < 100; ++i) {
        ticks->fetch_add(1);
        goro::yield();
      }
    });
    ticker.get();  // ran on the one worker while `waiter` waited for the thread's lock
    CHECK(ticks->load() == 100);
    CHECK_FALSE(waiter.done());
    release.send(1);
    CHECK(waiter.get());
    t.join();
  });
}

TEST_CASE("mutex: unlock of an unlocked mutex is a fatal error (child process)") {
  auto r = goro_test::run_crash_helper({"unlock_unlocked"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);  // Go's exit code for a fatal error
  CHECK(goro_test::contains(r.err, "fatal error: sync: unlock of unlocked mutex\n"));
  CHECK(goro_test::contains(r.err, "\ngoroutine 1 \"main\" [running]"));  // who hit it
  CHECK_FALSE(goro_test::contains(r.err, "goro: goro:"));
}

TEST_CASE("fatal errors: GOTRACEBACK=crash aborts, for a core dump (child process)") {
  ::setenv("GOTRACEBACK", "crash", 1);
  auto r = goro_test::run_crash_helper({"unlock_unlocked"});
  ::unsetenv("GOTRACEBACK");
  INFO("stderr: " << r.err);
  CHECK(r.signal == SIGABRT);
  CHECK(goro_test::contains(r.err, "fatal error: sync: unlock of unlocked mutex\n"));
}

// ---- shared_mutex ---------------------------------------------------------------------------

TEST_CASE("shared_mutex: two readers hold it at once") {
  watchdog wd("shared readers");
  goro::run([] {
    auto mu = std::make_shared<goro::shared_mutex>();
    mu->lock_shared();
    auto in = std::make_shared<std::atomic<bool>>(false);
    auto reader = goro::spawn([mu, in] {
      std::shared_lock lk(*mu);
      in->store(true);
      return true;
    });
    CHECK(eventually([&] { return in->load(); }));  // while main still holds its shared lock
    auto t = goro::spawn([mu] {
      const bool ok = mu->try_lock_shared();
      if (ok) mu->unlock_shared();
      return ok;
    });
    CHECK(t.get());
    mu->unlock_shared();
    CHECK(reader.get());
  });
}

TEST_CASE("shared_mutex: a writer excludes readers and writers, a reader excludes writers") {
  watchdog wd("shared writer exclusive");
  goro::run([] {
    auto mu = std::make_shared<goro::shared_mutex>();
    auto try_both = [mu] {
      return goro::spawn([mu] {
               int r = 0;
               if (mu->try_lock_shared()) {
                 mu->unlock_shared();
                 r |= 1;
               }
               if (mu->try_lock()) {
                 mu->unlock();
                 r |= 2;
               }
               return r;
             })
          .get();
    };
    CHECK(try_both() == 3);
    mu->lock();
    CHECK(try_both() == 0);
    auto reader_in = std::make_shared<std::atomic<bool>>(false);
    auto reader = goro::spawn([mu, reader_in] {
      mu->lock_shared();
      reader_in->store(true);
      mu->unlock_shared();
    });
    let_others_run();
    CHECK_FALSE(reader_in->load());
    mu->unlock();
    reader.get();
    CHECK(reader_in->load());
    {
      std::shared_lock lk(*mu);
      CHECK(try_both() == 1);  // another reader may join, a writer may not
    }
    CHECK(try_both() == 3);
  });
}

TEST_CASE("shared_mutex: once a writer waits, new readers wait behind it") {
  // One worker, so each step runs to its park before the next: the order is deterministic.
  watchdog wd("shared writer preference");
  goro::run(goro::options{.workers = 1}, [] {
    auto mu = std::make_shared<goro::shared_mutex>();
    goro::chan<std::string> log(16);
    mu->lock_shared();  // reader 1: main
    auto writer = goro::spawn([mu, log]() mutable {
      log.send("writer waits");
      mu->lock();
      log.send("writer");
      mu->unlock();
    });
    CHECK(log.recv() == "writer waits");
    let_others_run();  // the writer is parked in lock()
    CHECK_FALSE(mu->try_lock_shared());
    auto reader2 = goro::spawn([mu, log]() mutable {
      mu->lock_shared();
      log.send("reader 2");
      mu->unlock_shared();
    });
    let_others_run();
    CHECK(log.size() == 0);  // neither got in while reader 1 holds it
    mu->unlock_shared();
    writer.get();
    reader2.get();
    std::vector<std::string> order;
    while (auto e = log.try_recv()) order.push_back(*e);
    CHECK(order == std::vector<std::string>{"writer", "reader 2"});
  });
}

TEST_CASE("shared_mutex: a writer is not starved by overlapping readers") {
  // Two readers relock in turns so that one of them always holds it; a reader-preferring lock
  // would never let the writer in. Bounded: the readers stop after 2 s.
  watchdog wd("shared writer starvation");
  goro::run(goro::options{.workers = 1}, [] {
    auto mu = std::make_shared<goro::shared_mutex>();
    auto writer_in = std::make_shared<std::atomic<bool>>(false);
    std::vector<goro::join_handle<bool>> readers;
    for (int r = 0; r < 2; ++r)
      readers.push_back(goro::spawn([mu, writer_in] {
        const auto end = std::chrono::steady_clock::now() + 2s;
        while (!writer_in->load() && std::chrono::steady_clock::now() < end) {
          mu->lock_shared();
          goro::yield();
          mu->unlock_shared();
        }
        return writer_in->load();  // false: gave up on the timeout, the writer was starved
      }));
    goro::yield();
    goro::yield();
    auto writer = goro::spawn([mu, writer_in] {
      std::lock_guard lk(*mu);
      writer_in->store(true);
    });
    for (auto& r : readers) CHECK(r.get());
    writer.get();
  });
}

TEST_CASE("shared_mutex: a plain thread reads while a coroutine writer waits, and others still run") {
  watchdog wd("shared_mutex with a plain thread");
  goro::run(goro::options{.workers = 1}, [] {
    auto mu = std::make_shared<goro::shared_mutex>();
    goro::chan<int> reading(1), release(1);
    std::thread t([mu, reading, release]() mutable {
      std::shared_lock lk(*mu);
      reading.send(1);
      (void)release.recv();  // holds the shared lock until told
    });
    CHECK(reading.recv() == 1);
    CHECK_FALSE(mu->try_lock());
    auto writer = goro::spawn([mu] {
      std::lock_guard lk(*mu);
      return true;
    });
    auto ticks = std::make_shared<std::atomic<int>>(0);
    auto ticker = goro::spawn([ticks] {
      for (int i = 0; i < 100; ++i) {
        ticks->fetch_add(1);
        goro::yield();
      }
    });
    ticker.get();  // the writer parks: the one worker keeps running coroutines
    CHECK(ticks->load() == 100);
    CHECK_FALSE(writer.done());
    release.send(1);
    CHECK(writer.get());
    t.join();
    CHECK(mu->try_lock_shared());
    mu->unlock_shared();
  });
}

TEST_CASE("shared_mutex: readers and writers on two workers, writers exclusive") {
  watchdog wd("shared stress");
  static constexpr int iters = scaled(5000);
  long counter = 0;
  std::atomic<int> readers_in{0}, writers_in{0}, violations{0};
  goro::run(goro::options{.workers = 2}, [&] {
    goro::shared_mutex mu;
    std::vector<goro::join_handle<void>> hs;
    // everything captured by reference outlives the coroutines: joined below
    for (int w = 0; w < 2; ++w)
      hs.push_back(goro::spawn([&] {
        for (int i = 0; i < iters; ++i) {
          std::lock_guard lk(mu);
          if (writers_in.fetch_add(1) != 0 || readers_in.load() != 0) violations.fetch_add(1);
          ++counter;
          if (i % 16 == 0) goro::yield();
          writers_in.fetch_sub(1);
        }
      }));
    for (int r = 0; r < 4; ++r)
      hs.push_back(goro::spawn([&] {
        long seen = 0;
        for (int i = 0; i < iters; ++i) {
          std::shared_lock lk(mu);
          readers_in.fetch_add(1);
          if (writers_in.load() != 0) violations.fetch_add(1);
          if (counter < seen) violations.fetch_add(1);  // reads the writers' counter: no race
          seen = counter;
          if (i % 16 == 0) goro::yield();
          readers_in.fetch_sub(1);
        }
      }));
    for (auto& h : hs) h.get();
  });
  CHECK(violations.load() == 0);
  CHECK(counter == 2L * iters);
}

// ---- condition_variable ---------------------------------------------------------------------

TEST_CASE("condition_variable: bounded producer/consumer queue on two workers") {
  watchdog wd("cv producer/consumer");
  constexpr int P = 3, C = 3;
  static constexpr int per = scaled(20000);
  long sum = 0, count = 0;
  goro::run(goro::options{.workers = 2}, [&] {
    goro::mutex mu;
    goro::condition_variable not_empty, not_full;
    std::deque<int> q;
    constexpr std::size_t cap = 8;
    std::vector<goro::join_handle<void>> producers;
    // all captured state outlives the coroutines: joined below
    for (int p = 0; p < P; ++p)
      producers.push_back(goro::spawn([&] {
        for (int i = 1; i <= per; ++i) {
          std::unique_lock lk(mu);
          not_full.wait(lk, [&] { return q.size() < cap; });
          q.push_back(i);
          not_empty.notify_one();
        }
      }));
    std::vector<goro::join_handle<std::pair<long, long>>> consumers;
    for (int c = 0; c < C; ++c)
      consumers.push_back(goro::spawn([&] {
        long s = 0, n = 0;
        for (;;) {
          std::unique_lock lk(mu);
          not_empty.wait(lk, [&] { return !q.empty(); });
          const int v = q.front();
          q.pop_front();
          not_full.notify_one();
          if (v < 0) break;  // the end marker
          s += v;
          ++n;
        }
        return std::pair{s, n};
      }));
    for (auto& h : producers) h.get();
    for (int c = 0; c < C; ++c) {
      std::unique_lock lk(mu);
      not_full.wait(lk, [&] { return q.size() < cap; });
      q.push_back(-1);
      not_empty.notify_one();
    }
    for (auto& h : consumers) {
      auto [s, n] = h.get();
      sum += s;
      count += n;
    }
  });
  CHECK(count == long{P} * per);
  CHECK(sum == long{P} * per * (per + 1) / 2);
}

TEST_CASE("condition_variable: notify_all wakes every waiter") {
  watchdog wd("cv notify_all");
  constexpr int n = 10;
  goro::run([] {
    goro::mutex mu;
    goro::condition_variable cv;
    bool go = false;
    int waiting = 0;
    std::atomic<int> done{0};
    std::vector<goro::join_handle<void>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(goro::spawn([&] {  // joined below
        std::unique_lock lk(mu);
        ++waiting;
        cv.wait(lk, [&] { return go; });
        CHECK_FALSE(mu.try_lock());  // wait returned with the mutex locked again
        done.fetch_add(1);
      }));
    // Once main holds the lock and sees all n counted, all n are inside wait().
    CHECK(eventually([&] {
      std::lock_guard lk(mu);
      return waiting == n;
    }));
    CHECK(done.load() == 0);
    {
      std::lock_guard lk(mu);
      go = true;
    }
    cv.notify_all();
    CHECK(eventually([&] { return done.load() == n; }));
    if (done.load() != n)  // failed: try to release the stragglers so that they can be joined
      for (int i = 0; i < n; ++i) cv.notify_one();
    for (auto& h : hs) h.get();
  });
}

TEST_CASE("condition_variable: notify_one lets waiters through one token at a time") {
  watchdog wd("cv notify_one");
  constexpr int n = 3;
  goro::run([] {
    goro::mutex mu;
    goro::condition_variable cv;
    int tokens = 0, waiting = 0;
    std::atomic<int> done{0};
    std::vector<goro::join_handle<void>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(goro::spawn([&] {  // joined below
        std::unique_lock lk(mu);
        ++waiting;
        cv.wait(lk, [&] { return tokens > 0; });
        --tokens;
        done.fetch_add(1);
      }));
    CHECK(eventually([&] {
      std::lock_guard lk(mu);
      return waiting == n;
    }));
    for (int k = 1; k <= n; ++k) {
      {
        std::lock_guard lk(mu);
        ++tokens;
      }
      cv.notify_one();
      CHECK(eventually([&] { return done.load() == k; }));
      let_others_run(20, 1ms);
      CHECK(done.load() == k);  // one token lets exactly one through
    }
    for (auto& h : hs) h.get();
  });
}

TEST_CASE("condition_variable: wait without a predicate, from a coroutine and from a plain thread") {
  watchdog wd("cv wait loop");
  goro::run([] {
    goro::mutex mu;
    goro::condition_variable cv;
    int stage = 0;
    // A plain thread waits; the main coroutine notifies. mu, cv, stage outlive the thread (joined).
    std::thread t([&] {
      std::unique_lock lk(mu);
      while (stage != 1) cv.wait(lk);
      stage = 2;
      cv.notify_all();
    });
    {
      std::lock_guard lk(mu);
      stage = 1;
    }
    cv.notify_all();
    // The main coroutine waits; the thread notifies.
    {
      std::unique_lock lk(mu);
      while (stage != 2) cv.wait(lk);
      CHECK_FALSE(mu.try_lock());  // wait returned with the mutex locked again
    }
    t.join();
    CHECK(stage == 2);
  });
}

// ---- once -----------------------------------------------------------------------------------

TEST_CASE("once: 100 concurrent callers on two workers, f runs exactly once and all see it done") {
  watchdog wd("once concurrent");
  std::atomic<int> runs{0}, saw_result{0};
  goro::run(goro::options{.workers = 2}, [&] {
    goro::once o;
    int value = 0;  // written by f, read by every caller after call() returns
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < 100; ++c)
      hs.push_back(goro::spawn([&] {  // joined below
        o.call([&] {
          runs.fetch_add(1);
          for (int i = 0; i < 100; ++i) goro::yield();  // the others arrive meanwhile
          value = 42;
        });
        if (value == 42) saw_result.fetch_add(1);
      }));
    for (auto& h : hs) h.get();
    CHECK(o.done());
  });
  CHECK(runs.load() == 1);
  CHECK(saw_result.load() == 100);
}

TEST_CASE("once: if f throws, the exception reaches the caller and a later call runs again") {
  goro::run([] {
    goro::once o;
    CHECK_FALSE(o.done());
    CHECK_THROWS_WITH_AS(o.call([] { throw std::runtime_error("init failed"); }), "init failed",
                         std::runtime_error);
    CHECK_FALSE(o.done());
    int ran = 0;
    o.call([&] { ++ran; });
    CHECK(ran == 1);
    CHECK(o.done());
    o.call([&] { ran += 10; });
    CHECK(ran == 1);
  });
}

TEST_CASE("once: a caller parked behind a failing f runs its own f afterwards") {
  watchdog wd("once failure handover");
  goro::run(goro::options{.workers = 1}, [] {
    auto o = std::make_shared<goro::once>();
    auto b_calling = std::make_shared<std::atomic<bool>>(false);
    auto b_ran = std::make_shared<std::atomic<int>>(0);
    auto a = goro::spawn([o, b_calling] {
      o->call([b_calling] {
        eventually([&] { return b_calling->load(); });
        let_others_run();  // B is now parked in call()
        throw std::runtime_error("first try failed");
      });
    });
    goro::yield();  // A is inside f
    auto b = goro::spawn([o, b_calling, b_ran] {
      b_calling->store(true);
      o->call([b_ran] { b_ran->fetch_add(1); });
      return b_ran->load();  // f must have run by the time call() returns
    });
    CHECK_THROWS_WITH_AS(a.get(), "first try failed", std::runtime_error);
    CHECK(b.get() == 1);
    CHECK(o->done());
  });
}

TEST_CASE("once: plain threads and coroutines together") {
  watchdog wd("once threads");
  std::atomic<int> runs{0};
  goro::run(goro::options{.workers = 2}, [&] {
    goro::once o;
    auto f = [&] {
      runs.fetch_add(1);
      std::this_thread::sleep_for(5ms);
    };
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i) ts.emplace_back([&] { o.call(f); });  // joined below
    std::vector<goro::join_handle<void>> hs;
    for (int i = 0; i < 20; ++i) hs.push_back(goro::spawn([&] { o.call(f); }));
    for (auto& h : hs) h.get();
    for (auto& t : ts) t.join();
    CHECK(o.done());
  });
  CHECK(runs.load() == 1);
}

// ---- wait_group -----------------------------------------------------------------------------

TEST_CASE("wait_group: wait returns once all N coroutines called done") {
  watchdog wd("wait_group");
  goro::run(goro::options{.workers = 2}, [] {
    constexpr int n = 50;
    goro::wait_group wg;
    std::atomic<int> finished{0};
    std::vector<goro::join_handle<void>> hs;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      hs.push_back(goro::spawn([&wg, &finished] {  // joined below, after the checks
        for (int k = 0; k < 100; ++k) goro::yield();
        finished.fetch_add(1);
        wg.done();
      }));
    wg.wait();
    CHECK(finished.load() == n);
    for (auto& h : hs) h.get();
    wg.wait();  // counter 0: returns at once
  });
}

TEST_CASE("wait_group: a negative counter throws std::logic_error") {
  goro::run([] {
    goro::wait_group a;
    CHECK_THROWS_AS(a.done(), std::logic_error);
    goro::wait_group b;
    CHECK_THROWS_AS(b.add(-1), std::logic_error);
    goro::wait_group c;
    c.add(2);
    c.done();
    c.done();
    CHECK_THROWS_AS(c.done(), std::logic_error);
  });
}

TEST_CASE("wait_group: reused after a wait, with several waiters and a plain-thread waiter") {
  watchdog wd("wait_group reuse");
  goro::run([] {
    goro::wait_group wg;
    for (int round = 0; round < 3; ++round) {
      wg.add(2);
      std::atomic<int> woken{0};
      std::vector<goro::join_handle<void>> waiters;
      for (int w = 0; w < 3; ++w)
        waiters.push_back(goro::spawn([&] {  // joined below
          wg.wait();
          woken.fetch_add(1);
        }));
      std::thread t([&] {  // joined below
        wg.wait();
        woken.fetch_add(1);
      });
      let_others_run(100, 2ms);
      CHECK(woken.load() == 0);
      wg.done();
      let_others_run(100, 2ms);
      CHECK(woken.load() == 0);
      wg.done();
      CHECK(eventually([&] { return woken.load() == 4; }));
      for (auto& h : waiters) h.get();
      t.join();
    }
  });
}

// ---- semaphore ------------------------------------------------------------------------------

TEST_CASE("semaphore: at most `permits` holders at once, and that many do get in") {
  // Two workers check the bound (never more than 3 inside). They cannot check that 3 do get in:
  // a legitimate schedule runs the holders one after another (seen: the second worker stole
  // each coroutine as it was spawned and ran it to the end while the first was in a futex wake).
  // One worker makes that deterministic: every coroutine is queued before the first runs, and a
  // holder's yields let the queued ones take the other two permits.
  for (unsigned workers : {2u, 1u}) {
    CAPTURE(workers);
    watchdog wd("semaphore bound");
    std::atomic<int> max_inside{0}, inside{0};
    goro::run(goro::options{.workers = workers}, [&] {
      goro::semaphore sem(3);
      std::vector<goro::join_handle<void>> hs;
      for (int i = 0; i < 20; ++i)
        hs.push_back(goro::spawn([&] {  // joined below
          for (int r = 0; r < 5; ++r) {
            sem.acquire();
            atomic_max(max_inside, inside.fetch_add(1) + 1);
            for (int k = 0; k < 50; ++k) goro::yield();  // hold it while others try
            inside.fetch_sub(1);
            sem.release();
          }
        }));
      for (auto& h : hs) h.get();
    });
    CHECK(max_inside.load() <= 3);
    if (workers == 1) CHECK(max_inside.load() == 3);
  }
}

TEST_CASE("semaphore: try_acquire never waits") {
  goro::run([] {
    goro::semaphore sem(2);
    CHECK(sem.try_acquire());
    CHECK(sem.try_acquire());
    CHECK_FALSE(sem.try_acquire());
    sem.release();
    CHECK(sem.try_acquire());
    CHECK_FALSE(sem.try_acquire());
    sem.release(2);
    CHECK(sem.try_acquire());
    CHECK(sem.try_acquire());
    CHECK_FALSE(sem.try_acquire());
    goro::semaphore zero(0);
    CHECK_FALSE(zero.try_acquire());
  });
}

TEST_CASE("semaphore: acquire waits for release, and release(n) lets n waiters through") {
  watchdog wd("semaphore release(n)");
  goro::run([] {
    goro::semaphore sem(0);
    std::atomic<int> through{0};
    std::vector<goro::join_handle<void>> hs;
    for (int i = 0; i < 3; ++i)
      hs.push_back(goro::spawn([&] {  // joined below
        sem.acquire();
        through.fetch_add(1);
      }));
    let_others_run();
    CHECK(through.load() == 0);
    sem.release(2);
    CHECK(eventually([&] { return through.load() == 2; }));
    let_others_run();
    CHECK(through.load() == 2);
    sem.release();
    CHECK(eventually([&] { return through.load() == 3; }));
    for (auto& h : hs) h.get();
    CHECK_FALSE(sem.try_acquire());
  });
}

TEST_CASE("semaphore: a plain thread blocks in acquire until a coroutine releases") {
  watchdog wd("semaphore thread");
  goro::run([] {
    goro::semaphore sem(0);
    std::atomic<bool> got{false};
    std::thread t([&] {  // joined below
      sem.acquire();
      got.store(true);
    });
    std::this_thread::sleep_for(10ms);
    CHECK_FALSE(got.load());
    sem.release();
    CHECK(eventually([&] { return got.load(); }));
    t.join();
  });
}
