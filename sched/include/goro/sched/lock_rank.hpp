// goro/sched/lock_rank.hpp: every lock inside goro has a rank, and a thread may only take a lock
// whose rank is above every rank it holds (Go's lockrank). This table is the lock order of the
// whole runtime, outermost first; docs/architecture.md "Lock order" is this table.
//
// The checker is on where GORO_LOCK_RANKS is 1: goro's CMake turns it on, for goro and every
// program built against it, in the sanitizer and Debug builds (the definition travels with the
// goro::goro target, so the library and its users agree). It keeps a thread-local list of the
// ranks held; an acquisition at or below the highest held rank is fatal and names both locks.
// Locks with rank `none` (spin_locks users make for themselves) are not checked. A try_lock
// cannot deadlock and is not checked, but what it holds counts for later acquisitions.
//
// One rank may be held twice only where that rank says how: `chan` locks are taken by select in
// ascending address order (channels/src/chan.cpp), and the checker enforces that order.
//
// Rule that makes a per-thread list sound: no goro lock is held across a context switch (a park,
// a yield, the end of a coroutine), so a lock is released on the thread that took it.
#pragma once

#include <cstdint>

#ifndef GORO_LOCK_RANKS
#define GORO_LOCK_RANKS 0
#endif

namespace goro::sched {

enum class lock_rank : std::uint8_t {
  none = 0,  // not checked

  // ---- runtime/ (outermost) ----
  future_cache,        // future_cache's map and LRU (future_cache.hpp)
  errgroup,            // an errgroup's first error and limit (errgroup.hpp)
  netfd,               // a TCP socket's in-flight ops (net.cpp): cancels them under it
  context,             // a context node (context.cpp): never two at once; takes chan, timer_heap
  mutex_queue,         // goro::mutex's waiter list (sync.hpp)
  shared_mutex,        // goro::shared_mutex's state
  condition_variable,  // goro::condition_variable's waiter list
  once,                // goro::once
  wait_group,          // goro::wait_group's waiters
  semaphore,           // goro::semaphore's waiters
  weighted_semaphore,  // goro::weighted_semaphore's FIFO
  after_func,          // after_func's func_timer: arms and stops its timer under it
  time_source,         // the time channels' source (time.hpp): arms its timer under it

  // ---- channels/ ----
  chan,  // a channel's state; select holds several, in ascending address order

  // ---- sched/ (innermost) ----
  io_deadline,   // io_op::dl_mu_: arms and cancels the op's deadline timer under it
  timer_heap,    // a worker's timer heap (timer_heap.hpp)
  io_cq,         // a ring's completion-queue lock (io_ring.hpp); takes io_sq
  io_sq,         // a ring's submission-queue lock
  idle,          // the scheduler's idle-worker list
  global_queue,  // the scheduler's global run queue
  coroutine_pool,  // the control-block slabs; the dump takes coroutine_meta under it
  coroutine_meta,  // one coroutine's name and liveness, for dumps
  stack_pool,    // a stack size class's pool
  task_pool,     // the small-object pool of task objects (alloc.cpp)
};

const char* to_string(lock_rank r) noexcept;

namespace detail {
// The checker (sched/src/lock_rank.cpp). Called only where GORO_LOCK_RANKS is 1.
void lock_rank_acquire(lock_rank r, const void* lock) noexcept;  // before a blocking lock()
void lock_rank_acquired(lock_rank r, const void* lock) noexcept;  // after lock() or try_lock()
void lock_rank_release(lock_rank r, const void* lock) noexcept;   // at unlock()
}  // namespace detail

}  // namespace goro::sched
