// timer.cpp: the per-worker timer heaps (arming, cancelling, firing) and the clock.
//
// ==== Timers =====================================================================================
// Each worker has a timer_heap (core.hpp). A timer is armed on the heap of the worker that arms
// it (worker 0's from other threads). Who fires:
//   - every worker, each time its loop looks for work (find_runnable), fires its own due timers
//     (one relaxed load when its heap is empty; a clock read when not);
//   - a worker that finds no work fires every heap's due timers before it steals or sleeps, so a
//     busy worker's timers are served by an idle one;
//   - a worker going to sleep sleeps until the earliest deadline of all heaps (futex timeout).
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

namespace {

using detail::timer_heap;
using ta = timer_access;

// Heap primitives: the caller holds th.mu.
void place(std::vector<timer*>& h, std::uint32_t i, timer* t) {
  h[i] = t;
  ta::index(t) = i;
}

void sift_up(std::vector<timer*>& h, std::uint32_t i) {
  timer* t = h[i];
  while (i > 0) {
    std::uint32_t parent = (i - 1) / 2;
    if (ta::when(h[parent]) <= ta::when(t)) break;
    place(h, i, h[parent]);
    i = parent;
  }
  place(h, i, t);
}

void sift_down(std::vector<timer*>& h, std::uint32_t i) {
  const auto n = static_cast<std::uint32_t>(h.size());
  timer* t = h[i];
  for (;;) {
    std::uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && ta::when(h[c + 1]) < ta::when(h[c])) ++c;
    if (ta::when(t) <= ta::when(h[c])) break;
    place(h, i, h[c]);
    i = c;
  }
  place(h, i, t);
}

// Removes the timer at position i and returns it.
timer* remove_at(std::vector<timer*>& h, std::uint32_t i) {
  timer* t = h[i];
  timer* last = h.back();
  h.pop_back();
  if (i < h.size()) {
    place(h, i, last);
    sift_down(h, i);
    sift_up(h, ta::index(last));
  }
  ta::heap(t).store(nullptr, std::memory_order_release);
  return t;
}

void publish_next(timer_heap& th) GORO_REQUIRES(th.mu) {
  th.next.store(th.h.empty() ? INT64_MAX : ta::when(th.h.front()), std::memory_order_seq_cst);
}

}  // namespace

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
    auto* th = static_cast<timer_heap*>(ta::heap(t).load(std::memory_order_acquire));
    if (!th) return false;  // not armed, or being fired
    sched::spin_guard g(th->mu);
    if (ta::heap(t).load(std::memory_order_relaxed) != th) continue;  // moved meanwhile: retry
    const bool was_first = ta::index(t) == 0;
    remove_at(th->h, ta::index(t));
    if (was_first) publish_next(*th);
    return true;
  }
}

namespace detail {

void scheduler::add_timer(worker& w, sched::timer* t, std::int64_t when) {
  timer_heap& th = w.timers;
  bool earliest;
  {
    sched::spin_guard g(th.mu);
    if (ta::heap(t).load(std::memory_order_relaxed) != nullptr)
      fatal("goro: a timer was armed twice (add_timer on an armed timer)");
    ta::when(t) = when;
    th.h.push_back(t);
    sift_up(th.h, static_cast<std::uint32_t>(th.h.size() - 1));
    ta::heap(t).store(&th, std::memory_order_release);
    earliest = ta::index(t) == 0;
    if (earliest) publish_next(th);  // seq_cst store: S1 of the wake-up protocol
  }
  // A sleeping worker may be waiting for a later deadline: wake one to look again (S2..S5).
  if (earliest) wake_one_if_needed();
}

bool scheduler::run_due_timers(worker& w, timer_heap& th, std::int64_t now) {
  bool fired = false;
  while (th.next.load(std::memory_order_relaxed) <= now) {
    sched::timer* t;
    {
      sched::spin_guard g(th.mu);
      if (th.h.empty() || ta::when(th.h.front()) > now) {
        publish_next(th);
        break;
      }
      t = remove_at(th.h, 0);
      publish_next(th);
    }
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
    if (v->timers.next.load(std::memory_order_relaxed) == INT64_MAX) continue;
    if (!now) now = now_ns();
    fired |= run_due_timers(w, v->timers, now);
  }
  return fired;
}

std::int64_t scheduler::earliest_timer() const noexcept {
  std::int64_t e = INT64_MAX;
  for (auto& v : workers_) e = std::min(e, v->timers.next.load(std::memory_order_seq_cst));
  return e;
}

void scheduler::abandon_timers() {
  for (auto& v : workers_) {
    std::vector<sched::timer*> left;
    {
      sched::spin_guard g(v->timers.mu);
      left.swap(v->timers.h);
      for (sched::timer* t : left) ta::heap(t).store(nullptr, std::memory_order_release);
      publish_next(v->timers);
    }
    for (sched::timer* t : left) t->abandon();
  }
}

}  // namespace detail

}  // namespace goro::sched
