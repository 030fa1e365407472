// time.cpp: sleep, after, ticker and timer on the scheduler's timer heaps.
#include <goro/runtime/time.hpp>

#include <stdexcept>
#include <thread>
#include <utility>

namespace goro::detail {

void sleep_until_ns(std::int64_t when) {
  if (!sched::in_coroutine()) {
    // A plain thread: sleep it (no runtime needed).
    std::int64_t left = when - sched::now_ns();
    if (left > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(left));
    return;
  }
  // The sleeper's timer lives on its stack: fire() only wakes it, and the coroutine cannot
  // return before that wake (exactly one per park).
  struct sleeper final : sched::timer {
    sched::waiter w;
    void fire() noexcept override { w.wake(); }
  } s;
  if (when <= sched::now_ns()) {
    sched::yield();  // Go's Sleep(0) and negative durations return at once; we let others run
    return;
  }
  sched::add_timer(&s, when);
  s.w.wait("sleep");
}

namespace {
// A one-shot, fire-and-forget timer that owns its channel handle and frees itself.
struct after_timer final : sched::timer {
  chan<steady::time_point> ch{1};
  void fire() noexcept override {
    ch.try_send(from_ns(sched::now_ns()));  // capacity 1, one send: never blocks, never fails
    delete this;
  }
  void abandon() noexcept override { delete this; }
};
}  // namespace

recv_chan<steady::time_point> after_ns(std::int64_t delay) {
  auto* t = new after_timer;
  recv_chan<steady::time_point> c = t->ch;
  try {
    sched::add_timer(t, sched::now_ns() + (delay > 0 ? delay : 0));
  } catch (...) {
    delete t;
    throw;
  }
  return c;
}

// ---- time_source (ticker, timer) ----

void time_source::arm(std::int64_t when) {
  refs_.fetch_add(1, std::memory_order_relaxed);  // the heap's reference
  try {
    sched::add_timer(this, when);
  } catch (...) {
    refs_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  pending_ = true;
}

void time_source::start(std::int64_t when) {
  sched::spin_guard g(mu_);
  arm(when);
}

void start_or_free(time_source* s, std::int64_t when) {
  try {
    s->start(when);
  } catch (...) {
    s->unref();
    throw;
  }
}

void time_source::fire() noexcept {
  // The heap has let go of us; its reference is ours until we re-arm or drop it. The send happens
  // under mu_, so stop() and reset() either come before it (and suppress it) or after it.
  mu_.lock();
  // Suppressed: stopped, already delivered, or superseded by a reset() that re-armed us while
  // this firing was on its way here.
  if (stopped_ || !pending_ || sched::timer_armed(this)) {
    mu_.unlock();
    unref();
    return;
  }
  ch.try_send(from_ns(sched::now_ns()));  // a full channel drops the tick (a slow reader)
  if (period_ > 0) {
    // Next tick one period after this one's deadline, skipping those already missed.
    std::int64_t now = sched::now_ns(), next = deadline() + period_;
    if (next <= now) next += ((now - next) / period_ + 1) * period_;
    sched::add_timer(this, next);  // the heap takes our reference back
    mu_.unlock();
    return;
  }
  pending_ = false;
  mu_.unlock();
  unref();
}

bool time_source::stop() {
  sched::spin_guard g(mu_);
  stopped_ = true;
  if (sched::cancel_timer(this))
    refs_.fetch_sub(1, std::memory_order_relaxed);  // the heap's; the caller still holds one
  // A firing already off the heap but not yet past mu_ will find stopped_ and send nothing.
  return std::exchange(pending_, false);
}

bool time_source::reset(std::int64_t when, std::int64_t period) {
  sched::spin_guard g(mu_);
  if (sched::cancel_timer(this)) refs_.fetch_sub(1, std::memory_order_relaxed);
  const bool was_pending = pending_;
  // A firing of the old arming that is on its way to mu_ will find us re-armed and send nothing.
  if (period) period_ = period;
  stopped_ = false;
  arm(when);
  return was_pending;
}

}  // namespace goro::detail

namespace goro {

std::int64_t ticker::checked(std::int64_t p) {
  if (p <= 0) throw std::invalid_argument("goro::ticker: non-positive period");
  return p;
}

}  // namespace goro
