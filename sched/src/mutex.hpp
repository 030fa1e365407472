// mutex.hpp: std::mutex with a lock rank and clang thread-safety annotations (libstdc++'s is not annotated), so
// that GORO_GUARDED_BY / GORO_REQUIRES on the scheduler's fields are checked under clang.
#pragma once

#include <goro/sched/config.hpp>
#include <goro/sched/lock_rank.hpp>

#include <mutex>

namespace goro::sched::detail {

// Every scheduler mutex has a rank (goro/sched/lock_rank.hpp), checked as spin_lock's are.
class GORO_CAPABILITY("mutex") mutex {
 public:
  explicit mutex(lock_rank r) noexcept : rank_(r) {}
  void lock() GORO_ACQUIRE() {
#if GORO_LOCK_RANKS
    lock_rank_acquire(rank_, this);
#endif
    m_.lock();
#if GORO_LOCK_RANKS
    lock_rank_acquired(rank_, this);
#endif
  }
  void unlock() GORO_RELEASE() {
#if GORO_LOCK_RANKS
    lock_rank_release(rank_, this);
#endif
    m_.unlock();
  }

 private:
  std::mutex m_;
  [[maybe_unused]] lock_rank rank_;  // read only where GORO_LOCK_RANKS is 1
};

class GORO_SCOPED_CAPABILITY lock_guard {
 public:
  explicit lock_guard(mutex& m) GORO_ACQUIRE(m) : m_(m) { m_.lock(); }
  ~lock_guard() GORO_RELEASE() { m_.unlock(); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  mutex& m_;
};

}  // namespace goro::sched::detail
