// scheduler.cpp: workers, run queues, stealing, idle parking, park/ready, the context switch.
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

#include <goro/sched/sched.hpp>

#include <cxxabi.h>
#include <immintrin.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <mutex>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "core.hpp"
#include <goro/sched/futex.hpp>

#if GORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace goro::sched::detail {

namespace {

constexpr std::uint32_t max_runnext_streak = 16;
constexpr int steal_rounds = 4;
constexpr std::size_t co_slab_size = 256;
constexpr std::size_t co_cache_batch = 64;
// How often the monitor returns the pages of idle pooled stacks (stack.hpp, "scavenge"): a stack
// is released after one to two periods unused.
constexpr std::chrono::milliseconds scavenge_period{1000};
constexpr std::uint64_t id_block = 1024;

std::atomic<scheduler*> g_sched{nullptr};
std::atomic<bool> g_sigquit{false};
std::atomic<long> g_helper_threads{0};   // note_helper_threads
std::atomic<long> g_outside_wakers{0};   // note_outside_wakers

// Threads in this process now (/proc/self/stat, field 20).
long process_threads() noexcept {
  FILE* f = std::fopen("/proc/self/stat", "r");
  if (!f) return LONG_MAX;
  char buf[1024];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces
  if (!p) return LONG_MAX;
  int field = 2;
  for (; *p && field < 20; ++p)
    if (*p == ' ') ++field;
  return std::strtol(p, nullptr, 10);
}

// SIGQUIT: flag it and wake the monitor, which prints the dump. With no runtime running, the
// default action (core dump) as if we had never been here.
void on_sigquit(int) {
  scheduler* s = g_sched.load(std::memory_order_acquire);
  if (!s) {
    ::signal(SIGQUIT, SIG_DFL);
    ::raise(SIGQUIT);
    return;
  }
  g_sigquit.store(true, std::memory_order_release);
  futex_wake(&s->monitor_word());
}

void install_sigquit_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_sigquit;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGQUIT, &sa, nullptr);
  });
}
stats g_last_stats{};  // the last runtime's final counters, for get_stats() after run() returns

inline void cpu_relax(int n) noexcept {
  for (int i = 0; i < n; ++i) _mm_pause();
}

inline std::uint32_t xorshift(std::uint32_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 17;
  s ^= s << 5;
  return s;
}

}  // namespace

scheduler* current_scheduler() noexcept { return g_sched.load(std::memory_order_acquire); }

// ==== context switch =============================================================================

