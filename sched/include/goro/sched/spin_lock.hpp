// goro/sched/spin_lock.hpp: the lock that guards the runtime's own short critical sections
// (a channel's queues and buffer, a sync primitive's waiter list).
//
// Why not std::mutex: it would do, but this one is a single 32-bit word (a channel stays small),
// spins briefly before sleeping (critical sections here are a few dozen instructions, and the
// holder is always running on some thread: nobody parks while holding it), and carries clang
// thread-safety annotations.
//
// Rules for every user: never park, yield or call user code while holding it, and never call
// sched::ready()/waiter::wake() while holding it where that can be avoided (collect, unlock,
// then wake). The sleep is a futex on the word, so a preempted holder costs a syscall, not a
// burnt time slice. The slow paths are out of line (sched/src/spin_lock.cpp), so this header
// includes no platform header.
//
// State: 0 free, 1 locked, 2 locked and someone may be sleeping on the futex (Drepper's
// "Futexes are tricky", mutex 2). Memory ordering: acquire on every successful lock CAS/exchange,
// release on unlock: the critical sections are totally ordered, as with any mutex.
//
// Rank: goro's own locks name their rank (goro/sched/lock_rank.hpp), checked where
// GORO_LOCK_RANKS is 1; a default-constructed lock has rank none and is never checked.
#pragma once

#include <goro/sched/config.hpp>
#include <goro/sched/lock_rank.hpp>

#include <atomic>
#include <cstdint>

namespace goro::sched {

class GORO_CAPABILITY("mutex") spin_lock {
 public:
  constexpr spin_lock() noexcept = default;
  constexpr explicit spin_lock(lock_rank r) noexcept : rank_(r) {}
  spin_lock(const spin_lock&) = delete;
  spin_lock& operator=(const spin_lock&) = delete;

  void lock() GORO_ACQUIRE() {
#if GORO_LOCK_RANKS
    if (rank_ != lock_rank::none) detail::lock_rank_acquire(rank_, this);
#endif
    std::uint32_t e = 0;
    if (GORO_UNLIKELY(!s_.compare_exchange_strong(e, 1, std::memory_order_acquire,
                                                  std::memory_order_relaxed)))
      lock_slow();
#if GORO_LOCK_RANKS
    if (rank_ != lock_rank::none) detail::lock_rank_acquired(rank_, this);
#endif
  }

  bool try_lock() GORO_TRY_ACQUIRE(true) {
    std::uint32_t e = 0;
    const bool ok = s_.compare_exchange_strong(e, 1, std::memory_order_acquire, std::memory_order_relaxed);
#if GORO_LOCK_RANKS
    if (ok && rank_ != lock_rank::none) detail::lock_rank_acquired(rank_, this);
#endif
    return ok;
  }

  void unlock() GORO_RELEASE() {
#if GORO_LOCK_RANKS
    if (rank_ != lock_rank::none) detail::lock_rank_release(rank_, this);
#endif
    if (GORO_UNLIKELY(s_.exchange(0, std::memory_order_release) == 2)) unlock_slow();
  }

  lock_rank rank() const noexcept { return rank_; }

 private:
  // Out of line (sched/src/spin_lock.cpp): contention only. Spins with backoff, then sleeps on
  // the futex; unlock_slow wakes one sleeper.
  GORO_NOINLINE void lock_slow() GORO_NO_THREAD_SAFETY_ANALYSIS;
  GORO_NOINLINE void unlock_slow() noexcept;

  static constexpr int spin_rounds = 256;
  std::atomic<std::uint32_t> s_{0};
  lock_rank rank_ = lock_rank::none;
};

// std::lock_guard is not annotated for clang's analysis; this one is.
class GORO_SCOPED_CAPABILITY spin_guard {
 public:
  explicit spin_guard(spin_lock& l) GORO_ACQUIRE(l) : l_(l) { l_.lock(); }
  ~spin_guard() GORO_RELEASE() { l_.unlock(); }
  spin_guard(const spin_guard&) = delete;
  spin_guard& operator=(const spin_guard&) = delete;

 private:
  spin_lock& l_;
};

}  // namespace goro::sched
