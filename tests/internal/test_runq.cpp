// The local run queue (sched/src/runq.hpp) on its own, at a capacity of 4 and 8 so that full,
// overflow and steal-half are reached in a few operations. Coroutine pointers are never
// dereferenced by the ring: the tests use fake, distinct addresses.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "runq.hpp"

using goro::sched::coroutine;
using goro::sched::detail::basic_runq;

namespace {

coroutine* fake(std::uintptr_t i) { return reinterpret_cast<coroutine*>((i + 1) * 64); }
std::uintptr_t index_of(coroutine* c) { return reinterpret_cast<std::uintptr_t>(c) / 64 - 1; }

}  // namespace

TEST_CASE("runq: FIFO push and pop, empty and size") {
  basic_runq<4> q;
  CHECK(q.empty());
  CHECK(q.pop() == nullptr);
  for (std::uintptr_t i = 0; i < 3; ++i) CHECK(q.push(fake(i)));
  CHECK(q.size() == 3);
  CHECK_FALSE(q.empty());
  for (std::uintptr_t i = 0; i < 3; ++i) CHECK(q.pop() == fake(i));
  CHECK(q.pop() == nullptr);
  CHECK(q.empty());
}

TEST_CASE("runq: a full ring refuses a push and gives up its older half") {
  basic_runq<4> q;
  for (std::uintptr_t i = 0; i < 4; ++i) REQUIRE(q.push(fake(i)));
  CHECK_FALSE(q.push(fake(99)));  // full: nothing changed
  CHECK(q.size() == 4);
  std::array<coroutine*, 2> half{};
  REQUIRE(q.take_older_half(half) == 2);
  CHECK(half[0] == fake(0));
  CHECK(half[1] == fake(1));
  CHECK(q.size() == 2);
  CHECK(q.push(fake(4)));
  CHECK(q.pop() == fake(2));
  CHECK(q.pop() == fake(3));
  CHECK(q.pop() == fake(4));
  // Not full: take_older_half takes nothing.
  CHECK(q.push(fake(5)));
  CHECK(q.take_older_half(half) == 0);
  CHECK(q.pop() == fake(5));
}

TEST_CASE("runq: indices wrap around many times") {
  basic_runq<4> q;
  std::uintptr_t next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    const int n = 1 + round % 4;
    for (int i = 0; i < n; ++i) REQUIRE(q.push(fake(next_in++)));
    for (int i = 0; i < n; ++i) REQUIRE(q.pop() == fake(next_out++));
  }
  CHECK(q.empty());
}

TEST_CASE("runq: stealing takes half (rounded up), oldest first, and run-next on request") {
  basic_runq<8> victim, thief;
  for (std::uintptr_t i = 0; i < 5; ++i) REQUIRE(victim.push(fake(i)));
  std::uint32_t n = 0;
  coroutine* got = victim.steal_into(thief, false, n);
  CHECK(n == 3);  // 5 - 5/2
  // One to run now (the last of the batch); the rest are published in the thief's ring.
  CHECK(got == fake(2));
  CHECK(thief.pop() == fake(0));
  CHECK(thief.pop() == fake(1));
  CHECK(thief.pop() == nullptr);
  CHECK(victim.size() == 2);
  CHECK(victim.pop() == fake(3));
  CHECK(victim.pop() == fake(4));

  // Empty ring: nothing, unless run-next may be taken.
  CHECK(victim.exchange_next(fake(7)) == nullptr);
  CHECK(victim.has_work());
  CHECK(victim.steal_into(thief, false, n) == nullptr);
  CHECK(n == 0);
  CHECK(victim.steal_into(thief, true, n) == fake(7));
  CHECK(n == 1);
  CHECK_FALSE(victim.has_work());
  CHECK(thief.empty());
}

TEST_CASE("runq: run-next exchange returns the displaced occupant; take_next empties it") {
  basic_runq<4> q;
  CHECK(q.take_next() == nullptr);
  CHECK(q.exchange_next(fake(1)) == nullptr);
  CHECK(q.exchange_next(fake(2)) == fake(1));
  CHECK(q.take_next() == fake(2));
  CHECK(q.take_next() == nullptr);
  CHECK(q.empty());
}

// The owner pushes and pops while thieves steal: every coroutine comes out exactly once
// (invariant R1), and none is lost when the ring is full (the owner then spills half, as
// runq_put does). Bounded: 200,000 items, a watchdog of 60 s.
TEST_CASE("runq: owner and two thieves hand out every item exactly once") {
  constexpr std::uintptr_t total = 200'000;
  basic_runq<8> q;
  std::vector<std::atomic<int>> seen(total);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> taken{0};
  std::atomic<std::uint64_t> bogus{0};  // a pointer that was never pushed (checked at the end)
  auto consume = [&](coroutine* c) {
    const std::uintptr_t i = index_of(c);
    if (i >= total) {
      bogus.fetch_add(1, std::memory_order_relaxed);
      taken.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    seen[i].fetch_add(1, std::memory_order_relaxed);
    taken.fetch_add(1, std::memory_order_relaxed);
  };
  auto thief_main = [&] {
    basic_runq<8> mine;
    while (!done.load(std::memory_order_acquire)) {
      std::uint32_t n = 0;
      if (coroutine* c = q.steal_into(mine, true, n)) {
        consume(c);
        while (coroutine* more = mine.pop()) consume(more);
      } else {
        std::this_thread::yield();
      }
    }
  };
  std::thread t1(thief_main), t2(thief_main);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::uintptr_t next = 0;
  while (next < total && std::chrono::steady_clock::now() < deadline) {
    if (next % 7 == 0) {
      if (coroutine* old = q.exchange_next(fake(next++))) {
        if (!q.push(old)) consume(old);
      }
      continue;
    }
    coroutine* c = fake(next++);
    while (!q.push(c)) {
      std::array<coroutine*, 4> half{};
      const std::uint32_t n = q.take_older_half(half);
      for (std::uint32_t i = 0; i < n; ++i) consume(half[i]);
    }
    if (next % 3 == 0)
      if (coroutine* p = q.pop()) consume(p);
  }
  while (coroutine* p = q.pop()) consume(p);
  if (coroutine* p = q.take_next()) consume(p);
  // The thieves may hold a batch in flight: wait until every item is accounted for.
  while (taken.load() < next && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  t1.join();
  t2.join();
  REQUIRE(next == total);
  CHECK(bogus.load() == 0);
  CHECK(taken.load() == total);
  std::uintptr_t wrong = 0;
  for (auto& s : seen)
    if (s.load() != 1) ++wrong;
  CHECK(wrong == 0);
}