namespace {

// Hands the thread's C++ exception state over from the coroutine switching out (saved in it).
inline void save_eh(worker* w, coroutine* co) {
  eh_globals* g = w->eh;
  co->eh_caught = g->caught;
  co->eh_uncaught = g->uncaught;
  g->caught = nullptr;
  g->uncaught = 0;
}

// Every coroutine runs this first thing after a jump lands in it (a resume, or its first frame;
// ASan's fake-stack handle is the one saved when it switched out, none on a first run). If it came
// from another coroutine (a direct switch, worker::prev set), it finishes that coroutine's
// after-switch step now that its registers are saved; otherwise it came from the worker loop,
// whose context it records for the way back.
inline void land(transfer_t t, coroutine* self, bool first_run) {
  worker* w = current_worker();
#if GORO_ASAN
  void* fake_stack = first_run ? nullptr : self->asan_fake_stack;
#else
  (void)first_run;
#endif
  if (coroutine* prev = std::exchange(w->prev, nullptr)) {
#if GORO_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    prev->ctx = t.fctx;
    if (std::exchange(w->prev_did, after_switch::none) == after_switch::park)
      w->sched.finish_park(*w, prev);
    else
      w->sched.requeue_yielded(*w, prev);
  } else {
#if GORO_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &w->asan_loop_bottom, &w->asan_loop_size);
#endif
    w->loop_ctx = t.fctx;
  }
  eh_globals* g = w->eh;
  g->caught = self->eh_caught;
  g->uncaught = self->eh_uncaught;
}

// The coroutine side of every jump away from `self`, to coroutine `to` or, with nullptr, to the
// worker loop: hand the thread's exception state over, tell the sanitizers which stack comes next
// (an `ending` coroutine gives ASan no place to keep its fake stack, so ASan frees it), jump, and
// land again, possibly on another thread.
inline void leave(worker* w, coroutine* self, coroutine* to, [[maybe_unused]] bool ending) {
  save_eh(w, self);
#if GORO_ASAN
  void** save = ending ? nullptr : &self->asan_fake_stack;
  if (to)
    __sanitizer_start_switch_fiber(save, to->stk.base, to->stk.size);
  else
    __sanitizer_start_switch_fiber(save, w->asan_loop_bottom, w->asan_loop_size);
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(to ? to->tsan_fiber : w->tsan_loop_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(to ? to->ctx : w->loop_ctx, to);
  land(t, self, false);
}

// Switches to the worker loop, which acts on `what` once self's registers are saved.
void switch_to_loop(after_switch what) {
  worker* w = current_worker();
  w->pending = what;
  leave(w, w->current, nullptr, what == after_switch::exit);
}

// The first frame of every coroutine.
void trampoline(transfer_t t) {
  auto* co = static_cast<coroutine*>(t.data);
  land(t, co, true);
  task* body = co->body;
  try {
    body->run();
  } catch (...) {
    body->fail(std::current_exception());
  }
  co->body = nullptr;
  body->release();
  switch_to_loop(after_switch::exit);
  __builtin_unreachable();
}

}  // namespace

// ==== worker ======================================================================================

worker::worker(scheduler& s, unsigned i)
    : sched(s), index(i), rng(0x9e3779b9u * (i + 1)), stacks(s.stack_pools_) {
  free_cos.reserve(2 * co_cache_batch);
}

worker::~worker() { sched.io_exit(*this); }

// ==== scheduler ==================================================================================

scheduler::scheduler(const config& cfg, unsigned nworkers)
    : stack_pools_(cfg.stack_size ? cfg.stack_size : default_stack_size) {
  workers_.reserve(nworkers);
  for (unsigned i = 0; i < nworkers; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i));
    io_init(*workers_.back());  // throws (io_uring refused): the workers made so far are undone
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

// ---- local run queue (owner side) ----

void scheduler::runq_put(worker& w, coroutine* co) {
  for (;;) {
    std::uint32_t h = w.q.head.load(std::memory_order_acquire);  // synchronises with consumers
    std::uint32_t t = w.q.tail.load(std::memory_order_relaxed);  // only we store it
    if (t - h < runq::capacity) {
      w.q.slots[t % runq::capacity].store(co, std::memory_order_relaxed);
      w.q.tail.store(t + 1, std::memory_order_release);  // makes the slot available to consumers
      return;
    }
    runq_put_slow(w, h, t);  // now there is room (we made it, or a consumer did)
  }
}

// The local queue is full: move its older half to the global queue in one lock; the caller then
// queues co locally. (Go's runqputslow sends the new coroutine along with the batch; keeping it
// local matters when the queue is full of never-started coroutines, as after a burst of spawns:
// a coroutine that a timer or a channel just woke would otherwise wait behind the whole burst.
// Measured: 100,000 sleepers, p99 lateness 1.86 s before, see bench/RESULTS.md.)
void scheduler::runq_put_slow(worker& w, std::uint32_t h, std::uint32_t t) {
  constexpr std::uint32_t n = runq::capacity / 2;
  if (t - h != runq::capacity) return;  // a consumer made room meanwhile
  std::array<coroutine*, n> batch;
  for (std::uint32_t i = 0; i < n; ++i)
    batch[i] = w.q.slots[(h + i) % runq::capacity].load(std::memory_order_relaxed);
  if (!w.q.head.compare_exchange_strong(h, h + n, std::memory_order_release,
                                        std::memory_order_relaxed))
    return;  // a consumer took some: the fast path has room
  for (std::uint32_t i = 0; i + 1 < n; ++i) batch[i]->link = batch[i + 1];
  global_push(batch[0], batch[n - 1], n);
}

bool scheduler::runq_put_next(worker& w, coroutine* co) {
  coroutine* old = w.runnext.load(std::memory_order_relaxed);
  // CAS, not store: a thief may take the slot's occupant concurrently.
  while (!w.runnext.compare_exchange_weak(old, co, std::memory_order_acq_rel,
                                          std::memory_order_relaxed)) {
  }
  if (!old) return false;
  runq_put(w, old);
  return true;
}

coroutine* scheduler::runq_pop(worker& w) {
  for (;;) {
    std::uint32_t h = w.q.head.load(std::memory_order_acquire);
    std::uint32_t t = w.q.tail.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    coroutine* co = w.q.slots[h % runq::capacity].load(std::memory_order_relaxed);
    if (w.q.head.compare_exchange_weak(h, h + 1, std::memory_order_release,
                                       std::memory_order_relaxed))
      return co;
  }
}

// ---- stealing ----

// Moves half of victim's queue into thief's queue starting at slot batch_head (thief's tail);
// returns how many. With take_next and an empty queue, takes the victim's run-next instead.
std::uint32_t scheduler::runq_grab(worker& victim, worker& thief, std::uint32_t batch_head,
                                   bool take_next) {
  for (;;) {
    std::uint32_t h = victim.q.head.load(std::memory_order_acquire);  // sync with other consumers
    std::uint32_t t = victim.q.tail.load(std::memory_order_acquire);  // sync with the producer
    std::uint32_t n = t - h;
    n -= n / 2;
    if (n == 0) {
      if (!take_next) return 0;
      coroutine* next = victim.runnext.load(std::memory_order_acquire);
      if (!next) return 0;
      // The victim most likely filled run-next just before parking the coroutine that readied
      // it, and will run it within a switch: give it that chance before taking it.
      cpu_relax(64);
      if (!victim.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed))
        continue;
      thief.q.slots[batch_head % runq::capacity].store(next, std::memory_order_relaxed);
      return 1;
    }
    if (n > runq::capacity / 2) continue;  // h and t read at different times: inconsistent
    for (std::uint32_t i = 0; i < n; ++i) {
      coroutine* co = victim.q.slots[(h + i) % runq::capacity].load(std::memory_order_relaxed);
      thief.q.slots[(batch_head + i) % runq::capacity].store(co, std::memory_order_relaxed);
    }
    if (victim.q.head.compare_exchange_strong(h, h + n, std::memory_order_acq_rel,
                                              std::memory_order_relaxed))
      return n;
  }
}

