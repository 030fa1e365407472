// goro/runtime/sync.hpp: Go's sync package for coroutines: mutex, shared_mutex (RWMutex),
// condition_variable, once, wait_group, semaphore.
//
// Every wait parks the calling coroutine (its worker runs other coroutines meanwhile); on a plain
// thread it blocks the thread. The types meet the standard's Lockable / SharedLockable
// requirements, so std::lock_guard, std::unique_lock, std::scoped_lock and std::shared_lock work.
//
// Internals: each object has a sched::spin_lock guarding a FIFO of parked parties
// (goro::detail::wait_queue, nodes on the waiters' stacks). The rules are the channels' rules:
// never park, call user code or wake anybody while holding the spin lock; collect, unlock, wake.
// Lock order: a primitive's spin lock is a leaf (nothing else is taken while it is held).
#pragma once

#include <goro/channels/detail/wait_queue.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <mutex>
#include <stop_token>
#include <system_error>
#include <utility>

namespace goro {

class context;

// A mutual exclusion lock (Go's sync.Mutex), not recursive, not tied to a coroutine: as in Go,
// one coroutine may lock it and another unlock it.
//
// Two modes, as Go's: normally an unlock releases the lock and wakes one waiter to compete for
// it, and a running coroutine may take it first (barging: the lock stays hot on a running
// worker). A waiter that has waited longer than 1 ms switches the mutex to hand-off mode: each
// unlock then passes ownership straight to the longest waiter (FIFO), so nobody starves; the
// mode ends when the queue empties. Unlocking an unlocked mutex is a fatal error.
class mutex {
 public:
  mutex() = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  void lock() {
    std::uint32_t e = 0;
    if (GORO_LIKELY(state_.compare_exchange_weak(e, locked, std::memory_order_acquire,
                                                 std::memory_order_relaxed)))
      return;
    lock_slow();
  }
  bool try_lock() noexcept {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    while (!(s & (locked | handoff))) {
      if (state_.compare_exchange_weak(s, s | locked, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
    }
    return false;
  }
  // Timed and context-aware locks (std::timed_mutex's names; lock(ctx) in the style of
  // weighted_semaphore::acquire). try_lock_until: true once locked, false if t passed first (a
  // lock won at the deadline counts). lock(ctx): {} once locked, ctx.err() if ctx ends first
  // (nothing held then); a ctx already done fails at once, even with the mutex free, as
  // weighted_semaphore::acquire does; a lock granted at the moment ctx ends is kept ({}).
  // A waiter that gives up leaves the queue and the mutex's state as if it had never queued.
  // Both go through detail::wait_abortable: a deadline that has to be waited for needs a running
  // runtime (std::logic_error otherwise); lock(ctx) works on plain threads too.
  bool try_lock_until(std::chrono::steady_clock::time_point t);
  template <class Rep, class Period>
  bool try_lock_for(std::chrono::duration<Rep, Period> d) {
    return try_lock_until(std::chrono::steady_clock::now() +
                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  }
  std::error_code lock(const context& ctx);
  void unlock() {
    std::uint32_t e = locked;
    if (GORO_LIKELY(state_.compare_exchange_strong(e, 0, std::memory_order_release,
                                                   std::memory_order_relaxed)))
      return;
    unlock_slow();
  }

 private:
  // state_ bits. locked: owned. waiters: the queue is not empty. woken: a waiter was woken to
  // compete and has not yet taken the lock or gone back to sleep (no second wake meanwhile).
  // handoff: starvation mode (unlock hands ownership to the queue's head).
  // Transitions that add `locked` may happen without q_mu_ (the fast paths, barging); every
  // other transition happens under q_mu_. A waiter queues only after a CAS that saw `locked`
  // and set `waiters` under q_mu_; an unlock that sees `waiters` and not `woken` takes q_mu_ and
  // wakes the head: so a queued waiter is never forgotten.
  static constexpr std::uint32_t locked = 1, waiters = 2, woken = 4, handoff = 8;

  bool spin_acquire(bool was_woken);
  void lock_slow() { (void)lock_slow(no_deadline, nullptr); }
  // False: the deadline (sched::now_ns() scale) passed or *st was stop-requested first.
  bool lock_slow(std::int64_t deadline, const std::stop_token* st);
  static constexpr std::int64_t no_deadline = std::numeric_limits<std::int64_t>::max();
  void unlock_slow();

  std::atomic<std::uint32_t> state_{0};
  sched::spin_lock q_mu_{sched::lock_rank::mutex_queue};
  detail::wait_queue q_ GORO_GUARDED_BY(q_mu_);
};

// A reader/writer lock (Go's sync.RWMutex). Writer-preferring: once a writer waits, new readers
// queue behind it, so a stream of readers cannot starve writers; when a writer unlocks, every
// reader that queued meanwhile is admitted before the next writer, so writers cannot starve
// readers either.
class shared_mutex {
 public:
  shared_mutex() = default;
  shared_mutex(const shared_mutex&) = delete;
  shared_mutex& operator=(const shared_mutex&) = delete;

  void lock();
  bool try_lock();
  void unlock();
  void lock_shared();
  bool try_lock_shared();
  void unlock_shared();

 private:
  sched::spin_lock mu_{sched::lock_rank::shared_mutex};
  std::size_t readers_ GORO_GUARDED_BY(mu_) = 0;  // readers holding it
  bool writer_ GORO_GUARDED_BY(mu_) = false;      // a writer holds it
  detail::wait_queue wq_ GORO_GUARDED_BY(mu_);    // waiting writers
  detail::wait_queue rq_ GORO_GUARDED_BY(mu_);    // waiting readers
};

// Waits for a notification while releasing a goro::mutex (std::condition_variable's interface).
// Spurious wake-ups do not happen, but the predicate overloads are the way to wait.
class condition_variable {
 public:
  condition_variable() = default;
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  void wait(std::unique_lock<mutex>& lk);
  template <class Pred>
  void wait(std::unique_lock<mutex>& lk, Pred pred) {
    while (!pred()) wait(lk);
  }
  // Timed waits (std::condition_variable's): no_timeout when notified, timeout once t has passed
  // (the lock is re-acquired either way). Built on detail::wait_abortable: a timer on the
  // scheduler's heap ends the park, so they need a running runtime (std::logic_error otherwise).
  std::cv_status wait_until(std::unique_lock<mutex>& lk, std::chrono::steady_clock::time_point t);
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lk, std::chrono::duration<Rep, Period> d) {
    return wait_until(lk, std::chrono::steady_clock::now() +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  }
  template <class Pred>
  bool wait_until(std::unique_lock<mutex>& lk, std::chrono::steady_clock::time_point t, Pred pred) {
    while (!pred())
      if (wait_until(lk, t) == std::cv_status::timeout) return pred();
    return true;
  }
  template <class Rep, class Period, class Pred>
  bool wait_for(std::unique_lock<mutex>& lk, std::chrono::duration<Rep, Period> d, Pred pred) {
    return wait_until(lk, std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(d),
                      std::move(pred));
  }
  void notify_one() noexcept;
  void notify_all() noexcept;

 private:
  void enqueue_and_unlock(std::unique_lock<mutex>& lk, detail::wait_node& n, const char* who);

  sched::spin_lock mu_{sched::lock_rank::condition_variable};
  detail::wait_queue q_ GORO_GUARDED_BY(mu_);
};

// Runs a function once (Go's sync.Once, with std::call_once's rule for exceptions): the first
// caller runs f; concurrent callers park until it has returned. If f throws, the exception goes
// to that caller and the once is not done: the next caller (a parked one included) runs its f.
class once {
 public:
  once() = default;
  once(const once&) = delete;
  once& operator=(const once&) = delete;

  template <class F, class... Args>
  void call(F&& f, Args&&... args) {
    if (GORO_LIKELY(state_.load(std::memory_order_acquire) == done_state)) return;
    if (!begin()) return;  // done, possibly by another caller we parked behind
    try {
      std::forward<F>(f)(std::forward<Args>(args)...);
    } catch (...) {
      finish(false);
      throw;
    }
    finish(true);
  }
  bool done() const noexcept { return state_.load(std::memory_order_acquire) == done_state; }

 private:
  static constexpr std::uint32_t idle = 0, running = 1, done_state = 2;
  // True: the caller must run f. False: f has run (possibly after parking for it).
  bool begin();
  void finish(bool succeeded) noexcept;

  std::atomic<std::uint32_t> state_{idle};
  sched::spin_lock mu_{sched::lock_rank::once};
  detail::wait_queue q_ GORO_GUARDED_BY(mu_);
};

// Waits for a collection of coroutines to finish (Go's sync.WaitGroup): add(n) before starting
// them, done() in each, wait() parks until the counter is zero. A negative counter throws
// std::logic_error. May be reused once wait() has returned.
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  void add(std::int64_t delta = 1);
  void done() { add(-1); }
  void wait();
  // Waits until the counter is zero ({}) or ctx ends (ctx.err(); the waiter is unregistered, as
  // if it had never waited). A ctx already done fails at once, as weighted_semaphore::acquire.
  std::error_code wait(const context& ctx);
  std::int64_t count() const noexcept {
    return static_cast<std::int32_t>(state_.load(std::memory_order_acquire) >> 32);
  }

 private:
  // Go's layout: the counter in the high 32 bits, the number of registered waiters in the low.
  // One word, so the add() that reaches zero knows whether anyone waits: with no waiter it never
  // touches the object again (a waiter may destroy it as soon as it sees zero), and a waiter
  // registers only while the counter is above zero.
  std::atomic<std::uint64_t> state_{0};
  sched::spin_lock mu_{sched::lock_rank::wait_group};
  detail::wait_queue q_ GORO_GUARDED_BY(mu_);
};

// A counting semaphore (golang.org/x/sync/semaphore with weight 1; std::counting_semaphore's
// names). FIFO: permits go to waiters in arrival order, and a newcomer does not overtake them.
class semaphore {
 public:
  explicit semaphore(std::ptrdiff_t initial);
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  void acquire();
  bool try_acquire();
  // Waits for a permit until t (std::counting_semaphore's): false if t passed first. Needs a
  // running runtime when it has to wait (std::logic_error otherwise).
  bool try_acquire_until(std::chrono::steady_clock::time_point t);
  template <class Rep, class Period>
  bool try_acquire_for(std::chrono::duration<Rep, Period> d) {
    return try_acquire_until(std::chrono::steady_clock::now() +
                             std::chrono::duration_cast<std::chrono::steady_clock::duration>(d));
  }
  void release(std::ptrdiff_t n = 1);
  std::ptrdiff_t available() noexcept;

 private:
  sched::spin_lock mu_{sched::lock_rank::semaphore};
  std::ptrdiff_t count_ GORO_GUARDED_BY(mu_);
  detail::wait_queue q_ GORO_GUARDED_BY(mu_);
};

}  // namespace goro
