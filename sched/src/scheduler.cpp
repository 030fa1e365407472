// scheduler.cpp: the scheduler's lifetime and its workers' loop: construction, coroutine control
// blocks and ids, where a worker looks for work, running main, statistics, and the ready/start
// path. The pieces the loop calls live beside it: switch.cpp (running a coroutine), runq.cpp (the
// queues), idle.cpp (sleeping and waking), timer.cpp, io.cpp, monitor.cpp.
//
// ==== The worker loop ============================================================================
// Each worker runs loop() on its thread's own stack ("the loop context"). To run a coroutine it
// jumps into it; the coroutine jumps back to the loop when it parks, yields or ends, leaving a
// note in worker::pending saying which. The loop acts on the note only after the jump, when the
// coroutine's registers are saved: that is what makes it safe for another worker to resume the
// coroutine as soon as it is queued again. A yield or park may also switch straight to the next
// local coroutine (switch_direct), which then does the loop's after-switch step in land().
//
// Where the loop looks for work (find_runnable), in order:
//   1. every 61st pick, the global queue first, so it cannot starve behind busy local queues;
//   2. the run-next slot, unless it has been taken max_runnext_streak times in a row (two
//      coroutines ready-ing each other would otherwise monopolise the worker: Go's ping-pong hog);
//   3. the local queue, then the run-next slot regardless of the streak;
//   4. a batch from the global queue;
//   5. stealing: half of a random victim's queue, in up to 4 rounds over all victims, the last
//      round also taking a victim's run-next slot;
//   6. sleep (below).
//
//   6. sleep (idle.cpp).
#include <goro/sched/sched.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "core.hpp"
#include "futex.hpp"

#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace goro::sched::detail {

namespace {

constexpr std::size_t co_cache_batch = 64;
constexpr std::uint64_t id_block = 1024;

}  // namespace

// ==== worker ======================================================================================

worker::worker(scheduler& s, unsigned i)
    : sched(s), index(i), rng(0x9e3779b9u * (i + 1)), stacks(s.stack_pools_) {
  free_cos.reserve(2 * co_cache_batch);
}

worker::~worker() = default;

// ==== scheduler ==================================================================================

scheduler::scheduler(const config& cfg, unsigned nworkers)
    : stack_pools_(cfg.stack_size ? cfg.stack_size : default_stack_size) {
  workers_.reserve(nworkers);
  for (unsigned i = 0; i < nworkers; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i));
    workers_.back()->io.open();  // throws (io_uring refused): the workers made so far are undone
  }
  lock_guard lk(idle_mu_);
  idle_.reserve(nworkers);
}

// Abandoned coroutines (still parked or queued when main returned) lose their stacks with the
// pool and their control blocks with the slabs. Their bodies are not run or destroyed (Go does not
// run a goroutine's defers when main returns either).
scheduler::~scheduler() = default;

std::uint64_t scheduler::next_id(worker* w) {
  if (!w) return id_counter_.fetch_add(1, std::memory_order_relaxed);
  if (w->id_next == w->id_end) {
    w->id_next = id_counter_.fetch_add(id_block, std::memory_order_relaxed);
    w->id_end = w->id_next + id_block;
  }
  return w->id_next++;
}

coroutine* scheduler::alloc_coroutine(worker* w) {
  if (w && !w->free_cos.empty()) {
    coroutine* co = w->free_cos.back();
    w->free_cos.pop_back();
    return co;
  }
  lock_guard lk(co_mu_);
  if (co_free_.empty()) {
    co_slabs_.push_back(std::make_unique<coroutine[]>(co_slab_size));
    coroutine* slab = co_slabs_.back().get();
    for (std::size_t i = co_slab_size; i-- > 0;) co_free_.push_back(&slab[i]);
  }
  std::size_t n = w ? std::min(co_cache_batch, co_free_.size()) : 1;
  coroutine* co = co_free_.back();
  co_free_.pop_back();
  for (std::size_t i = 1; i < n; ++i) {
    w->free_cos.push_back(co_free_.back());
    co_free_.pop_back();
  }
  return co;
}

void scheduler::free_coroutine(worker* w, coroutine* co) {
  {
    spin_guard g(co->meta_mu);
    co->alive = false;
    co->name.clear();
  }
  w->free_cos.push_back(co);
  if (w->free_cos.size() >= 2 * co_cache_batch) {
    lock_guard lk(co_mu_);
    for (std::size_t i = 0; i < co_cache_batch; ++i) {
      co_free_.push_back(w->free_cos.back());
      w->free_cos.pop_back();
    }
  }
}

// ==== finding work ===============================================================================

coroutine* scheduler::find_runnable(worker& w) {
  for (;;) {
    if (stopping_.load(std::memory_order_relaxed)) return nullptr;
    // Own ring first (io.cpp): queued cancels and requests go to the kernel. Completions are
    // reaped below: on the global queue's turn, and when nothing is queued (io_reap_all).
    w.io.poll();
    // Own timers (timer.cpp): one relaxed load when the heap is empty.
    if (std::int64_t next = w.timers.next(); next != INT64_MAX)
      if (next <= now_ns()) run_due_timers(w, w.timers, now_ns());
    coroutine* co = nullptr;
    if (++w.tick % 61 == 0) {
      // The global queue's turn: take a batch that fits the local queue's free half, not just
      // one, or a queue kept non-empty by yielding coroutines drains it at 1/61 of the pace.
      const std::uint32_t used = w.q.size_relaxed();
      const std::uint32_t room = used < runq::capacity / 2 ? runq::capacity / 2 - used : 0;
      co = global_get(w, room + 1);
      io_reap(w, w);  // so a worker that always has work still serves its completions
      if (!co && workers() > 1) co = rebalance(w);
    }
    if (!co) co = local_get(w);
    if (!co) co = global_get(w, runq::capacity / 2);
    // Nothing queued: serve every worker's due timers (a busy worker's included), then look again.
    if (!co) {
      const bool fired = run_all_due_timers(w);
      if (io_reap_all(w) || fired) continue;  // both run, whichever found something
    }
    if (!co) {
      // Spin (steal) only while spinners are fewer than half the busy workers, as Go does: more
      // would burn CPU fighting over the same few queues.
      if (!w.spinning) {
        const int busy = static_cast<int>(workers()) - nidle_.load(std::memory_order_relaxed);
        if (2 * nspinning_.load(std::memory_order_relaxed) < busy) {
          w.spinning = true;
          nspinning_.fetch_add(1, std::memory_order_seq_cst);
        }
      }
      if (w.spinning) co = steal_work(w);
    }
    if (co) {
      if (w.spinning) stop_spinning(w);
      return co;
    }
    sleep(w);
  }
}

