// core.hpp: the scheduler's internal data structures. Never included by a public header.
//
// Objects and who touches them:
//   coroutine  - owned by whichever worker runs it; while queued or parked, by nobody (it is only
//                reachable through the queue or the waiter list that holds it).
//   worker     - one per OS thread. Fields marked "owner" are touched only by that thread;
//                the run queue's head, runnext and sleep_word are shared through atomics.
//   scheduler  - one per goro::run(); shared state is atomics or guarded by the named mutex.
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

#include <liburing.h>

#include "mutex.hpp"
#include "stack.hpp"

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

// Wake states of the park/ready permit (contract in goro/sched/sched.hpp).
enum : std::uint32_t { wake_running = 0, wake_notified = 1, wake_parked = 2 };

}  // namespace goro::sched::detail

namespace goro::sched {

// The control block of a coroutine (declared opaque in <goro/sched/sched.hpp>).
struct coroutine {
  detail::fcontext_t ctx = nullptr;  // saved registers while not running; nullptr until first run
  task* body = nullptr;
  std::atomic<std::uint32_t> wake{detail::wake_running};
  coroutine* link = nullptr;  // intrusive link: global queue, free lists
  std::uint64_t id = 0;
  std::size_t stack_request = 0;  // 0: the pool's default size
  detail::stack stk;              // empty until first run
  std::string name;
  // For dumps: what it parked on (nullptr while runnable), and `alive` with `name` and `id`
  // under meta_mu (written at start and end, read by goroutine_dump from any thread).
  std::atomic<const char*> wait_reason{nullptr};
  sched::spin_lock meta_mu;
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

// ---- the local run queue ------------------------------------------------------------------------
// Go's runq: a bounded ring, FIFO. The owner pushes at tail and pops at head; thieves take half
// from head. head is advanced only by CAS (owner pop and thieves race on it); tail is stored only
// by the owner. Slots are atomics (relaxed) because a thief may read a slot the owner is
// overwriting; the thief's CAS on head then fails and it discards what it read.
struct runq {
  static constexpr std::uint32_t capacity = 256;
  std::atomic<std::uint32_t> head{0};
  std::atomic<std::uint32_t> tail{0};
  std::array<std::atomic<coroutine*>, capacity> slots{};

  bool empty() const noexcept {
    return head.load(std::memory_order_acquire) == tail.load(std::memory_order_acquire);
  }
};

// A worker's timers: a binary min-heap by deadline. `mu` guards `h` and every armed timer's
// when_/index_; timer::heap_ points at the heap (written under mu, read without it by cancel,
// which re-checks it under mu). `next` mirrors the earliest deadline (INT64_MAX when empty) so
// that loops and sleepers can look without the lock; it is stored seq_cst: the timer half of the
// wake-up protocol (see "Timers" in scheduler.cpp).
struct timer_heap {
  sched::spin_lock mu;
  std::vector<sched::timer*> h GORO_GUARDED_BY(mu);
  std::atomic<std::int64_t> next{INT64_MAX};
};

// A worker's io_uring (io.cpp). The submission queue is guarded by sq_mu: the owner's coroutines
// queue their requests there and the owner submits them in batches, but any worker may submit a
// stalled owner's queue (so a request queued just before its worker got stuck in a long
// computation still reaches the kernel). The completion queue is guarded by cq_mu: any worker
// may reap it (try_lock: an idle worker serves a busy one's completions), except while the owner
// waits in it. Wake-ups from other threads arrive as an eventfd write completing the read kept
// armed on the ring (efd_armed). Cancellation requests from other threads queue on cancel_head (a
// lock-free stack of io_ops). Lock order: cq_mu, then sq_mu.
struct io_ring {
  ::io_uring ring{};
  bool ok = false;
  int efd = -1;
  std::uint64_t efd_buf = 0;              // the armed eventfd read's buffer
  std::atomic<bool> efd_armed{false};     // a read of efd is in the ring
  sched::spin_lock sq_mu;                 // guards the submission queue
  sched::spin_lock cq_mu;                 // guards reaping the completion queue
  std::atomic<std::uint32_t> queued{0};   // requests queued and not yet submitted (mirror, for peeking)
  std::atomic<sched::io_op*> cancel_head{nullptr};
  std::atomic<std::uint32_t> waiting{0};  // 1 while the owner waits in the ring (or is about to)
  std::atomic<std::int64_t> inflight{0};  // requests queued or submitted and not yet reaped
};

// What a coroutine asks its worker to do once it has switched out.
enum class after_switch : std::uint8_t { none, park, yield, exit };

struct alignas(64) worker {
  worker(scheduler& s, unsigned index);
  ~worker();