// Precondition: thief's queue is empty (only the owner steals into it, when it has run dry).
coroutine* scheduler::runq_steal(worker& thief, worker& victim, bool take_next) {
  std::uint32_t t = thief.q.tail.load(std::memory_order_relaxed);
  std::uint32_t n = runq_grab(victim, thief, t, take_next);
  if (n == 0) return nullptr;
  thief.steals.inc();
  thief.stolen.inc(n);
  --n;
  coroutine* co = thief.q.slots[(t + n) % runq::capacity].load(std::memory_order_relaxed);
  if (n == 0) return co;
  thief.q.tail.store(t + n, std::memory_order_release);  // publishes the stolen batch
  return co;
}

// A busy worker whose queue is much shorter than another's takes half of the other's, on the
// global queue's turn. Stealing only when idle is not enough where I/O keeps every worker busy:
// a worker whose few coroutines' completions keep arriving never runs dry, so it never steals,
// and the coroutines queued on the other worker wait several times longer (echo demo at
// GOMAXPROCS=2: p50 30 us, p99 4 ms: a fast lane and a slow one).
coroutine* scheduler::rebalance(worker& w) {
  const std::uint32_t mine =
      w.q.tail.load(std::memory_order_relaxed) - w.q.head.load(std::memory_order_relaxed);
  if (mine > runq::capacity / 4) return nullptr;  // room for half of a full queue
  worker& v = *workers_[xorshift(w.rng) % workers()];
  if (&v == &w) return nullptr;
  const std::uint32_t theirs =
      v.q.tail.load(std::memory_order_acquire) - v.q.head.load(std::memory_order_acquire);
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

// ---- idle protocol (see the essay at the top) ----

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
  io_kick(*v);
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
    if (!v->q.empty() || v->runnext.load(std::memory_order_relaxed) != nullptr) return true;
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
    io_wait(w, earliest_timer());
    if (w.sleep_word.load(std::memory_order_acquire) != 0) break;
    if (!io_pending(w) && earliest_timer() > now_ns()) continue;  // a stale kick: wait again
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
    io_kick(*v);
  }
}

// ---- finding work ----

coroutine* scheduler::local_get(worker& w) {
  if (w.runnext_streak < max_runnext_streak) {
    coroutine* next = w.runnext.load(std::memory_order_relaxed);
    if (next && w.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel,
                                                  std::memory_order_relaxed)) {
      ++w.runnext_streak;
      return next;
    }
  }
  w.runnext_streak = 0;
  if (coroutine* co = runq_pop(w)) return co;
  coroutine* next = w.runnext.load(std::memory_order_relaxed);
  if (next && w.runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel,
                                                std::memory_order_relaxed))
    return next;
  return nullptr;
}

