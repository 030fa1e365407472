// core.hpp: the scheduler's internal data structures. Never included by a public header.
//
// Objects and who touches them:
//   coroutine  - owned by whichever worker runs it; while queued or parked, by nobody (it is only
//                reachable through the queue or the waiter list that holds it).
//   worker     - one per OS thread. Fields marked "owner" are touched only by that thread;
//                the run queue's head, runnext and sleep_word are shared through atomics.
//   scheduler  - one per goro::run(); shared state is atomics or guarded by the named mutex.
//
// Files: switch.cpp (the context switch, park, the coroutine side), runq.cpp (local and global
// run queues, stealing), idle.cpp (the wake-up protocol, sleeping), scheduler.cpp (the worker
// loop, lifetimes, the ready/start path), monitor.cpp (stall rescue, deadlock, dump, SIGQUIT),
// api.cpp (the public sched:: calls), timer.cpp, io.cpp, stack.cpp, overflow.cpp, panic.cpp.
//
// Lock order (outermost first): idle_mu_, global queue mutex, pool mutexes (stack_pool,
// coroutine pool). No scheduler lock is ever held across a context switch or across a call into
// user code, and none is held while calling ready() (ready takes the global queue mutex).
#pragma once

#include <goro/sched/sched.hpp>

#include <boost/context/detail/fcontext.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <goro/sched/io.hpp>
#include <goro/sched/spin_lock.hpp>

#include "io_ring.hpp"
#include "mutex.hpp"
#include "runq.hpp"
#include "stack.hpp"
#include "timer_heap.hpp"

