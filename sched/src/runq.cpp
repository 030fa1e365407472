// runq.cpp: the scheduler's run queues: a worker's local ring and run-next slot (the ring's
// invariants and memory ordering are in runq.hpp), the global queue, stealing and rebalancing.
//
// Where a coroutine goes when it becomes runnable:
//   - readied by a running coroutine: the readier's run-next slot (runq_put_next), displacing the
//     occupant to the ring (see idle.cpp for why no wake-up is made for the slot itself);
//   - requeued (a yield, a park that lost to its ready) or readied by a worker's loop (timers,
//     I/O): the tail of that worker's ring;
//   - the ring full: its older half to the global queue (runq_put);
//   - readied or started by a thread that is not a worker: the global queue.
// Stealing takes half of a victim's ring (rounded up); the last of steal_rounds rounds also takes
// its run-next slot.
#include <goro/sched/sched.hpp>

#include <algorithm>
#include <array>

#include "core.hpp"

namespace goro::sched::detail {

namespace {

constexpr std::uint32_t max_runnext_streak = 16;
constexpr int steal_rounds = 4;

inline std::uint32_t xorshift(std::uint32_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

}  // namespace

// ---- local run queue (owner side) ----

void scheduler::runq_put(worker& w, coroutine* co) {
  while (!w.q.push(co)) {
    // The ring is full: move its older half to the global queue in one lock; then queue co
    // locally. (Go's runqputslow sends the new coroutine along with the batch; keeping it local
    // matters when the ring is full of never-started coroutines, as after a burst of spawns: a
    // coroutine that a timer or a channel just woke would otherwise wait behind the whole burst.
    // Measured: 100,000 sleepers, p99 lateness 1.86 s before, see bench/RESULTS.md.)
    std::array<coroutine*, runq::capacity / 2> batch;
    const std::uint32_t n = w.q.take_older_half(batch);
    if (n == 0) continue;  // a consumer made room meanwhile
    for (std::uint32_t i = 0; i + 1 < n; ++i) batch[i]->link = batch[i + 1];
    global_push(batch[0], batch[n - 1], n);
  }
}

bool scheduler::runq_put_next(worker& w, coroutine* co) {
  coroutine* old = w.q.exchange_next(co);
  if (!old) return false;
  runq_put(w, old);
  return true;
}

// ---- stealing ----

// Precondition: thief's ring is empty (only the owner steals into it, when it has run dry).
coroutine* scheduler::runq_steal(worker& thief, worker& victim, bool take_next) {
  std::uint32_t n = 0;
  coroutine* co = victim.q.steal_into(thief.q, take_next, n);
  if (!co) return nullptr;
  thief.steals.inc();
  thief.stolen.inc(n);
  return co;
}

// A busy worker whose queue is much shorter than another's takes half of the other's, on the
// global queue's turn. Stealing only when idle is not enough where I/O keeps every worker busy:
// a worker whose few coroutines' completions keep arriving never runs dry, so it never steals,
// and the coroutines queued on the other worker wait several times longer (echo demo at
// GOMAXPROCS=2: p50 30 us, p99 4 ms: a fast lane and a slow one).
coroutine* scheduler::rebalance(worker& w) {
  const std::uint32_t mine = w.q.size_relaxed();
  if (mine > runq::capacity / 4) return nullptr;  // room for half of a full queue
  worker& v = *workers_[xorshift(w.rng) % workers()];
  if (&v == &w) return nullptr;
  const std::uint32_t theirs = v.q.size();
  if (theirs < 2 * mine + 4) return nullptr;
  return runq_steal(w, v, false);
}

coroutine* scheduler::steal_work(worker& w) {
  const unsigned nw = workers();
  for (int round = 0; round < steal_rounds; ++round) {
    const bool last = round == steal_rounds - 1;
    const unsigned start = xorshift(w.rng) % nw;
    for (unsigned k = 0; k < nw; ++k) {
      worker& v = *workers_[(start + k) % nw];
      if (&v == &w) continue;
      if (stopping_.load(std::memory_order_relaxed)) return nullptr;
      if (coroutine* co = runq_steal(w, v, last)) return co;
    }
    if (coroutine* co = global_get(w, runq::capacity / 2)) return co;
    cpu_relax(32 << round);  // brief spin between rounds, then sleep
  }
  return nullptr;
}

// ---- global queue ----

void scheduler::global_push(coroutine* first, coroutine* last, std::uint32_t n, bool wake) {
  last->link = nullptr;
  {
    lock_guard lk(gq_mu_);
    if (gq_tail_)
      gq_tail_->link = first;
    else
      gq_head_ = first;
    gq_tail_ = last;
    gq_size_.fetch_add(n, std::memory_order_relaxed);
  }
  if (worker* w = current_worker(); w && &w->sched == this)
    w->global_pushes.inc();
  if (wake) wake_one_if_needed();
}

// Takes one coroutine to run and up to max-1 more into w's local queue; callers pass a max that
// fits the queue's free space (so the puts never overflow back into the global queue).
coroutine* scheduler::global_get(worker& w, std::uint32_t max) {
  if (gq_size_.load(std::memory_order_relaxed) == 0) return nullptr;
  lock_guard lk(gq_mu_);
  std::uint32_t size = gq_size_.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  std::uint32_t n = std::min({size, size / workers() + 1, max});
  gq_size_.fetch_sub(n, std::memory_order_relaxed);
  coroutine* co = gq_head_;
  gq_head_ = co->link;
  for (std::uint32_t i = 1; i < n; ++i) {
    coroutine* c = gq_head_;
    gq_head_ = c->link;
    runq_put(w, c);
  }
  if (!gq_head_) gq_tail_ = nullptr;
  return co;
}

// The run-next slot first, unless it has been taken max_runnext_streak times in a row (two
// coroutines ready-ing each other would otherwise monopolise the worker: Go's ping-pong hog);
// then the ring; then run-next regardless of the streak.
coroutine* scheduler::local_get(worker& w) {
  if (w.runnext_streak < max_runnext_streak) {
    if (coroutine* next = w.q.take_next()) {
      ++w.runnext_streak;
      return next;
    }
  }
  w.runnext_streak = 0;
  if (coroutine* co = w.q.pop()) return co;
  return w.q.take_next();
}

}  // namespace goro::sched::detail
