// mutex.hpp: std::mutex with clang thread-safety annotations (libstdc++'s is not annotated), so
// that GORO_GUARDED_BY / GORO_REQUIRES on the scheduler's fields are checked under clang.
#pragma once

#include <goro/sched/config.hpp>

#include <mutex>

namespace goro::sched::detail {

class GORO_CAPABILITY("mutex") mutex {
 public:
  void lock() GORO_ACQUIRE() { m_.lock(); }
  void unlock() GORO_RELEASE() { m_.unlock(); }

 private:
  std::mutex m_;
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