namespace goro::sched::detail {

using boost::context::detail::fcontext_t;
using boost::context::detail::transfer_t;

class scheduler;
struct worker;

// The C++ runtime's per-thread exception state (__cxa_eh_globals: the stack of exceptions being
// handled and the uncaught count), laid out as libstdc++ and libc++abi both lay it out.
struct eh_globals {
  void* caught;
  unsigned int uncaught;
};

// A statistics counter written only by its owner thread and read by anyone: a relaxed load+store
// (a plain increment, no locked instruction) is enough, since there is a single writer.
struct counter {
  std::atomic<std::uint64_t> v{0};
  void inc(std::uint64_t n = 1) noexcept {
    v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t get() const noexcept { return v.load(std::memory_order_relaxed); }
};

// The park/ready permit (contract in goro/sched/sched.hpp), Go's "parking_lot" in one word:
//   running   the coroutine runs, or is queued, and holds no permit;
//   notified  a ready() came before the park(): the next park() consumes it and does not sleep;
//   parked    the coroutine has switched out for a park() and its registers are saved; the one
//             ready() that moves it back to running (claim_ready) owns it and must queue it.
// Transitions: running -> notified (ready, release), notified -> running (park's fast path, by
// the owner only), running -> parked (try_park, acq_rel, after the switch), parked -> running
// (claim_ready, acq_rel). A ready() that finds `notified` is a waker bug (two wakers for one
// park): fatal.
enum class permit : std::uint32_t { running = 0, notified = 1, parked = 2 };

// The coroutine's lifecycle, and who owns the control block in each state (Go's _G* states):
//   free      in a free list (a worker's cache or the scheduler's slabs): owned by that list;
//   fresh     started and queued, never run: no stack, no context; owned by the queue holding it;
//   running   on a worker: owned by that worker's thread (worker::current);
//   runnable  switched out and queued again (local ring, run-next, global queue): owned by it;
//   parked    switched out for park(): owned by nobody until a ready() claims its permit, which
//             makes the claimer its owner (parked -> runnable) until it is queued;
//   dead      its body has returned: the worker it ran on frees its stack and its block.
// Written by the owner of the moment with relaxed stores; ownership passes through a queue or the
// permit's acq_rel CAS, which orders each store before the next owner's load. The goroutine dump
// reads it (relaxed) for display only.
enum class co_state : std::uint8_t { free, fresh, running, runnable, parked, dead };

const char* to_string(co_state s) noexcept;
const char* to_string(permit p) noexcept;

}  // namespace goro::sched::detail

namespace goro::sched {

// The control block of a coroutine (declared opaque in <goro/sched/sched.hpp>).
struct coroutine {
  detail::fcontext_t ctx = nullptr;  // saved registers while not running; nullptr until first run
  task* body = nullptr;
  std::atomic<detail::permit> wake{detail::permit::running};
  std::atomic<detail::co_state> state{detail::co_state::free};
  coroutine* link = nullptr;  // intrusive link: global queue, free lists
  std::uint64_t id = 0;
  std::size_t stack_request = 0;  // 0: the pool's default size
  detail::stack stk;              // empty until first run
  std::string name;
  // For dumps: what it parked on (nullptr while runnable), and `alive` with `name` and `id`
  // under meta_mu (written at start and end, read by goroutine_dump from any thread).
  std::atomic<const char*> wait_reason{nullptr};
  sched::spin_lock meta_mu{lock_rank::coroutine_meta};
  bool alive GORO_GUARDED_BY(meta_mu) = false;
  // The C++ runtime's per-thread exception state (__cxa_eh_globals: caught-exception stack and
  // uncaught count) belongs to the coroutine, not the thread: saved here while switched out, so a
  // coroutine that parks inside a catch block and resumes elsewhere finds its own.
  void* eh_caught = nullptr;
  unsigned eh_uncaught = 0;
#if GORO_ASAN
  void* asan_fake_stack = nullptr;
#endif
#if GORO_TSAN
  void* tsan_fiber = nullptr;
#endif
};

}  // namespace goro::sched

namespace goro::sched::detail {

// The one checked transition of the coroutine's lifecycle: fatal, naming the coroutine and all
// three states, when co is not in `from`. to_running accepts fresh and runnable.
// Inline: ready(), start() and every switch make one (bad_transition, the fatal path, is out of
// line in switch.cpp).
[[noreturn]] void bad_transition(const coroutine* co, co_state found, const char* from, co_state to) noexcept;

inline void transition(coroutine* co, co_state from, co_state to) noexcept {
  const co_state s = co->state.load(std::memory_order_relaxed);
  if (s != from) [[unlikely]]
    bad_transition(co, s, to_string(from), to);
  co->state.store(to, std::memory_order_relaxed);
}

inline void to_running(coroutine* co) noexcept {
  const co_state s = co->state.load(std::memory_order_relaxed);
  if (s != co_state::fresh && s != co_state::runnable) [[unlikely]]
    bad_transition(co, s, "fresh|runnable", co_state::running);
  co->state.store(co_state::running, std::memory_order_relaxed);
}

// Coroutines made runnable together (an I/O reap), linked through coroutine::link in order.
struct ready_list {
  coroutine* head = nullptr;
  coroutine* tail = nullptr;
  std::uint32_t n = 0;
  void push(coroutine* co) noexcept {
    co->link = nullptr;
    if (tail)
      tail->link = co;
    else
      head = co;
    tail = co;
    ++n;
  }
};

// What a coroutine asks its worker to do once it has switched out.
enum class after_switch : std::uint8_t { none, park, yield, exit };

struct alignas(64) worker {
  worker(scheduler& s, unsigned index);
  ~worker();

  scheduler& sched;
  const unsigned index;

  // Shared (thieves, wakers).
  runq q;  // the local ring and the run-next slot (runq.hpp)
  alignas(64) std::atomic<std::uint32_t> sleep_word{0};  // 1 = woken by a waker (idle.cpp)
  alignas(64) timer_heap timers;  // shared: any thread arms and cancels, any worker fires
  alignas(64) io_ring io;         // see io_ring