coroutine* scheduler::find_runnable(worker& w) {
  for (;;) {
    if (stopping_.load(std::memory_order_relaxed)) return nullptr;
    // Own ring first (io.cpp): queued cancels and requests go to the kernel. Completions are
    // reaped below: on the global queue's turn, and when nothing is queued (io_reap_all).
    io_poll(w);
    // Own timers (timer.cpp): one relaxed load when the heap is empty.
    if (std::int64_t next = w.timers.next.load(std::memory_order_relaxed); next != INT64_MAX)
      if (next <= now_ns()) run_due_timers(w, w.timers, now_ns());
    coroutine* co = nullptr;
    if (++w.tick % 61 == 0) {
      // The global queue's turn: take a batch that fits the local queue's free half, not just
      // one, or a queue kept non-empty by yielding coroutines drains it at 1/61 of the pace.
      const std::uint32_t used = w.q.tail.load(std::memory_order_relaxed) -
                                 w.q.head.load(std::memory_order_relaxed);
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

// Gives a coroutine that has never run its stack and initial context.
void scheduler::prepare(worker& w, coroutine* co) {
  if (co->ctx) return;
  co->stk = w.stacks.get(co->stack_request);
  co->ctx = boost::context::detail::make_fcontext(co->stk.top(), co->stk.size, &trampoline);
#if GORO_TSAN
  co->tsan_fiber = __tsan_create_fiber(0);
  if (!co->name.empty()) __tsan_set_fiber_name(co->tsan_fiber, co->name.c_str());
#endif
}

void scheduler::requeue_yielded(worker& w, coroutine* co) {
  w.yields.inc();
  requeue(w, co);
}

// Queues a coroutine that switched out while still runnable (a yielder, or a parker whose wake
// came in while it switched) on this worker, which is busy with the coroutine it switched to.
void scheduler::requeue(worker& w, coroutine* co) {
  runq_put(w, co);
  // Requeueing publishes nothing new: the owner will run the queue anyway, so liveness never needs a
  // wake here. Balance does: coroutines that only yield would otherwise keep one worker busy
  // while another sleeps. The relaxed pre-check keeps the fence off the common path (a stale
  // read only delays the rebalance to a later yield).
  if (nidle_.load(std::memory_order_relaxed) != 0 &&
      nspinning_.load(std::memory_order_relaxed) == 0 &&
      w.q.tail.load(std::memory_order_relaxed) - w.q.head.load(std::memory_order_relaxed) > 1)
    wake_one_if_needed();
}

// yield() and park() without the worker loop: switch straight to the next local coroutine, which
// finishes the switch for the one that left when it lands (land(): requeue a yielder, or park a
// parker). Halves the jumps of a yield, and of every channel hand-off (the receiver woken into
// run-next runs as soon as the sender parks). Falls back to the loop (false) when no local
// coroutine is at hand, on the global queue's every-61st turn, and when stopping.
bool scheduler::switch_direct(worker& w, coroutine* a, after_switch what) {
  if (++w.tick % 61 == 0 || stopping_.load(std::memory_order_relaxed)) return false;
  coroutine* b = local_get(w);
  if (!b) return false;
  prepare(w, b);
  w.switches.inc();
  w.current = b;
  w.prev = a;
  w.prev_did = what;
  leave(&w, a, b, false);
  return true;
}

// The second half of a park, run once the parker's registers are saved (by the loop, or by the
// coroutine a direct switch landed in): RUNNING -> PARKED, unless ready() came in meanwhile
// (NOTIFIED), in which case the parker is runnable again. True: it is parked.
bool scheduler::try_park(worker& w, coroutine* co) {
  std::uint32_t s = wake_running;
  // Release: the saved context and everything the coroutine wrote before parking are visible to
  // the waker whose PARKED -> RUNNING CAS reads this.
  if (co->wake.compare_exchange_strong(s, wake_parked, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
    w.parks.inc();
    return true;
  }
  co->wake.store(wake_running, std::memory_order_relaxed);  // the permit is consumed
  return false;
}

void scheduler::finish_park(worker& w, coroutine* co) {
  if (!try_park(w, co)) requeue(w, co);  // woken while switching out: runnable again
}

void scheduler::execute(worker& w, coroutine* co) {
  for (;;) {
    w.current = co;
    prepare(w, co);
    w.switches.inc();
#if GORO_ASAN
    void* loop_fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&loop_fake_stack, co->stk.base, co->stk.size);
#endif
#if GORO_TSAN
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
    transfer_t t = boost::context::detail::jump_fcontext(co->ctx, co);
#if GORO_ASAN
    __sanitizer_finish_switch_fiber(loop_fake_stack, nullptr, nullptr);
#endif
    // The coroutine that switched back is not necessarily co: yields may have switched directly
    // from coroutine to coroutine in between.
    co = w.current;
    co->ctx = t.fctx;
    w.current = nullptr;
    switch (std::exchange(w.pending, after_switch::none)) {
      case after_switch::park: {
        if (try_park(w, co)) return;
        continue;  // ready() came in while we were switching: resume at once
      }
      case after_switch::yield:
        requeue_yielded(w, co);
        return;
      case after_switch::exit:
        finish(w, co);
        return;
      case after_switch::none:
        fatal("goro: a coroutine switched to its worker without saying why");
    }
  }
}

void scheduler::finish(worker& w, coroutine* co) {
#if GORO_TSAN
  __tsan_destroy_fiber(co->tsan_fiber);
  co->tsan_fiber = nullptr;
#endif
  w.stacks.put(co->stk);
  co->stk = {};
  co->ctx = nullptr;
  w.finished.inc();
  const bool was_main = co == main_co;
  free_coroutine(&w, co);
  if (was_main) stop();
}

// ---- the monitor ----
// A worker that runs one coroutine for a long time (a computation, or a call that blocks the
// thread) cannot hand out the work queued behind it: its run-next slot was filled without a
// wake-up, and nothing else prompts the idle workers to look. Every tick the monitor compares
// each worker's switch count with the previous tick's; a worker that has not switched while work
// waits in its queue or run-next slot is stalled, and the monitor runs the submitter's side of
// the wake-up protocol on its behalf, so an idle worker comes to steal (run-next included, on its
// last round). The tick is 1 ms while there is activity and backs off to 10 ms after 50 quiet
// ticks, so an idle runtime costs about a hundred short wake-ups a second.
//
// Its other duties: the goroutine dump a SIGQUIT asks for (the signal handler only sets a flag
// and wakes the monitor: nothing in a dump is async-signal-safe), and deadlock detection.
void scheduler::monitor() {
  const unsigned nw = workers();
  std::vector<std::uint64_t> last(nw, ~std::uint64_t{0});
  unsigned quiet = 0;
  int dead_ticks = 0;
  auto next_scavenge = std::chrono::steady_clock::now() + scavenge_period;
  while (monitor_stop_.load(std::memory_order_acquire) == 0) {
    timespec tick{0, quiet < 50 ? 1'000'000 : 10'000'000};
    futex_wait(&monitor_stop_, 0, &tick);
    // Memory goes back: stacks left unused for a whole period (stack.hpp, "scavenge").
    if (const auto now = std::chrono::steady_clock::now(); now >= next_scavenge) {
      stack_pools_.scavenge();
      next_scavenge = now + scavenge_period;
    }
    if (g_sigquit.load(std::memory_order_acquire)) {
      std::fflush(stdout);
      std::string d = dump();
      std::fprintf(stderr, "SIGQUIT: quit\n\n%s", d.c_str());
      std::fflush(stderr);
      std::_Exit(2);
    }
    // A deadlock must be seen on two ticks in a row with no switch in between.
    if (quiet >= 2 && deadlocked()) {
      if (++dead_ticks >= 2) {
        fatal(("all goroutines are asleep - deadlock!\n\n" + dump()).c_str());
      }
    } else {
      dead_ticks = 0;
    }
    bool busy = false;
    for (unsigned i = 0; i < nw; ++i) {
      worker& v = *workers_[i];
      const std::uint64_t sw = v.switches.get();
      const bool has_work = !v.q.empty() ||
                            v.runnext.load(std::memory_order_relaxed) != nullptr || io_pending(v);
      if (sw != last[i]) busy = true;
      if (sw == last[i] && has_work) {
        if (wake_one_if_needed()) monitor_wakeups_.fetch_add(1, std::memory_order_relaxed);
        busy = true;
      }
      last[i] = sw;
    }
    quiet = busy ? 0 : quiet + 1;
  }
}

// ---- safety nets ----
// Deadlock: every worker is on the idle list (so none is running a coroutine, and none can
// until something wakes it), nothing is queued, no timer is armed, no I/O request is in flight
// or waiting to be reaped, no outside party (the blocking pool) owes a coroutine a wake-up, no
// foreign thread is inside enqueue(), and the process has no thread but the runtime's own: any
// other thread could still ready a coroutine (send on a channel), so its mere existence rules a
// deadlock out. idle_mu_ orders this check after the workers' W1 steps.
bool scheduler::deadlocked() {
  if (stopping_.load(std::memory_order_relaxed)) return false;
  {
    lock_guard lk(idle_mu_);
    if (idle_.size() != workers_.size()) return false;
  }
  if (gq_size_.load(std::memory_order_acquire) != 0) return false;
  if (g_outside_wakers.load(std::memory_order_acquire) != 0) return false;
  if (foreign_in_flight_.load(std::memory_order_acquire) != 0) return false;
  for (auto& v : workers_) {
    if (!v->q.empty() || v->runnext.load(std::memory_order_acquire) != nullptr) return false;
    if (v->timers.next.load(std::memory_order_acquire) != INT64_MAX) return false;
    if (v->io.inflight.load(std::memory_order_acquire) != 0) return false;
  }
  // Threads: the workers, the monitor, the runtime's helpers (and TSan's background thread).
  const long expected = static_cast<long>(workers_.size()) + 1 +
                        g_helper_threads.load(std::memory_order_acquire) + (GORO_TSAN ? 1 : 0);
  return process_threads() <= expected;
}

std::string scheduler::dump() {
  struct line {
    std::uint64_t id;
    std::string text;
  };
  std::vector<line> lines;
  {
    lock_guard lk(co_mu_);
    for (auto& slab : co_slabs_) {
      for (std::size_t i = 0; i < co_slab_size; ++i) {
        coroutine& c = slab[i];
        spin_guard g(c.meta_mu);
        if (!c.alive) continue;
        const char* reason = c.wait_reason.load(std::memory_order_relaxed);
        std::string t = "goroutine " + std::to_string(c.id) + " [" + (reason ? reason : "runnable") + "]";
        if (!c.name.empty()) t += " \"" + c.name + "\"";
        lines.push_back({c.id, std::move(t)});
      }
    }
  }
  std::sort(lines.begin(), lines.end(), [](const line& a, const line& b) { return a.id < b.id; });
  std::string out;
  for (auto& l : lines) out += l.text + "\n";
  return out;
}

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

// ---- the ready/start path ----

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
  std::uint32_t s = co->wake.load(std::memory_order_relaxed);
  for (;;) {
    if (s == wake_parked) {
      // Acquire pairs with the worker's RUNNING -> PARKED release: the context is saved.
      if (co->wake.compare_exchange_weak(s, wake_running, std::memory_order_acq_rel,
                                         std::memory_order_relaxed))
        return true;
    } else if (s == wake_running) {
      // Release: what the waker wrote is visible to park()'s acquire of the permit.
      if (co->wake.compare_exchange_weak(s, wake_notified, std::memory_order_acq_rel,
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

// ==== the public sched interface ================================================================

namespace goro::sched {

using namespace detail;

void start(task* t, const start_options& opts) {
  worker* w = current_worker();
  scheduler* s = w ? &w->sched : current_scheduler();
  if (!s) {
    t->release();
    throw std::logic_error("goro: cannot start a coroutine: no goro::run() is running");
  }
  coroutine* co = s->alloc_coroutine(w);
  co->body = t;
  {
    spin_guard g(co->meta_mu);
    co->id = s->next_id(w);
    if (opts.name) co->name.assign(opts.name);
    co->alive = true;
  }
  co->wait_reason.store(nullptr, std::memory_order_relaxed);
  co->stack_request = opts.stack_size;
  co->wake.store(wake_running, std::memory_order_relaxed);
  if (w)
    w->spawned.inc();
  else
    s->note_foreign_spawn();
  s->enqueue(co);
}

void park(const char* reason) {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (!co) throw std::logic_error("goro::sched::park() called outside a coroutine");
  // Fast path: the permit is already here (the waker beat us to it). Only the owner moves the
  // state away from NOTIFIED, so a plain store consumes it; the load is an acquire (pairs with
  // ready()'s release). Not a CAS: the common case is "no permit", and a failed CAS is still a
  // locked instruction on the hand-off path.
  if (co->wake.load(std::memory_order_acquire) == wake_notified) {
    co->wake.store(wake_running, std::memory_order_relaxed);
    return;
  }
  co->wait_reason.store(reason ? reason : "waiting", std::memory_order_relaxed);
  if (!w->sched.switch_direct(*w, co, after_switch::park)) switch_to_loop(after_switch::park);
  co->wait_reason.store(nullptr, std::memory_order_relaxed);
}

bool worker_would_idle() noexcept {
  worker* w = current_worker();
  if (!w || w->sched.workers() < 2) return false;
  return w->q.tail.load(std::memory_order_relaxed) == w->q.head.load(std::memory_order_relaxed) &&
         w->runnext.load(std::memory_order_relaxed) == nullptr;
}

void ready(coroutine* co) {
  if (!claim_ready(co)) return;
  scheduler* sch = current_scheduler();
  if (!sch) fatal("goro: ready() called with no runtime running");
  sch->enqueue(co);
}

coroutine* current() noexcept {
  worker* w = current_worker();
  return w ? w->current : nullptr;
}

bool in_coroutine() noexcept { return current() != nullptr; }

int worker_index() noexcept {
  worker* w = current_worker();
  return w ? static_cast<int>(w->index) : -1;
}

stack_range current_stack() noexcept {
  coroutine* co = current();
  if (!co) return {nullptr, nullptr};
  return {co->stk.base, co->stk.top()};
}

void yield() {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (!co) {
    std::this_thread::yield();
    return;
  }
  if (w->sched.switch_direct(*w, co, after_switch::yield)) return;
  switch_to_loop(after_switch::yield);
}

std::uint64_t id_of(const coroutine* co) noexcept { return co ? co->id : 0; }
const char* name_of(const coroutine* co) noexcept { return co ? co->name.c_str() : ""; }

void waiter::wait(const char* reason) {
  if (co_) {
    park(reason);
    return;
  }
  while (futex_.load(std::memory_order_acquire) == 0) futex_wait(&futex_, 0);
  futex_.store(0, std::memory_order_relaxed);
}

void waiter::wake() noexcept {
  if (coroutine* c = co_) {
    ready(c);  // after this, *this may be gone: not touched again
    return;
  }
  futex_.store(1, std::memory_order_release);
  futex_wake(&futex_);  // harmless if the waiter has already returned (see futex.hpp)
}

unsigned resolve_workers(unsigned requested) {
  if (requested) return requested;
  if (const char* env = std::getenv("GOMAXPROCS"); env && *env) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (*end == '\0' && n > 0 && n <= 1024) return static_cast<unsigned>(n);
    std::fprintf(stderr, "goro: ignoring GOMAXPROCS=%s (not an integer in 1..1024)\n", env);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? hc : 1;
}

void run(const config& cfg, task* main) {
  if (current_worker() || current_scheduler())
    throw std::logic_error("goro::run: a goro runtime is already running in this process");
  scheduler s(cfg, resolve_workers(cfg.workers));
  install_overflow_handler();
  install_sigquit_handler();
  scheduler* expected = nullptr;
  if (!g_sched.compare_exchange_strong(expected, &s, std::memory_order_acq_rel))
    throw std::logic_error("goro::run: a goro runtime is already running in this process");
  s.run_main(main);
  s.wait_foreign_wakers();
  g_last_stats = s.collect_stats();
  g_sched.store(nullptr, std::memory_order_release);
}

std::string goroutine_dump() {
  if (scheduler* s = current_scheduler()) return s->dump();
  return {};
}

void note_helper_threads(int delta) noexcept {
  g_helper_threads.fetch_add(delta, std::memory_order_acq_rel);
}
void note_outside_wakers(int delta) noexcept {
  g_outside_wakers.fetch_add(delta, std::memory_order_acq_rel);
}

unsigned workers() noexcept {
  const scheduler* s = current_scheduler();
  return s ? s->workers() : 0;
}

stats get_stats() noexcept {
  if (scheduler* s = current_scheduler()) return s->collect_stats();
  return g_last_stats;
}

void task::fail(std::exception_ptr e) noexcept {
  coroutine* co = current();
  panic(e, id_of(co), name_of(co));
}

}  // namespace goro::sched
