// timer_heap.hpp: one worker's timers, a binary min-heap by deadline (timer.cpp).
//
// mu guards the heap vector and every armed timer's when_/index_. timer::heap_ points at the
// heap that holds the timer: stored (release) under mu when armed and when removed; read without
// the lock by cancel(), which re-checks it under mu (the timer may have moved or fired meanwhile).
// next() mirrors the earliest deadline (INT64_MAX when empty) so that worker loops and sleepers
// can look without the lock; it is stored seq_cst: the timer half of the wake-up protocol (timer.cpp,
// "The wake-up half"), whose partner is the sleeper's seq_cst load after its W3 fence.
#pragma once

#include <goro/sched/sched.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <cstdint>
#include <vector>

namespace goro::sched::detail {

class timer_heap {
 public:
  // Arms t at `when`; true if it became the earliest (the caller then runs the wake-up steps).
  // Fatal if t is already armed.
  bool add(timer* t, std::int64_t when);
  // Disarms t if this heap holds it; false if it moved meanwhile (the caller retries) or has left.
  bool remove(timer* t) noexcept;
  // Pops the earliest timer if it is due at `now`, else nullptr. The caller fires it without lock.
  timer* pop_due(std::int64_t now);
  // Empties the heap (at shutdown); the timers are disarmed and returned.
  std::vector<timer*> take_all();

  std::int64_t next() const noexcept { return next_.load(std::memory_order_relaxed); }
  std::int64_t next_seq_cst() const noexcept { return next_.load(std::memory_order_seq_cst); }
  bool empty_hint() const noexcept { return next() == INT64_MAX; }
  std::size_t size_locked_for_test() {
    spin_guard g(mu_);
    return h_.size();
  }

 private:
  void place(std::uint32_t i, timer* t) GORO_REQUIRES(mu_);
  void sift_up(std::uint32_t i) GORO_REQUIRES(mu_);
  void sift_down(std::uint32_t i) GORO_REQUIRES(mu_);
  timer* remove_at(std::uint32_t i) GORO_REQUIRES(mu_);
  void publish_next() GORO_REQUIRES(mu_);

  sched::spin_lock mu_{lock_rank::timer_heap};
  std::vector<timer*> h_ GORO_GUARDED_BY(mu_);
  std::atomic<std::int64_t> next_{INT64_MAX};
};

}  // namespace goro::sched::detail