  // Owner only.
  alignas(64) coroutine* current = nullptr;
  fcontext_t loop_ctx = nullptr;  // the worker loop's registers while a coroutine runs
  after_switch pending = after_switch::none;  // what the loop does for the coroutine switching to it
  coroutine* prev = nullptr;  // a coroutine that switched directly to the current one
  after_switch prev_did = after_switch::none;  // what prev did: yield or park
  bool spinning = false;
  std::uint32_t runnext_streak = 0;
  std::uint32_t tick = 0;
  std::uint32_t rng;
  std::uint64_t id_next = 0, id_end = 0;  // a block of coroutine ids reserved from the scheduler
  stack_cache stacks;
  std::vector<coroutine*> free_cos;
  eh_globals* eh = nullptr;  // this thread's C++ exception state (constant per thread)
#if GORO_ASAN
  const void* asan_loop_bottom = nullptr;
  std::size_t asan_loop_size = 0;
#endif
#if GORO_TSAN
  void* tsan_loop_fiber = nullptr;
#endif
  void* altstack = nullptr;

  // Statistics: written by the owner, read by anyone.
  counter spawned, finished, switches, steals, stolen, parks, yields, sleeps, wakeups,
      global_pushes, timers_fired, io_submitted, io_completed;

  std::thread thread;  // not used for worker 0 (the thread that called run)
};

// ---- the scheduler ------------------------------------------------------------------------------
class scheduler {
 public:
  scheduler(const config& cfg, unsigned nworkers);
  ~scheduler();

  void run_main(task* main);  // runs until the main coroutine has returned

  // Queues and wakeups.
  void enqueue(coroutine* co);                 // the ready()/start() path
  void runq_put(worker& w, coroutine* co);     // owner: tail of the local queue
  bool runq_put_next(worker& w, coroutine* co);  // owner: run-next slot; true if it displaced one
  // wake = false only where the pushing worker is about to look at the global queue itself.
  void global_push(coroutine* first, coroutine* last, std::uint32_t n, bool wake = true);
  bool wake_one_if_needed();  // true if it woke a sleeping worker

  // Switching (owner thread only).
  void prepare(worker& w, coroutine* co);
  void requeue_yielded(worker& w, coroutine* co);
  void requeue(worker& w, coroutine* co);
  bool switch_direct(worker& w, coroutine* a, after_switch what);
  bool try_park(worker& w, coroutine* co);
  void finish_park(worker& w, coroutine* co);
  coroutine* local_get(worker& w);

  coroutine* alloc_coroutine(worker* w);
  std::uint64_t next_id(worker* w);
  unsigned workers() const noexcept { return static_cast<unsigned>(workers_.size()); }
  worker& worker_at(unsigned i) noexcept { return *workers_[i]; }
  stats collect_stats() const noexcept;

  // Timers (timer.cpp).
  void add_timer(worker& w, sched::timer* t, std::int64_t when);
  bool run_due_timers(worker& w, timer_heap& th, std::int64_t now);  // true if any fired
  bool run_all_due_timers(worker& w);                               // every worker's heap
  std::int64_t earliest_timer() const noexcept;                     // INT64_MAX: none
  void abandon_timers();                                            // at shutdown

  // I/O (io.cpp): reaping a ring and queueing what it readied.
  bool io_reap(worker& reaper, worker& owner);  // any worker: reap owner's ring if its lock is free
  bool io_reap_all(worker& w);               // every ring: submit stalled queues, reap completions

  // Returns once no thread outside the runtime is inside enqueue() (see enqueue).
  void wait_foreign_wakers() noexcept;

  void note_foreign_spawn() noexcept { foreign_spawned_.fetch_add(1, std::memory_order_relaxed); }

  // Diagnostics: the goroutine dump, and the futex word SIGQUIT's handler wakes the monitor on.
  std::string dump();
  std::atomic<std::uint32_t>& monitor_word() noexcept { return monitor_stop_; }

  coroutine* main_co = nullptr;

