// sync_flag.hpp: a one-waiter, one-setter flag built directly on sched::waiter, for tests that
// exercise park/ready without the channel layer. reset() re-arms it for the next round.
#pragma once

#include <goro/sched/sched.hpp>

#include <atomic>
#include <cstdint>

namespace goro_test {

class flag {
 public:
  void wait() {
    if (s_.load(std::memory_order_acquire) == 1) return;
    goro::sched::waiter w;
    std::uintptr_t e = 0;
    if (s_.compare_exchange_strong(e, reinterpret_cast<std::uintptr_t>(&w),
                                   std::memory_order_acq_rel, std::memory_order_acquire))
      w.wait();
  }
  void set() {
    std::uintptr_t o = s_.exchange(1, std::memory_order_acq_rel);
    if (o > 1) reinterpret_cast<goro::sched::waiter*>(o)->wake();
  }
  void reset() { s_.store(0, std::memory_order_relaxed); }
  bool is_set() const { return s_.load(std::memory_order_acquire) == 1; }

 private:
  std::atomic<std::uintptr_t> s_{0};
};

}  // namespace goro_test
