// spin_lock.cpp: sched::spin_lock's contended paths (the lock itself is goro/sched/spin_lock.hpp).
#include <goro/sched/spin_lock.hpp>

#include "futex.hpp"

namespace goro::sched {

void spin_lock::lock_slow() {
  // Spin on a plain load first (no cache-line ping-pong), with exponential backoff, a bounded
  // number of times. Holders never park, so the lock is almost always released within a few
  // hundred cycles; sleeping costs a futex syscall on each side (and a marked lock makes every
  // later unlock pay one), which is why the spin is long: with 128 single pauses, 4x4 MPMC on
  // two workers spent 30% of its time in lock_slow and futex calls.
  for (int i = 0, backoff = 1; i < spin_rounds; ++i) {
    for (int k = 0; k < backoff; ++k) GORO_CPU_RELAX();
    if (backoff < 64) backoff <<= 1;
    if (s_.load(std::memory_order_relaxed) == 0) {
      std::uint32_t e = 0;
      if (s_.compare_exchange_weak(e, 1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
    }
  }
  // Mark "sleepers may exist" and sleep until the word changes. Taking the lock by exchange(2)
  // leaves it marked, which costs at most one unneeded futex_wake at unlock.
  while (s_.exchange(2, std::memory_order_acquire) != 0) detail::futex_wait(&s_, 2);
}

// The word was 2 (marked): someone may sleep on it. Harmless if nobody does (see futex.hpp).
void spin_lock::unlock_slow() noexcept { detail::futex_wake(&s_, 1); }

}  // namespace goro::sched
