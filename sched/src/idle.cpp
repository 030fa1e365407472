// idle.cpp: idle workers: spinning, sleeping and being woken, without lost work and without a
// thundering herd.
//
// ==== The wake-up protocol ======================================================================
// Goal: no lost work, no thundering herd, no CPU burnt by an idle runtime. Two counters:
//   nspinning_ - workers looking for work (or woken to look) that have not found any yet;
//   nidle_     - workers on the idle list (asleep, or about to be).
// A submitter (anything that makes a coroutine runnable where another worker could take it):
//   S1. publishes the work (local queue tail, displaced run-next, global queue);
//   S2. full fence (seq_cst);
//   S3. if nspinning_ != 0, returns: a spinning worker will find the work;
//   S4. if nidle_ == 0, returns: every worker is busy and will come back to the queues;
//   S5. CAS nspinning_ 0 -> 1 (only one waker at a time), pops a worker off the idle list and
//       wakes it; the woken worker starts out spinning (it was counted in S5).
// A worker that finds no work:
//   W1. puts itself on the idle list and increments nidle_ (seq_cst);
//   W2. if it was spinning, decrements nspinning_ (seq_cst);
//   W3. full fence, then re-checks every queue and run-next slot;
//   W4. if it sees work, takes itself back off the idle list (unless a waker already popped it,
//       in which case a wake is on its way and it waits for that) and looks again;
//   W5. otherwise waits in its io_uring until a waker sets its sleep_word and writes its eventfd
//       (io.cpp, "The idle wait": the same wait serves timers and I/O completions).
// Why nothing is lost: S1..S3/S4 and W1..W3 are the two halves of Dekker's pattern, each a store
// then a fence then loads. Either the submitter's loads see the worker's W1/W2 stores (so S3/S4
// do not return early and S5 wakes someone) or the worker's W3 sees the work. A worker that
// finds work while spinning stops spinning, and if it was the last spinner and work remains
// visible, it wakes another (Go's resetspinning), so a burst of work fans out over the workers
// one wake at a time instead of all at once.
// The one deliberate exception is run-next: a coroutine made ready by a running coroutine goes
// into the empty run-next slot *without* a wake (as in Tokio's LIFO slot): the common case is a
// hand-off where the waker is about to park, and waking a sleeping worker for it costs a futex
// call and usually finds nothing to steal. The worker that owns the slot runs it as soon as its
// current coroutine switches out. If that filled the slot by displacing another coroutine, the
// displaced one goes to the queue and the full protocol runs.
// Rejected: waking on every ready (a futex syscall per channel hand-off: Boost.Fiber's 2 us
// cross-thread ping-pong); a timed poll instead of the fence (latency or burnt CPU).
//
// Memory ordering: every step named S2, S5, W1, W2, W3 above is a seq_cst operation or fence, and
// its partner is the other half's fence; sleep_word's release store (the waker) pairs with the
// sleeper's acquire load. The counters' relaxed loads in S3/S4 are ordered by the S2 fence.
#include <goro/sched/sched.hpp>

#include <algorithm>
#include <vector>

#include "core.hpp"

namespace goro::sched::detail {

bool scheduler::wake_one_if_needed() {
  std::atomic_thread_fence(std::memory_order_seq_cst);  // S2
  if (nspinning_.load(std::memory_order_relaxed) != 0) return false;  // S3
  if (nidle_.load(std::memory_order_relaxed) == 0) return false;      // S4
  int zero = 0;
  if (!nspinning_.compare_exchange_strong(zero, 1, std::memory_order_seq_cst)) return false;  // S5
  worker* v = nullptr;
  {
    lock_guard lk(idle_mu_);
    if (!idle_.empty()) {
      v = idle_.back();
      idle_.pop_back();
      nidle_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }
  if (!v) {
    nspinning_.fetch_sub(1, std::memory_order_seq_cst);
    return false;
  }
  v->wakeups.inc();  // single writer: v is asleep until the store below, and we alone popped it
  v->sleep_word.store(1, std::memory_order_release);
  v->io.kick();
  return true;
}

void scheduler::stop_spinning(worker& w) {
  w.spinning = false;
  if (nspinning_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      (!w.q.empty() || gq_size_.load(std::memory_order_relaxed) != 0))
    wake_one_if_needed();
}

bool scheduler::any_work_visible() const noexcept {
  if (gq_size_.load(std::memory_order_relaxed) != 0) return true;
  for (auto& v : workers_) {
    if (v->q.has_work()) return true;
  }
  return false;
}

void scheduler::sleep(worker& w) {
  {  // W1
    lock_guard lk(idle_mu_);
    idle_.push_back(&w);
    nidle_.fetch_add(1, std::memory_order_seq_cst);
  }
  if (w.spinning) {  // W2
    w.spinning = false;
    nspinning_.fetch_sub(1, std::memory_order_seq_cst);
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);  // W3
  if (any_work_visible() || stopping_.load(std::memory_order_relaxed)) {
    lock_guard lk(idle_mu_);
    auto it = std::find(idle_.begin(), idle_.end(), &w);
    if (it != idle_.end()) {  // W4: nobody is waking us; just look again
      idle_.erase(it);
      nidle_.fetch_sub(1, std::memory_order_seq_cst);
      return;
    }
    // A waker popped us and counted us as spinning: its wake is on the way; take it below.
  }
  w.sleeps.inc();
  // W5. Wait in the ring (io.cpp, "The idle wait") until a waker sets sleep_word and kicks the
  // eventfd, a completion or cancellation arrives for this ring, or the earliest deadline of all
  // heaps passes (read after the W3 fence: the timer half of the protocol, see timer.cpp). For
  // anything but a waker's wake, leave the idle list as W4 does and go serve it.
  for (;;) {
    if (w.sleep_word.load(std::memory_order_acquire) != 0) break;
    w.io.wait(earliest_timer());
    if (w.sleep_word.load(std::memory_order_acquire) != 0) break;
    if (!w.io.pending() && earliest_timer() > now_ns()) continue;  // a stale kick: wait again
    {
      lock_guard lk(idle_mu_);
      auto it = std::find(idle_.begin(), idle_.end(), &w);
      if (it != idle_.end()) {
        idle_.erase(it);
        nidle_.fetch_sub(1, std::memory_order_seq_cst);
        return;  // not spinning: find_runnable reaps and fires
      }
    }
    // A waker popped us meanwhile and counted us as spinning: its sleep_word store is imminent.
    while (w.sleep_word.load(std::memory_order_acquire) == 0) cpu_relax(64);
    break;
  }
  w.sleep_word.store(0, std::memory_order_relaxed);
  w.spinning = true;  // the waker counted us in nspinning_
}

void scheduler::stop() {
  stopping_.store(true, std::memory_order_seq_cst);
  std::vector<worker*> sleepers;
  {
    lock_guard lk(idle_mu_);
    sleepers.swap(idle_);
    nidle_.store(0, std::memory_order_seq_cst);
  }
  for (worker* v : sleepers) {
    nspinning_.fetch_add(1, std::memory_order_seq_cst);  // keeps the counters consistent
    v->sleep_word.store(1, std::memory_order_release);
    v->io.kick();
  }
}

}  // namespace goro::sched::detail
