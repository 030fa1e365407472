// One worker's timer heap (sched/src/timer_heap.hpp) on its own: order, the earliest-deadline
// mirror, removal from the middle, a remove that finds the timer gone, and take_all.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "timer_heap.hpp"

using goro::sched::detail::timer_heap;

namespace {

struct test_timer final : goro::sched::timer {
  int id = 0;
  void fire() noexcept override {}
};

}  // namespace

TEST_CASE("timer_heap: pops in deadline order and mirrors the earliest deadline") {
  timer_heap h;
  CHECK(h.next() == INT64_MAX);
  CHECK(h.empty_hint());
  std::vector<std::unique_ptr<test_timer>> ts;
  std::mt19937 rng(7);
  std::vector<std::int64_t> whens;
  std::int64_t earliest = INT64_MAX;
  for (int i = 0; i < 500; ++i) {
    ts.push_back(std::make_unique<test_timer>());
    const std::int64_t when = 1000 + static_cast<std::int64_t>(rng() % 100000);
    const bool became_first = h.add(ts.back().get(), when);
    CHECK(became_first == (when < earliest));
    earliest = std::min(earliest, when);
    CHECK(h.next() == earliest);
    CHECK(goro::sched::timer_armed(ts.back().get()));
    whens.push_back(when);
  }
  std::sort(whens.begin(), whens.end());
  // Nothing is due before the earliest deadline.
  CHECK(h.pop_due(whens.front() - 1) == nullptr);
  std::size_t k = 0;
  while (goro::sched::timer* t = h.pop_due(INT64_MAX - 1)) {
    REQUIRE(k < whens.size());
    CHECK(t->deadline() == whens[k]);
    CHECK_FALSE(goro::sched::timer_armed(t));
    ++k;
    CHECK(h.next() == (k < whens.size() ? whens[k] : INT64_MAX));
  }
  CHECK(k == whens.size());
}

TEST_CASE("timer_heap: removing from the middle keeps the order; a stale remove is refused") {
  timer_heap a, b;
  std::vector<std::unique_ptr<test_timer>> ts;
  for (int i = 0; i < 64; ++i) {
    ts.push_back(std::make_unique<test_timer>());
    ts.back()->id = i;
    a.add(ts.back().get(), 100 + (i * 37) % 64);
  }
  // Remove every third one.
  std::vector<std::int64_t> left;
  for (int i = 0; i < 64; ++i) {
    if (i % 3 == 0) {
      CHECK(a.remove(ts[i].get()));
      CHECK_FALSE(goro::sched::timer_armed(ts[i].get()));
      CHECK_FALSE(a.remove(ts[i].get()));  // already out: refused
    } else {
      left.push_back(100 + (i * 37) % 64);
    }
  }
  // A timer armed on another heap is not this heap's to remove (cancel_timer then retries on
  // the heap the timer names).
  CHECK(b.add(ts[0].get(), 5));
  CHECK_FALSE(a.remove(ts[0].get()));
  CHECK(b.remove(ts[0].get()));
  std::sort(left.begin(), left.end());
  std::vector<std::int64_t> got;
  while (goro::sched::timer* t = a.pop_due(INT64_MAX - 1)) got.push_back(t->deadline());
  CHECK(got == left);
}

TEST_CASE("timer_heap: take_all disarms every timer and empties the heap") {
  timer_heap h;
  test_timer t1, t2, t3;
  h.add(&t1, 30);
  h.add(&t2, 10);
  h.add(&t3, 20);
  CHECK(h.next() == 10);
  auto all = h.take_all();
  CHECK(all.size() == 3);
  CHECK(h.next() == INT64_MAX);
  for (auto* t : {&t1, &t2, &t3}) CHECK_FALSE(goro::sched::timer_armed(t));
  CHECK(h.pop_due(INT64_MAX - 1) == nullptr);
  // Disarmed timers can be armed again.
  CHECK(h.add(&t1, 1));
  CHECK(h.remove(&t1));
}
