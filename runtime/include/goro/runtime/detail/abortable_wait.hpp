// goro/runtime/detail/abortable_wait.hpp: a park that a deadline or a context can end: the one
// mechanism behind every timed and context-aware wait of the sync types (try_lock_for,
// condition_variable::wait_until, semaphore::try_acquire_until, mutex::lock(ctx),
// wait_group::wait(ctx), weighted_semaphore::acquire(ctx, n)).
//
// It adds two wakers to the park/ready contract (sched/sched.hpp), and changes nothing in it:
//   1. The waiter publishes its wait_node on its primitive's queue under the primitive's lock,
//      releases the lock, and calls wait_abortable (which parks through sched::waiter).
//   2. The ordinary waker pops the node under that lock and wakes the waiter (unchanged).
//   3. The deadline (a sched::timer on the waiter's stack, as goro::sleep_for's) and the context
//      (a std::stop_callback on its stop_token, run by whoever cancels it) each call abort(),
//      which takes the same lock and, if the node is still queued, takes it out (with whatever
//      bookkeeping the primitive needs) and returns true; the caller of abort() then wakes the
//      waiter. abort() returns false when the node is gone already (a waker has it).
// Whoever takes the node out of the queue under the lock wakes the waiter, so exactly one
// ready() reaches each park, however the three race. Before it returns, wait_abortable disarms
// the timer (waiting for a fire() that has begun to finish: it only touches the stack objects)
// and destroys the stop callback (std::stop_callback's destructor waits for a running callback),
// so no waker touches the waiter's stack after it returns.
#pragma once

#include <goro/sched/sched.hpp>

#include <atomic>
#include <cstdint>
#include <limits>
#include <stop_token>

namespace goro::detail {

inline constexpr std::int64_t no_wait_deadline = std::numeric_limits<std::int64_t>::max();

// Parks w until woken by the primitive, or until `deadline` (now_ns() scale; no_wait_deadline:
// none) passes, or until `st` is stop-requested (an empty token: never). Returns true if abort()
// took the node out (timed out or cancelled: the caller has not got what it waited for), false if
// the primitive's waker woke it. A deadline already past aborts at once, without parking. abort:
// `bool() noexcept`, callable from any thread with no lock held; it must never block or park.
// Throws std::logic_error (with the node taken out) if a deadline needs the timer heap and no
// runtime runs.
template <class Abort>
bool wait_abortable(sched::waiter& w, const char* reason, std::int64_t deadline, const std::stop_token& st,
                    Abort& abort) {
  struct aborter {
    Abort* abort;
    sched::waiter* w;
    bool aborted = false;  // written by the aborter that won, before its wake (which publishes it)
    void operator()() noexcept {
      if ((*abort)()) {
        aborted = true;
        w->wake();
      }
    }
  } a{&abort, &w};
  struct deadline_timer final : sched::timer {
    aborter* a = nullptr;
    std::atomic<bool> finished{false};  // release: the last thing fire() does with *this
    void fire() noexcept override {
      (*a)();
      finished.store(true, std::memory_order_release);
    }
  } t;
  t.a = &a;
  bool armed = false;
  if (deadline != no_wait_deadline) {
    if (deadline <= sched::now_ns()) {
      if (abort()) return true;  // nobody else can wake us now
      w.wait(reason);            // a waker has the node: its wake is on the way
      return false;
    }
    try {
      sched::add_timer(&t, deadline);
      armed = true;
    } catch (...) {
      if (abort()) throw;
      w.wait(reason);
      return false;
    }
  }
  struct stop_fn {
    aborter* a;
    void operator()() const noexcept { (*a)(); }
  };
  {
    // Runs a() here if already requested; registers nothing for an empty token. Its destructor
    // (leaving this block) unregisters it, waiting for a callback running on another thread.
    std::stop_callback<stop_fn> cb(st, stop_fn{&a});
    w.wait(reason);
    if (armed && !sched::cancel_timer(&t))
      while (!t.finished.load(std::memory_order_acquire)) sched::yield();  // a fire() in progress
  }
  return a.aborted;
}

}  // namespace goro::detail
