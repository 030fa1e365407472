// goro/sched/sched.hpp: the scheduler's interface to the layers above it.
//
// sched/ knows nothing of channels, sync primitives or sockets. What it offers upward is:
//   - task:        the type-erased body of a coroutine (the runtime layer wraps closures in it);
//   - start():     make a new coroutine from a task and queue it;
//   - park()/ready(): the one blocking primitive every waiter is built on (see the contract below);
//   - waiter:      park/ready packaged for "whoever is calling": a coroutine parks, a plain thread
//                  blocks on a futex; higher layers queue waiters without caring which it is;
//   - yield(), current coroutine identity, statistics, and run() that owns the workers.
#pragma once

#include <goro/sched/config.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

namespace goro::sched {

struct coroutine;  // opaque outside sched/src

// The body of a coroutine. The scheduler calls run() on the coroutine's own stack; if run() throws,
// fail() gets the exception (still on that stack); then release() is called exactly once, and the
// scheduler never touches the task again. release() is where a task frees itself or drops its
// share of a join state.
struct task {
  virtual void run() = 0;
  // Default: an unrecovered panic (message, coroutine id and name on stderr, exit code 2).
  virtual void fail(std::exception_ptr e) noexcept;
  virtual void release() noexcept = 0;

 protected:
  ~task() = default;
};

// Memory for task objects (sched/src/alloc.cpp): per-thread free lists recycled across threads in
// batches, so that a task allocated on one worker and freed on another costs no malloc traffic.
// Task classes route their operator new/delete here; free_task must get the allocated size.
void* alloc_task(std::size_t n);
void free_task(void* p, std::size_t n) noexcept;

// Base for task types: allocation through alloc_task/free_task. A type deleted through a pointer
// to a base must have a virtual destructor, so the sized delete sees the most derived size.
struct pooled {
  static void* operator new(std::size_t n) { return alloc_task(n); }
  static void operator delete(void* p, std::size_t n) noexcept { free_task(p, n); }
};

struct start_options {
  const char* name = nullptr;  // copied; shown in panics, stack-overflow reports and dumps
  std::size_t stack_size = 0;  // 0: the runtime's default
};

// Creates a coroutine running t and makes it runnable. From a coroutine it goes to the current
// worker's run-next slot (Go's newproc: the child runs soon, on a warm cache, and the displaced
// run-next becomes stealable); from any other thread it goes to the global queue.
// Throws std::logic_error when no runtime is running.
void start(task* t, const start_options& opts = {});

// ---- park/ready: the contract -----------------------------------------------------------------
//
// park() suspends the calling coroutine until ready() is called for it. Every blocking facility
// follows the same three steps:
//   1. the waiter publishes where it waits (puts itself on a queue, under that queue's lock);
//   2. it releases that lock and calls park();
//   3. a waker that removes it from the queue (under the same lock) calls ready() exactly once,
//      after releasing the lock if it can (ready() takes scheduler locks: never hold a
//      higher-layer lock across it where that can be avoided; it is never *required*).
// ready() may run before the waiter has actually switched out (between steps 2 and the switch):
// a permit makes that safe. Each coroutine has a wake state, RUNNING / NOTIFIED / PARKED:
//   - ready(): PARKED -> RUNNING and enqueue it; or RUNNING -> NOTIFIED (it has not parked yet);
//   - park():  NOTIFIED -> RUNNING and return at once; otherwise switch to the worker, which does
//              RUNNING -> PARKED *after* the switch has saved the coroutine's registers (so no
//              other worker can resume a half-saved context), or finds NOTIFIED and resumes it.
// Exactly one ready() per park(): a second ready() for the same park is a bug in the waker and is
// reported as a fatal error. Wakers that race (a select woken by two channels, a timeout and a
// value) must decide the winner among themselves first (a CAS on their own state).
//
// Memory ordering: the state CASes are acq_rel. Whatever the waker wrote before ready() (a value
// handed over, a "closed" flag) happens-before the parked coroutine's return from park(): either
// through the NOTIFIED permit (release in ready, acquire in park), or through the run queue
// (ready's enqueue is a release, the worker's dequeue an acquire).
//
// `reason` says what the coroutine waits for ("chan receive", "sync.Mutex.Lock", "sleep", "IO
// wait"...): a static string shown by goroutine dumps and the deadlock report.
void park(const char* reason = nullptr);
void ready(coroutine* co);

// The calling coroutine, or nullptr on a thread that is not running a coroutine.
coroutine* current() noexcept;
bool in_coroutine() noexcept;

// Lets other runnable coroutines run; the caller goes to the back of its worker's queue.
// On a plain thread it is std::this_thread::yield().
void yield();

// How coroutine stacks' guard pages are installed in this process: "madvise" (MADV_GUARD_INSTALL,
// Linux 6.13+: no mapping per guard) or "mprotect" (a mapping per guard, so vm.max_map_count
// bounds live stacks); "" until the first stack is made. GORO_STACK_GUARD=madvise|mprotect|auto
// in the environment chooses; auto (the default) tries madvise and falls back, saying so once.
const char* stack_guard_mode() noexcept;

// The number of workers of the running runtime, from any thread; 0 when none runs.
unsigned workers() noexcept;

// The index of the worker running the caller (0..workers-1), or -1 off the workers.
int worker_index() noexcept;
// True when the calling coroutine's worker has nothing else to run (empty run queue and run-next
// slot) and other workers exist: a coroutine about to park for an event that is likely to come
// within a microsecond or two may poll for it instead (its worker would only spin looking for
// work, and a park + ready + steal costs more). False outside a coroutine.
bool worker_would_idle() noexcept;

// The usable stack of the calling coroutine: [lo, hi), growing down from hi. {nullptr, nullptr}
// outside a coroutine. For diagnostics and measurement (how much stack did this code touch?).
struct stack_range {
  void* lo;
  void* hi;
};
stack_range current_stack() noexcept;

std::uint64_t id_of(const coroutine* co) noexcept;
const char* name_of(const coroutine* co) noexcept;  // "" when unnamed

// One party that waits: the current coroutine (parks) or the current plain thread (blocks on a
// futex). Construct it on the waiting side, publish its address, call wait(); a waker calls wake()
// exactly once per wait(). The object may be destroyed as soon as wait() returns, so wake() reads
// everything it needs before its final store (see waiter::wake in api.cpp).
class waiter {
 public:
  waiter() noexcept : co_(current()) {}
  waiter(const waiter&) = delete;
  waiter& operator=(const waiter&) = delete;