// ==== running =====================================================================================

void scheduler::loop(worker& w) {
  while (coroutine* co = find_runnable(w)) execute(w, co);
}

void scheduler::worker_main(worker& w) {
  set_current_worker(&w);
  w.eh = this_thread_eh_globals();
  w.altstack = enable_altstack();
#if GORO_TSAN
  w.tsan_loop_fiber = __tsan_get_current_fiber();
#endif
  loop(w);
  disable_altstack(w.altstack);
  set_current_worker(nullptr);
}

void scheduler::run_main(task* main) {
  worker& w0 = *workers_[0];
  coroutine* co = alloc_coroutine(nullptr);
  co->body = main;
  {
    spin_guard g(co->meta_mu);
    co->id = next_id(nullptr);  // 1: the first id of this runtime
    co->name = "main";
    co->alive = true;
  }
  co->stack_request = 0;
  transition(co, co_state::free, co_state::fresh);
  main_co = co;
  w0.spawned.inc();
  runq_put(w0, co);
  // Workers 1..n-1 start spinning-free and find nothing until work is published; they go to
  // sleep through the normal protocol.
  for (std::size_t i = 1; i < workers_.size(); ++i) {
    worker& w = *workers_[i];
    w.thread = std::thread([this, &w] { worker_main(w); });
  }
  monitor_thread_ = std::thread([this] { monitor(); });  // with one worker: dumps and deadlocks
  worker_main(w0);
  for (std::size_t i = 1; i < workers_.size(); ++i) workers_[i]->thread.join();
  abandon_timers();  // timers of abandoned coroutines (and after()/tickers nobody stopped)
  if (monitor_thread_.joinable()) {
    monitor_stop_.store(1, std::memory_order_release);
    futex_wake(&monitor_stop_);
    monitor_thread_.join();
  }
}

stats scheduler::collect_stats() const noexcept {
  stats s;
  s.workers = workers_.size();
  for (auto& w : workers_) {
    s.spawned += w->spawned.get();
    s.finished += w->finished.get();
    s.switches += w->switches.get();
    s.steals += w->steals.get();
    s.stolen += w->stolen.get();
    s.parks += w->parks.get();
    s.yields += w->yields.get();
    s.worker_sleeps += w->sleeps.get();
    s.worker_wakeups += w->wakeups.get();
    s.global_queue_pushes += w->global_pushes.get();
    s.timers_fired += w->timers_fired.get();
    s.io_submitted += w->io_submitted.get();
    s.io_completed += w->io_completed.get();
  }
  s.spawned += foreign_spawned_.load(std::memory_order_relaxed);
  s.monitor_wakeups = monitor_wakeups_.load(std::memory_order_relaxed);
  s.stacks_allocated = stack_pools_.stacks_carved();
  s.stack_bytes_reserved = stack_pools_.bytes_reserved();
  s.stacks_released = stack_pools_.stacks_released();
  return s;
}

// ==== the ready/start path ======================================================================

void scheduler::enqueue(coroutine* co) {
  worker* w = current_worker();
  if (w && &w->sched == this) {
    if (w->current) {
      // From a coroutine: run next, on this warm core. Only a displaced occupant needs a wake.
      if (runq_put_next(*w, co)) wake_one_if_needed();
    } else {
      runq_put(*w, co);
      wake_one_if_needed();
    }
    return;
  }
  // From a thread that is not one of ours (a plain thread, the blocking pool): once the push
  // publishes co, co may run, finish the program and let run() destroy this scheduler while we
  // are still in global_push's wake-up step. run() waits for foreign_in_flight_ to drain first;
  // the increment comes before the push, so it cannot be missed.
  foreign_in_flight_.fetch_add(1, std::memory_order_acq_rel);
  co->link = nullptr;
  global_push(co, co, 1);
  foreign_in_flight_.fetch_sub(1, std::memory_order_release);
}

bool claim_ready(coroutine* co) noexcept {
  permit s = co->wake.load(std::memory_order_relaxed);
  for (;;) {
    if (s == permit::parked) {
      // Acquire pairs with the worker's running -> parked release (try_park): the context is
      // saved, and co's lifecycle state (parked) is visible; the claimer owns co now.
      if (co->wake.compare_exchange_weak(s, permit::running, std::memory_order_acq_rel,
                                         std::memory_order_relaxed)) {
        transition(co, co_state::parked, co_state::runnable);
        return true;
      }
    } else if (s == permit::running) {
      // Release: what the waker wrote is visible to park()'s acquire of the permit.
      if (co->wake.compare_exchange_weak(s, permit::notified, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
        return false;
    } else {
      fatal("goro: ready() called twice for one park() (a waker bug: two parties woke one waiter)");
    }
  }
}

void scheduler::wait_foreign_wakers() noexcept {
  while (foreign_in_flight_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
}

}  // namespace goro::sched::detail