  scheduler& sched;
  const unsigned index;

  // Shared (thieves, wakers).
  runq q;
  std::atomic<coroutine*> runnext{nullptr};
  alignas(64) std::atomic<std::uint32_t> sleep_word{0};  // futex: 1 = woken by a waker
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

  // I/O (io.cpp).
  void io_init(worker& w);                   // throws std::runtime_error when io_uring is refused
  void io_exit(worker& w) noexcept;
  void io_poll(worker& w);                   // owner: submit queued cancels and requests
  bool io_reap(worker& reaper, worker& owner);  // any worker: reap owner's ring if its lock is free
  bool io_reap_all(worker& w);               // every ring: submit stalled queues, reap completions
  void io_wait(worker& w, std::int64_t deadline);  // owner, idle: wait in the ring
  void io_kick(worker& v) noexcept;          // any thread: end v's wait in the ring
  bool io_pending(const worker& v) const noexcept;  // completions or cancels waiting for v

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
  coroutine* runq_pop(worker& w);
  void runq_put_slow(worker& w, std::uint32_t h, std::uint32_t t);
  std::uint32_t runq_grab(worker& victim, worker& thief, std::uint32_t batch_head, bool take_next);
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
  mutex gq_mu_;
  coroutine* gq_head_ GORO_GUARDED_BY(gq_mu_) = nullptr;
  coroutine* gq_tail_ GORO_GUARDED_BY(gq_mu_) = nullptr;
  std::atomic<std::uint32_t> gq_size_{0};

  // Idle workers. See "The wake-up protocol" in scheduler.cpp.
  std::atomic<int> nspinning_{0};
  std::atomic<int> nidle_{0};
  mutex idle_mu_;
  std::vector<worker*> idle_ GORO_GUARDED_BY(idle_mu_);
  std::atomic<bool> stopping_{false};

  // Coroutine control blocks: allocated in slabs (never freed before the scheduler), recycled
  // through per-worker caches. The slabs hold every coroutine there is: a goroutine dump can walk them.
  mutex co_mu_;
  std::vector<std::unique_ptr<coroutine[]>> co_slabs_ GORO_GUARDED_BY(co_mu_);
  std::vector<coroutine*> co_free_ GORO_GUARDED_BY(co_mu_);

  std::atomic<std::uint64_t> id_counter_{1};
  std::atomic<std::uint64_t> foreign_spawned_{0};  // starts from threads that are not workers
  std::atomic<std::uint32_t> foreign_in_flight_{0};  // non-worker threads inside enqueue()

  // The monitor (Go's sysmon, reduced to one duty): see scheduler::monitor().
  void monitor();
  std::thread monitor_thread_;
  std::atomic<std::uint32_t> monitor_stop_{0};  // futex word: 1 = stop; also woken for SIGQUIT
  std::atomic<std::uint64_t> monitor_wakeups_{0};
  bool deadlocked();  // monitor: the deadlock conditions (see scheduler.cpp)
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

// The running scheduler, if any (set for the duration of run()).
scheduler* current_scheduler() noexcept;

// Process-wide: installs the SIGSEGV handler (once) and the calling thread's alternate signal
// stack for the given worker. overflow.cpp.
void install_overflow_handler();
void* enable_altstack();
void disable_altstack(void* stack);

}  // namespace goro::sched::detail
