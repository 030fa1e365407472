// future_cache: concurrent callers of a missing key share one computation (Go's singleflight,
// keeping the results); exceptions reach every waiter and are not cached; LRU eviction; expiry.
//
// Timing rules (as in test_time.cpp): expiry must never come early, so its lower bound is exact;
// upper bounds are only generous limits. Gates are built from the cache's own counters (a
// computation waits until the expected number of callers have joined it), so "they all waited
// for one computation" is established, not hoped for, and no test depends on a sleep being long
// enough. Nothing blocks a worker thread: waits inside coroutines park or yield.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/future_cache.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::scaled;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;

static_assert(!std::is_copy_constructible_v<goro::future_cache<int, int>>);
static_assert(std::is_copy_constructible_v<goro::cache_future<int>>);

namespace {

// Waits (yielding) until `n` callers have joined computations in progress on `cache`.
template <class Cache>
bool until_coalesced(Cache& cache, std::uint64_t n) {
  return eventually([&] { return cache.stats().coalesced >= n; });
}

// Waits until only the main coroutine is left (coroutines started by get_future end a moment
// after their computation completes): each test leaves nothing running when main returns.
bool until_only_main() {
  return eventually([] {
    auto s = goro::stats();
    return s.spawned - s.finished == 1;
  });
}

}  // namespace

TEST_CASE("future_cache: 1,000 concurrent callers of one missing key share exactly one computation") {
  watchdog wd("future_cache 1000 callers");
  static constexpr int n = 1000;
  std::atomic<int> computations{0};
  std::vector<std::string> got;
  goro::future_cache_stats st;
  bool gate_ok = false;
  goro::run([&] {
    goro::future_cache<int, std::string> cache;
    std::atomic<bool> gated{false};
    std::vector<goro::join_handle<std::string>> hs;
    hs.reserve(n);
    for (int i = 0; i < n; ++i)
      // cache, computations and gated outlive the coroutines: all joined below.
      hs.push_back(goro::spawn([&cache, &computations, &gated] {
        return cache.get(7, [&] {
          computations.fetch_add(1);
          // Finish only once every other caller waits for this computation.
          gated.store(until_coalesced(cache, n - 1));
          return std::string("seven");
        });
      }));
    for (auto& h : hs) got.push_back(h.get());
    gate_ok = gated.load();
    st = cache.stats();
  });
  CHECK(gate_ok);
  CHECK(computations.load() == 1);
  CHECK(got == std::vector<std::string>(n, "seven"));
  CHECK(st.computations == 1);
  CHECK(st.coalesced == n - 1);
  CHECK(st.hits == 0);
  CHECK(st.misses() == n);
}

TEST_CASE("future_cache: 100 keys x 100 callers each arriving at once make 100 computations") {
  watchdog wd("future_cache 100 keys");
  constexpr int keys = 100;
  static constexpr int callers = scaled(100);
  std::vector<std::atomic<int>> per_key(keys);
  std::vector<long> results;
  goro::future_cache_stats st;
  std::size_t size = 0, in_flight = 1;
  goro::run([&] {
    goro::future_cache<int, long> cache({.capacity = 1000});
    std::vector<goro::join_handle<long>> hs;
    hs.reserve(keys * callers);
    for (int c = 0; c < callers; ++c)
      for (int k = 0; k < keys; ++k)
        hs.push_back(goro::spawn([&cache, &per_key, k] {
          return cache.get(k, [&per_key](const int& key) {
            per_key[key].fetch_add(1);
            goro::sleep_for(20ms);  // an expensive call: the other callers arrive meanwhile
            return long{key} * key;
          });
        }));
    for (auto& h : hs) results.push_back(h.get());
    st = cache.stats();
    size = cache.size();
    in_flight = cache.in_flight();
  });
  for (int k = 0; k < keys; ++k) CHECK(per_key[k].load() == 1);
  bool all_right = true;
  for (std::size_t i = 0; i < results.size(); ++i) all_right &= results[i] == long(i % keys) * long(i % keys);
  CHECK(all_right);
  CHECK(st.computations == keys);
  CHECK(st.hits + st.coalesced == std::uint64_t(keys) * (callers - 1));
  CHECK(size == keys);
  CHECK(in_flight == 0);
}