  void wait(const char* reason = nullptr);  // reason: as for park()
  void wake() noexcept;
  coroutine* co() const noexcept { return co_; }

 private:
  coroutine* co_;
  std::atomic<std::uint32_t> futex_{0};  // plain threads only: 1 once woken
};

// ---- timers ----------------------------------------------------------------------------------
//
// The scheduler keeps a timer heap per worker (a binary min-heap by deadline, O(log n) add and
// cancel) and fires due timers from its workers' loops; an idle worker sleeps exactly until the
// earliest deadline of all heaps (see "Timers" in docs/architecture.md). The runtime layer builds
// sleep_for, after, ticker and timer on this.

// Monotonic time in nanoseconds (CLOCK_MONOTONIC, the clock of std::chrono::steady_clock).
std::int64_t now_ns() noexcept;

// A deadline the scheduler acts on. Subclass it and override fire(). Not copyable; the object
// must stay alive while armed, and until a fire() that has begun has returned.
class timer {
 public:
  timer() = default;
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;

  // Called once per arming, at or after the deadline (never before), on a worker thread, with no
  // scheduler lock held: it may ready() coroutines, try_send on channels, or re-arm this timer.
  virtual void fire() noexcept = 0;
  // Called instead of fire() for a timer still armed when the runtime stops (to free it).
  virtual void abandon() noexcept {}

  std::int64_t deadline() const noexcept { return when_; }

 protected:
  ~timer() = default;

