// timer.cpp: the per-worker timer heaps (arming, cancelling, firing) and the clock.
//
// ==== Timers =====================================================================================
// Each worker has a timer_heap (timer_heap.hpp). A timer is armed on the heap of the worker that arms
// it (worker 0's from other threads). Who fires:
//   - every worker, each time its loop looks for work (find_runnable), fires its own due timers
//     (one relaxed load when its heap is empty; a clock read when not);
//   - a worker that finds no work fires every heap's due timers before it steals or sleeps, so a
//     busy worker's timers are served by an idle one;
//   - a worker going to sleep waits in its ring (io.cpp) until the earliest deadline of all heaps
//     (the wait's timeout).
// Coroutine switches that bypass the loop (switch_direct) return to it every 61st switch, so a
// worker busy with hand-offs still looks at its heap every few microseconds. A worker that runs
// one coroutine without switching fires nothing meanwhile (no preemption, as in Go before 1.14);
// an idle worker serves its timers instead.
//
// The wake-up half (no lost deadline): arming a timer that becomes its heap's earliest is like
// publishing work: store heap.next (seq_cst), fence, then the submitter's S3/S4/S5 steps
// (wake_one_if_needed). A worker going to sleep reads every heap's next after its W3 fence. So
// either the sleeper sees the new deadline and shortens its sleep, or the armer sees the sleeper
// and wakes it, which then looks again and sleeps with the new deadline.
//
// Firing order: one timer at a time, earliest first: lock, pop the top if due, unlock, fire().
// fire() runs without any lock, so it may ready coroutines, send on channels and re-arm.
#include <goro/sched/sched.hpp>

#include <time.h>

#include <algorithm>
#include <stdexcept>

#include "core.hpp"

namespace goro::sched {

// The heap's view of a timer's private fields.
struct timer_access {
  static std::int64_t& when(timer* t) noexcept { return t->when_; }
  static std::uint32_t& index(timer* t) noexcept { return t->index_; }
  static std::atomic<void*>& heap(timer* t) noexcept { return t->heap_; }
};

std::int64_t now_ns() noexcept {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

using ta = timer_access;

namespace detail {

// Heap primitives: the caller holds mu_.
void timer_heap::place(std::uint32_t i, timer* t) {
  h_[i] = t;
  ta::index(t) = i;
}

void timer_heap::sift_up(std::uint32_t i) {
  timer* t = h_[i];
  while (i > 0) {
    std::uint32_t parent = (i - 1) / 2;
    if (ta::when(h_[parent]) <= ta::when(t)) break;
    place(i, h_[parent]);
    i = parent;
  }
  place(i, t);
}

void timer_heap::sift_down(std::uint32_t i) {
  const auto n = static_cast<std::uint32_t>(h_.size());
  timer* t = h_[i];
  for (;;) {
    std::uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && ta::when(h_[c + 1]) < ta::when(h_[c])) ++c;
    if (ta::when(t) <= ta::when(h_[c])) break;
    place(i, h_[c]);
    i = c;
  }
  place(i, t);
}

// Removes the timer at position i and returns it, disarmed.
timer* timer_heap::remove_at(std::uint32_t i) {
  timer* t = h_[i];
  timer* last = h_.back();
  h_.pop_back();
  if (i < h_.size()) {
    place(i, last);
    sift_down(i);
    sift_up(ta::index(last));
  }
  ta::heap(t).store(nullptr, std::memory_order_release);  // partner: cancel's acquire load
  return t;
}

void timer_heap::publish_next() {
  // seq_cst: S1 of the wake-up protocol; partner: the sleeper's load after its W3 fence.
  next_.store(h_.empty() ? INT64_MAX : ta::when(h_.front()), std::memory_order_seq_cst);
}

bool timer_heap::add(timer* t, std::int64_t when) {
  sched::spin_guard g(mu_);
  if (ta::heap(t).load(std::memory_order_relaxed) != nullptr)
    fatal("goro: a timer was armed twice (add_timer on an armed timer)");
  ta::when(t) = when;
  h_.push_back(t);
  sift_up(static_cast<std::uint32_t>(h_.size() - 1));
  ta::heap(t).store(this, std::memory_order_release);  // partner: cancel's acquire load
  const bool earliest = ta::index(t) == 0;
  if (earliest) publish_next();
  return earliest;
}

bool timer_heap::remove(timer* t) noexcept {
  sched::spin_guard g(mu_);
  if (ta::heap(t).load(std::memory_order_relaxed) != this) return false;  // moved or fired
  const bool was_first = ta::index(t) == 0;
  remove_at(ta::index(t));
  if (was_first) publish_next();
  return true;
}

timer* timer_heap::pop_due(std::int64_t now) {
  sched::spin_guard g(mu_);
  if (h_.empty() || ta::when(h_.front()) > now) {
    publish_next();
    return nullptr;
  }
  timer* t = remove_at(0);
  publish_next();
  return t;
}

std::vector<timer*> timer_heap::take_all() {
  std::vector<timer*> left;
  sched::spin_guard g(mu_);
  left.swap(h_);
  for (timer* t : left) ta::heap(t).store(nullptr, std::memory_order_release);
  publish_next();
  return left;
}

}  // namespace detail

void add_timer(timer* t, std::int64_t when) {
  detail::worker* w = detail::current_worker();
  detail::scheduler* s = w ? &w->sched : detail::current_scheduler();
  if (!s) throw std::logic_error("goro: cannot arm a timer: no goro::run() is running");
  s->add_timer(w ? *w : s->worker_at(0), t, when);
}

bool timer_armed(const timer* t) noexcept {
  return t->heap_.load(std::memory_order_acquire) != nullptr;
}

bool cancel_timer(timer* t) noexcept {
  for (;;) {
    // Acquire: partner of the heap's release stores (add, remove_at).
    auto* th = static_cast<detail::timer_heap*>(ta::heap(t).load(std::memory_order_acquire));
    if (!th) return false;  // not armed, or being fired
    if (th->remove(t)) return true;
    // Moved meanwhile (or fired): look again.
  }
}

namespace detail {

void scheduler::add_timer(worker& w, sched::timer* t, std::int64_t when) {
  // A sleeping worker may be waiting for a later deadline: wake one to look again (S2..S5).
  if (w.timers.add(t, when)) wake_one_if_needed();
}

bool scheduler::run_due_timers(worker& w, timer_heap& th, std::int64_t now) {
  bool fired = false;
  while (th.next() <= now) {
    sched::timer* t = th.pop_due(now);
    if (!t) break;
    w.timers_fired.inc();
    t->fire();
    fired = true;
  }
  return fired;
}

bool scheduler::run_all_due_timers(worker& w) {
  bool fired = false;
  std::int64_t now = 0;
  for (auto& v : workers_) {
    if (v->timers.empty_hint()) continue;
    if (!now) now = now_ns();
    fired |= run_due_timers(w, v->timers, now);
  }
  return fired;
}

std::int64_t scheduler::earliest_timer() const noexcept {
  std::int64_t e = INT64_MAX;
  for (auto& v : workers_) e = std::min(e, v->timers.next_seq_cst());
  return e;
}

void scheduler::abandon_timers() {
  for (auto& v : workers_)
    for (sched::timer* t : v->timers.take_all()) t->abandon();
}

}  // namespace detail

}  // namespace goro::sched