TEST_CASE("future_cache: an exception reaches the leader and every waiter, and is not cached") {
  watchdog wd("future_cache exception fan-out");
  static constexpr int n = 100;
  std::vector<std::string> outcomes;
  std::atomic<int> computations{0};
  goro::future_cache_stats st;
  bool cached_after_failure = true;
  std::size_t in_flight_after_failure = 1;
  int retried = 0, hit_after_retry = 0;
  // Every caller catches the same exception object. Each keeps a reference to it until all are
  // joined, so that it is freed after every what() was read in an order TSan can see: libsupc++
  // counts an exception's references with atomics TSan does not instrument, and would otherwise
  // report the last catcher's free as racing the others' reads.
  std::vector<std::exception_ptr> keep(n);
  goro::run([&] {
    goro::future_cache<std::string, int> cache;
    std::vector<goro::join_handle<std::string>> hs;
    for (int i = 0; i < n; ++i)
      hs.push_back(goro::spawn([&cache, &computations, &keep, i]() -> std::string {
        try {
          int v = cache.get("k", [&]() -> int {
            computations.fetch_add(1);
            until_coalesced(cache, n - 1);
            throw std::runtime_error("backend unavailable");
          });
          return "value " + std::to_string(v);
        } catch (const std::runtime_error& e) {
          keep[std::size_t(i)] = std::current_exception();
          return std::string("runtime_error: ") + e.what();
        } catch (...) {
          return "some other exception";
        }
      }));
    for (auto& h : hs) outcomes.push_back(h.get());
    cached_after_failure = cache.contains("k");
    in_flight_after_failure = cache.in_flight();
    // Not cached: the next call computes again, and its success is cached.
    retried = cache.get("k", [&] {
      computations.fetch_add(1);
      return 42;
    });
    hit_after_retry = cache.get("k", [&] {
      computations.fetch_add(1);
      return -1;
    });
    st = cache.stats();
  });
  CHECK(outcomes == std::vector<std::string>(n, "runtime_error: backend unavailable"));
  CHECK_FALSE(cached_after_failure);
  CHECK(in_flight_after_failure == 0);
  CHECK(retried == 42);
  CHECK(hit_after_retry == 42);
  CHECK(computations.load() == 2);
  CHECK(st.computations == 2);
  CHECK(st.failures == 1);
  CHECK(st.coalesced == n - 1);
  CHECK(st.hits == 1);
}

TEST_CASE("future_cache: at capacity the least recently used value is evicted, and a hit is a use") {
  watchdog wd("future_cache LRU");
  goro::run([&] {
    goro::future_cache<char, int> cache({.capacity = 3});
    int computations = 0;
    auto compute = [&](const char& k) {
      ++computations;
      return int(k);
    };
    cache.get('a', compute);
    cache.get('b', compute);
    cache.get('c', compute);
    CHECK(cache.size() == 3);
    CHECK(cache.get('a', compute) == 'a');  // a hit: 'a' becomes the most recently used
    CHECK(computations == 3);
    CHECK(cache.contains('b'));              // contains() is not a use: 'b' stays the oldest
    cache.get('d', compute);                 // evicts 'b'
    CHECK(cache.size() == 3);
    CHECK_FALSE(cache.contains('b'));
    CHECK(cache.contains('a'));
    CHECK(cache.contains('c'));
    CHECK(cache.contains('d'));
    CHECK(cache.stats().evictions == 1);
    CHECK(cache.get('b', compute) == 'b');  // computed again; evicts 'c' (a, d used since)
    CHECK(computations == 5);
    CHECK_FALSE(cache.contains('c'));
    CHECK(cache.contains('a'));
    CHECK(cache.contains('d'));
    CHECK(cache.stats().evictions == 2);
    CHECK(cache.erase('a'));
    CHECK_FALSE(cache.erase('a'));
    CHECK(cache.size() == 2);
    cache.clear();
    CHECK(cache.size() == 0);
    CHECK_FALSE(cache.contains('d'));
    auto s = cache.stats();
    CHECK(s.computations == 5);
    CHECK(s.hits == 1);

    // capacity 0 keeps nothing: concurrent callers still share one computation.
    goro::future_cache<int, int> none({.capacity = 0});
    std::atomic<int> runs{0};
    std::vector<goro::join_handle<int>> hs;
    for (int i = 0; i < 10; ++i)
      hs.push_back(goro::spawn([&none, &runs] {
        return none.get(1, [&] {
          runs.fetch_add(1);
          until_coalesced(none, 9);
          return 11;
        });
      }));
    int sum = 0;
    for (auto& h : hs) sum += h.get();
    CHECK(sum == 110);
    CHECK(runs.load() == 1);
    CHECK(none.size() == 0);
    CHECK(none.get(1, [&] { return runs.fetch_add(1) + 1; }) == 2);  // nothing kept
  });
}