 private:
  friend struct worker;
  void worker_main(worker& w);
  void loop(worker& w);
  void execute(worker& w, coroutine* co);
  void finish(worker& w, coroutine* co);
  coroutine* find_runnable(worker& w);
  coroutine* global_get(worker& w, std::uint32_t max);
  coroutine* steal_work(worker& w);
  coroutine* rebalance(worker& w);
  coroutine* runq_steal(worker& thief, worker& victim, bool take_next);
  void stop_spinning(worker& w);
  void sleep(worker& w);
  bool any_work_visible() const noexcept;
  void stop();
  void free_coroutine(worker* w, coroutine* co);

  // Declared before workers_: each worker's stack cache hands its stacks back to the pool when
  // the worker is destroyed, so the pool must outlive the workers.
  stack_pools stack_pools_;
  std::vector<std::unique_ptr<worker>> workers_;

  // Global run queue: an intrusive FIFO list under gq_mu_. gq_size_ mirrors its length so that
  // workers can skip the lock when it is empty (a stale read only delays or repeats a check).
  mutex gq_mu_{lock_rank::global_queue};
  coroutine* gq_head_ GORO_GUARDED_BY(gq_mu_) = nullptr;
  coroutine* gq_tail_ GORO_GUARDED_BY(gq_mu_) = nullptr;
  std::atomic<std::uint32_t> gq_size_{0};

  // Idle workers. See "The wake-up protocol" in idle.cpp.
  std::atomic<int> nspinning_{0};
  std::atomic<int> nidle_{0};
  mutex idle_mu_{lock_rank::idle};
  std::vector<worker*> idle_ GORO_GUARDED_BY(idle_mu_);
  std::atomic<bool> stopping_{false};

  // Coroutine control blocks: allocated in slabs (never freed before the scheduler), recycled
  // through per-worker caches. The slabs hold every coroutine there is: a goroutine dump can walk them.
  static constexpr std::size_t co_slab_size = 256;
  mutex co_mu_{lock_rank::coroutine_pool};
  std::vector<std::unique_ptr<coroutine[]>> co_slabs_ GORO_GUARDED_BY(co_mu_);
  std::vector<coroutine*> co_free_ GORO_GUARDED_BY(co_mu_);

  std::atomic<std::uint64_t> id_counter_{1};
  std::atomic<std::uint64_t> foreign_spawned_{0};  // starts from threads that are not workers
  std::atomic<std::uint32_t> foreign_in_flight_{0};  // non-worker threads inside enqueue()

  // The monitor (Go's sysmon): see monitor.cpp.
  void monitor();
  std::thread monitor_thread_;
  std::atomic<std::uint32_t> monitor_stop_{0};  // futex word: 1 = stop; also woken for SIGQUIT
  std::atomic<std::uint64_t> monitor_wakeups_{0};
  bool deadlocked();  // monitor: the deadlock conditions (see monitor.cpp)
};

// The current thread's worker (nullptr on other threads). Deliberately out of line: a coroutine
// can migrate between threads across a context switch, and an inlined thread_local access lets
// the compiler keep the old thread's TLS address in a register across the switch.
worker* current_worker() noexcept;
void set_current_worker(worker* w) noexcept;

// The C++ runtime's per-thread exception state, read once per worker thread (worker::eh). Out of
// line for the same reason as current_worker(), and more: <cxxabi.h> declares __cxa_get_globals
// __attribute__((const)), which entitles the compiler to reuse one call's result after a context
// switch, that is, on another thread.
eh_globals* this_thread_eh_globals() noexcept;

// ready()'s state step: true if co was parked and the caller must now queue it; false if it had
// not parked yet (it got the permit and will not park).
bool claim_ready(coroutine* co) noexcept;

// The running scheduler, if any (set for the duration of run(), api.cpp).
scheduler* current_scheduler() noexcept;

// SIGQUIT prints the goroutine dump (monitor.cpp); installed once per process by run().
void install_sigquit_handler();

// Process-wide: installs the SIGSEGV handler (once) and the calling thread's alternate signal
// stack for the given worker. overflow.cpp.
void install_overflow_handler();
void* enable_altstack();
void disable_altstack(void* stack);

}  // namespace goro::sched::detail