 private:
  friend struct timer_access;
  friend bool timer_armed(const timer* t) noexcept;
  std::int64_t when_ = 0;
  std::uint32_t index_ = 0;               // position in its heap, while armed
  std::atomic<void*> heap_{nullptr};      // the heap holding it; nullptr: not armed
};

// Arms t (which must not be armed) to fire at `when` (now_ns() scale). On a worker it goes to
// that worker's heap, from another thread to worker 0's. Throws std::logic_error without a
// running runtime.
void add_timer(timer* t, std::int64_t when);
// Disarms t. True: it was armed and will not fire. False: it was not armed, or its fire() has
// already begun (and may still be running on another thread).
bool cancel_timer(timer* t) noexcept;
// Whether t is armed now (a snapshot, unless the caller serializes arming and cancelling).
bool timer_armed(const timer* t) noexcept;

// Ends the program the way an unrecovered Go panic does: "panic: <type>: <what()>" and the
// coroutine's id and name on stderr, then exit code 2 (no destructors, no atexit handlers: other
// workers are still running). The default task::fail() calls it.
[[noreturn]] void panic(std::exception_ptr e, std::uint64_t co_id, const char* co_name) noexcept;

// Ends the program on a broken invariant or a misuse nothing can recover from (Go's fatal
// errors): "fatal error: <msg>" on stderr, and the coroutine that hit it if any ("goroutine <id>
// "<name>" [running]"), then exit code 2, as Go. With GOTRACEBACK=crash in the environment it
// abort()s instead, for a core dump. Every layer's fatal errors go through it (panic.cpp); msg
// says who is speaking ("sync: unlock of unlocked mutex", "goro: io_uring: ...").
[[noreturn]] void fatal(const char* msg) noexcept;

// ---- runtime lifetime, configuration and statistics ---------------------------------------------

struct config {
  unsigned workers = 0;        // 0: $GOMAXPROCS if set, else std::thread::hardware_concurrency()
  std::size_t stack_size = 0;  // 0: default_stack_size
};

// Chosen by measurement; see docs/architecture.md ("Stacks") and tests/test_stack.cpp.
inline constexpr std::size_t default_stack_size = 256 * 1024;

// Starts the workers (the calling thread becomes worker 0), runs `main` as the first coroutine and
// returns when it has finished: the workers are stopped and joined, coroutines still parked are
// abandoned as in Go (their stacks are freed, objects on them are not destroyed). Throws
// std::logic_error if a runtime is already running in this process.
void run(const config& cfg, task* main);

// Resolves the worker count: cfg.workers, else $GOMAXPROCS, else hardware_concurrency().
unsigned resolve_workers(unsigned requested);

// ---- diagnostics ----------------------------------------------------------------------------
//
// A goroutine dump: one line per live coroutine, Go's format:
//   goroutine 7 [chan receive] "worker-3"
//   goroutine 1 [runnable] "main"
// States: runnable (running or queued), or the reason it parked. The process prints one on
// SIGQUIT (then exits with code 2, as Go does) and when it detects a deadlock. A dump taken
// while coroutines run is a snapshot: each line is consistent, the set may be a moment old.
std::string goroutine_dump();

// The deadlock detector (see "Safety nets" in docs/architecture.md) declares a deadlock when
// every worker is idle with nothing queued, no timer armed, no I/O in flight, no call pending
// on an outside party that will wake a coroutine, and no thread in the process besides the
// runtime's own (a plain thread could still send on a channel). Runtime helper threads and the
// calls they carry are announced here (the goro::blocking pool does).
void note_helper_threads(int delta) noexcept;  // threads that belong to the runtime
void note_outside_wakers(int delta) noexcept;  // pending calls that will ready a coroutine

struct stats {
  std::uint64_t workers = 0;
  std::uint64_t spawned = 0;      // coroutines started (alive = spawned - finished)
  std::uint64_t finished = 0;     // coroutines that returned
  std::uint64_t switches = 0;     // coroutine resumptions by a worker
  std::uint64_t steals = 0;       // successful steal operations
  std::uint64_t stolen = 0;       // coroutines moved by them
  std::uint64_t parks = 0;        // coroutine parks (switched out, not resumed at once)
  std::uint64_t yields = 0;
  std::uint64_t worker_sleeps = 0;  // times a worker went to sleep for lack of work
  std::uint64_t worker_wakeups = 0; // times a sleeping worker was woken by a waker
  std::uint64_t global_queue_pushes = 0;
  std::uint64_t monitor_wakeups = 0;  // workers woken by the monitor for a stalled worker's work
  std::uint64_t timers_fired = 0;      // timers whose deadline came (sleeps, after, tickers)
  std::uint64_t io_submitted = 0;      // io_uring requests queued by coroutines
  std::uint64_t io_completed = 0;      // and completed (the difference is in flight)
  std::uint64_t stacks_allocated = 0;  // stacks ever carved from slabs (not reuses)
  std::uint64_t stack_bytes_reserved = 0;  // virtual bytes of stack slabs
  std::uint64_t stacks_released = 0;  // free stacks whose pages went back to the kernel (scavenge)
};
// Totals over all workers; counters are read without stopping the workers, so a snapshot taken
// while they run is approximate. Works while a runtime runs; otherwise returns the last one's.
stats get_stats() noexcept;

}  // namespace goro::sched