TEST_CASE("future_cache: a value expires ttl after its computation finished, never before") {
  watchdog wd("future_cache expiry");
  constexpr auto ttl = 100ms;
  int computations = 0;
  clk::time_point first_done{}, second_started{}, last_hit_before{};
  bool early_recompute = false, contains_after = true, contains_fresh = false;
  std::uint64_t expirations = 0;
  goro::run([&] {
    goro::future_cache<int, int> cache({.capacity = 10, .ttl = ttl});
    CHECK(cache.ttl() == ttl);
    auto compute = [&] {
      if (++computations == 1) {
        first_done = clk::now();  // the computation's last moment: expiry counts from later
      } else {
        second_started = clk::now();
      }
      return computations;
    };
    CHECK(cache.get(1, compute) == 1);
    contains_fresh = cache.contains(1);
    // Poll until it is computed again. Every call that returned before first_done + ttl must
    // have been a hit (the check inside get() happened before it returned).
    for (;;) {
      int v = cache.get(1, compute);
      clk::time_point after = clk::now();
      if (computations > 1) break;
      CHECK(v == 1);
      last_hit_before = after;
      goro::sleep_for(5ms);
    }
    if (second_started < first_done + ttl) early_recompute = true;
    expirations = cache.stats().expirations;
    // contains() also stops reporting it once its ttl has passed.
    goro::sleep_until(second_started + ttl + 1ms);
    contains_after = cache.contains(1);
  });
  CHECK(computations == 2);
  CHECK_FALSE(early_recompute);  // exact lower bound
  CHECK(second_started - first_done >= ttl);
  CHECK(contains_fresh);
  CHECK_FALSE(contains_after);
  CHECK(expirations == 1);
  CHECK(last_hit_before > first_done);  // at least one hit was served in between
}

TEST_CASE("future_cache: plain threads lead and wait beside coroutines") {
  watchdog wd("future_cache plain threads");
  std::atomic<int> computations{0};
  int thread_got = 0;
  std::vector<int> coroutines_got;
  goro::run([&] {
    goro::future_cache<int, int> cache;

    // A coroutine computes; a plain thread waits for it (blocks on a futex, not a worker).
    goro::wait_group thread_done;
    thread_done.add(1);
    auto leader = goro::spawn([&cache, &computations] {
      return cache.get(1, [&] {
        computations.fetch_add(1);
        until_coalesced(cache, 1);
        return 100;
      });
    });
    CHECK(eventually([&] { return cache.in_flight() == 1; }));
    std::thread t([&] {  // joined below, once it has said it is done
      thread_got = cache.get(1, [&] {
        computations.fetch_add(1);
        return -1;
      });
      thread_done.done();
    });
    CHECK(leader.get() == 100);
    thread_done.wait();  // parks: the thread is past its last use of goro
    t.join();

    // A plain thread computes; coroutines wait for it.
    constexpr int waiters = 10;
    std::thread t2([&] {  // joined below
      cache.get(2, [&] {
        computations.fetch_add(1);
        // A plain thread may block: wait for the coroutines to join this computation.
        while (cache.stats().coalesced < 1 + waiters) std::this_thread::sleep_for(100us);
        return 200;
      });
    });
    CHECK(eventually([&] { return cache.in_flight() == 1; }));
    std::vector<goro::join_handle<int>> hs;
    for (int i = 0; i < waiters; ++i)
      hs.push_back(goro::spawn([&cache, &computations] {
        return cache.get(2, [&] {
          computations.fetch_add(1);
          return -2;
        });
      }));
    for (auto& h : hs) coroutines_got.push_back(h.get());
    // The thread has returned from get() (its computation completed before the waiters woke) or
    // is about to: joining it is short.
    t2.join();
  });
  CHECK(thread_got == 100);
  CHECK(coroutines_got == std::vector<int>(10, 200));
  CHECK(computations.load() == 2);
}

