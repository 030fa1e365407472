// after_func.cpp: time.AfterFunc on the scheduler's timer heaps (see goro/runtime/after_func.hpp).
#include <goro/runtime/after_func.hpp>
#include <goro/runtime/go.hpp>

#include <exception>
#include <new>

namespace goro::detail {

void func_source::arm(std::int64_t when) {
  ref();  // the heap's reference
  try {
    sched::add_timer(this, when);
  } catch (...) {
    refs_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  pending_ = true;
}

void func_source::start(std::int64_t when) {
  try {
    sched::spin_guard g(mu_);
    arm(when);
  } catch (...) {
    unref();  // the caller's reference: nobody else holds one
    throw;
  }
}

void func_source::fire() noexcept {
  // The heap's reference is ours: it goes to the coroutine, or is dropped (after the unlock: it
  // may be the last one).
  bool run;
  {
    sched::spin_guard g(mu_);
    // Suppressed: stopped, or re-armed by a reset() while this firing was on its way to mu_.
    run = pending_ && !sched::timer_armed(this);
    if (run) pending_ = false;
  }
  if (!run) {
    unref();
    return;
  }
  try {
    goro::go(spawn_options{.name = "time.AfterFunc"}, [this]() noexcept(false) {
      struct drop {
        func_source* s;
        ~drop() { s->unref(); }
      } d{this};
      fn_();
    });
  } catch (...) {
    sched::fatal("time: after_func: could not start the coroutine for the function (out of memory)");
  }
}

bool func_source::stop() {
  sched::spin_guard g(mu_);
  if (sched::cancel_timer(this)) refs_.fetch_sub(1, std::memory_order_relaxed);  // the heap's; the caller holds one
  return std::exchange(pending_, false);
}

bool func_source::reset(std::int64_t when) {
  sched::spin_guard g(mu_);
  if (sched::cancel_timer(this)) refs_.fetch_sub(1, std::memory_order_relaxed);
  const bool was_pending = pending_;
  arm(when);  // a firing of the old arming that is on its way to mu_ finds us re-armed
  return was_pending;
}

}  // namespace goro::detail
