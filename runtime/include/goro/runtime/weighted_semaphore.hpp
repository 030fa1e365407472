// goro/runtime/weighted_semaphore.hpp: golang.org/x/sync/semaphore.Weighted: a semaphore whose
// acquirers take n units at a time, with context-aware waits.
//
//   goro::weighted_semaphore sem(8);                  // 8 units, e.g. MiB of buffer space
//   if (auto ec = sem.acquire(ctx, 3)) return ec;     // ctx.err() if ctx ends first
//   ... use 3 units ...
//   sem.release(3);
//
// Semantics are Go's:
//   - acquire(ctx, n) takes n units, parking while fewer are free. FIFO: waiters are served in
//     arrival order, and a waiter at the head that needs more than is free blocks the smaller
//     ones behind it (no barging, so large requests are never starved). A newcomer takes units
//     at once only when nobody waits.
//   - A ctx already done fails at once with ctx.err(), even if the units are free. A ctx that ends
//     while waiting: ctx.err(), nothing held (units granted at the same moment are given back).
//   - n greater than the size can never succeed: acquire waits for ctx to end and returns its
//     err() without blocking the queue for others (with a ctx that never ends, it parks for good,
//     as Go's does).
//   - try_acquire(n): takes n units if they are free and nobody waits; never parks.
//   - release(n) gives n units back and serves the queue in order. Releasing more than is held is
//     a bug: std::logic_error (Go panics), and nothing is released.
//   - n < 0 anywhere: std::invalid_argument. n == 0 succeeds at once unless others wait.
// Callable from coroutines (parks) and plain threads (blocks). A ctx with a deadline needs the
// runtime's timers, as all contexts do.
#pragma once

#include <goro/channels/detail/wait_queue.hpp>
#include <goro/sched/spin_lock.hpp>

#include <cstdint>
#include <system_error>

namespace goro {

class context;

class weighted_semaphore {
 public:
  explicit weighted_semaphore(std::int64_t size);
  weighted_semaphore(const weighted_semaphore&) = delete;
  weighted_semaphore& operator=(const weighted_semaphore&) = delete;

  std::error_code acquire(const context& ctx, std::int64_t n = 1);
  bool try_acquire(std::int64_t n = 1);
  void release(std::int64_t n = 1);

  std::int64_t size() const noexcept { return size_; }
  std::int64_t held() noexcept;  // units currently acquired (a snapshot)

 private:
  void notify(detail::wake_list& woken) noexcept GORO_REQUIRES(mu_);

  const std::int64_t size_;
  // Lock order: mu_ is a leaf. Each queued node's elem points at its std::int64_t request.
  sched::spin_lock mu_{sched::lock_rank::weighted_semaphore};
  std::int64_t cur_ GORO_GUARDED_BY(mu_) = 0;  // units held
  detail::wait_queue q_ GORO_GUARDED_BY(mu_);
};

}  // namespace goro