TEST_CASE("future_cache: a caller arriving after completion gets a hit without waiting") {
  watchdog wd("future_cache hit");
  goro::run([&] {
    goro::future_cache<std::string, std::string> cache;
    int computations = 0;
    CHECK(cache.get("x", [&](const std::string& k) {
      ++computations;
      return k + "!";
    }) == "x!");
    auto before = cache.stats();
    auto parks = goro::stats().parks;
    CHECK(cache.get("x", [&](const std::string&) {
      ++computations;
      return std::string("recomputed");
    }) == "x!");
    auto fut = cache.get_future("x", [&] {
      ++computations;
      return std::string("recomputed");
    });
    CHECK(fut.ready());
    CHECK(fut.get() == "x!");
    CHECK(goro::stats().parks == parks);  // nothing parked: no wait at all
    auto after = cache.stats();
    CHECK(computations == 1);
    CHECK(after.hits == before.hits + 2);
    CHECK(after.coalesced == before.coalesced);
    CHECK(after.computations == before.computations);
  });
}

TEST_CASE("future_cache: get_future computes in its own coroutine and shares the result") {
  watchdog wd("future_cache get_future");
  goro::run([&] {
    goro::future_cache<int, std::string> cache;
    goro::chan<int> gate;
    auto f1 = cache.get_future(1, [gate]() mutable {
      gate.recv();  // parks until the test closes the gate
      return std::string("one");
    });
    auto f2 = cache.get_future(1, [] { return std::string("not me"); });
    CHECK(f1.valid());
    CHECK_FALSE(f1.ready());
    CHECK_FALSE(f2.ready());
    CHECK(cache.in_flight() == 1);
    // A coroutine waiting through get() joins the same computation.
    auto waiter = goro::spawn([&cache] { return cache.get(1, [] { return std::string("not me"); }); });
    CHECK(until_coalesced(cache, 2));
    gate.close();
    CHECK(f1.get() == "one");
    CHECK(&f1.get() == &f2.get());  // one result, shared
    CHECK(waiter.get() == "one");
    CHECK(cache.stats().computations == 1);

    // A failing computation: every future's get() rethrows; nothing is cached.
    auto bad = cache.get_future(2, []() -> std::string { throw std::out_of_range("no such key"); });
    CHECK_THROWS_WITH_AS(bad.get(), "no such key", std::out_of_range);
    CHECK_THROWS_AS(bad.get(), std::out_of_range);  // as often as asked
    CHECK_FALSE(cache.contains(2));
    CHECK(cache.get_future(2, [] { return std::string("two"); }).get() == "two");
    CHECK_THROWS_AS(goro::cache_future<int>{}.get(), std::logic_error);
    CHECK(until_only_main());
  });
}

TEST_CASE("future_cache: erase during a computation, and compute asking for its own key") {
  watchdog wd("future_cache erase and recursion");
  goro::run([&] {
    goro::future_cache<int, int> cache;
    std::atomic<int> computations{0};
    goro::chan<int> gate;
    auto leader = goro::spawn([&cache, &computations, gate]() mutable {
      return cache.get(1, [&] {
        computations.fetch_add(1);
        gate.recv();
        return 10;
      });
    });
    auto waiter = goro::spawn([&cache, &computations] {
      eventually([&] { return cache.in_flight() == 1; });  // the leader computes first
      return cache.get(1, [&] {
        computations.fetch_add(1);
        return -1;
      });
    });
    CHECK(until_coalesced(cache, 1));
    CHECK(cache.erase(1));  // forgotten, but the computation goes on for its callers
    CHECK(cache.in_flight() == 0);
    gate.close();
    CHECK(leader.get() == 10);
    CHECK(waiter.get() == 10);
    CHECK_FALSE(cache.contains(1));  // its result was not stored
    CHECK(cache.get(1, [&] { return computations.fetch_add(1) + 100; }) == 101);
    CHECK(computations.load() == 2);

    // compute that asks for its own key would wait for itself: a logic_error instead.
    CHECK_THROWS_AS(cache.get(2, [&] { return cache.get(2, [] { return 0; }); }), std::logic_error);
    CHECK_FALSE(cache.contains(2));  // that computation failed: nothing cached
    CHECK(cache.get(2, [] { return 5; }) == 5);
  });
}
