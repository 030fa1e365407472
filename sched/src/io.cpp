// io.cpp: one io_uring per worker: requests, completions, cancellation, and the idle wait.
//
// ==== Requests ===================================================================================
// io_op::run() puts the request on the submission queue of the worker the coroutine runs on and
// parks. Nothing is submitted there and then: the worker submits everything queued in one
// io_uring_enter when its loop next comes round (find_runnable -> io_poll), or when it goes idle
// (io_wait). A burst of coroutines each starting a read therefore costs one system call, not one
// each. Direct coroutine-to-coroutine switches return to the loop at least every 61st switch,
// which bounds the delay. A worker that runs one coroutine for long never comes round: its queued
// requests are submitted by an idle worker (io_reap_all), which the monitor wakes for it as it
// does for a stalled run queue. Hence sq_mu (uncontended but for that rescue).
//
// ==== Completions ================================================================================
// user_data is the io_op's address, or one of two tags (tag_ignore for the completions of
// cancellations, tag_efd for the wake-up read). Whoever reaps a completion stores the result in
// the op and readies its coroutine; the op lives on that coroutine's stack, so the reaper reads
// everything it needs first and touches nothing after ready(). Who reaps:
//   - the owner, every pass of its loop (one load of the CQ tail when nothing is there);
//   - any worker that finds no work reaps every ring that has completions (io_reap_all), so a
//     worker busy in one long coroutine does not sit on another coroutine's finished read;
//   - the monitor notices a stalled worker with completions waiting and wakes an idle worker
//     for it (as it does for a stalled worker's run queue).
// Reaping a ring takes its cq_mu (try_lock: a reaper that finds it held moves on); the readied
// coroutines are queued after it is released.
// When: a worker reaps its own ring when it has nothing queued (with every other ring, in
// io_reap_all) and on every 61st pass of its loop, not on every pass. Reaping on every pass let a
// few connections whose round trips complete at once on their worker's ring run again and again
// ahead of everything queued: a fast lane (echo demo: p50 12 us, p99 2.6 ms). Reaping when the
// queue runs dry serves completions in rounds, first come first served, as Go's scheduler polls
// the network when a P runs out of work.
// Where: a single completion to the reaper's own queue (a lone ping-pong stays on its core and
// wakes nobody); a batch, with several workers, to the global queue in one push, which wakes an
// idle worker, and from which each worker takes its fair share (size / workers + 1), as Go's
// netpoll injects into its global queue. Kept on the reaper's queue instead, a worker whose
// connections' completions keep arriving on its own ring is never idle, so nobody steals from it,
// while an idle worker greedily reaps fresh completions: one worker served most connections
// while the other raced through a few (echo demo at GOMAXPROCS=2: p50 30 us, p99 4 ms).
//
// ==== Cancellation ================================================================================
// Only the owner submits to its ring, so io_op::cancel() from elsewhere pushes the op onto the
// owner's cancel stack (lock-free) and kicks the owner if it waits in the ring; the owner submits
// an IORING_OP_ASYNC_CANCEL for each. The op's states (io_op::state_):
//     0 idle -> 1 submitted             run()
//     0 idle -> 4 cancelled early       cancel() before run(): run() returns -ECANCELED at once
//     1 -> 2 cancel queued at owner     cancel() (the one caller whose reason won)
//     2 -> 3 cancel submitted           owner, after io_uring_submit has handed it to the kernel
// run() does not return while the state is 2: the owner still holds the op's address and will
// submit a cancel keyed by it, which must not hit a later request at the same address.
// The kick is Dekker's pattern again: the canceller pushes (seq_cst) then reads io_ring::waiting;
// the owner sets waiting (seq_cst) then reads the cancel stack before it waits.
//
// ==== The idle wait ===============================================================================
// A worker with nothing to run (scheduler::sleep, W5) waits in io_uring_enter for one completion,
// with the earliest timer deadline as the timeout. Other threads wake it by writing its eventfd,
// which completes the read kept armed on the ring. One wait thus covers I/O, timers, work
// published by other threads (wake_one_if_needed), and cancellations.
#include <goro/sched/io.hpp>

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core.hpp"

#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
// The kernel orders a request's submission before its completion, but TSan cannot see through
// it: tell it that what the submitter wrote into the op happens before the reaper reads it.
#define GORO_TSAN_RELEASE(p) __tsan_release(p)
#define GORO_TSAN_ACQUIRE(p) __tsan_acquire(p)
#else
#define GORO_TSAN_RELEASE(p) ((void)0)
#define GORO_TSAN_ACQUIRE(p) ((void)0)
#endif

namespace goro::sched {

using namespace detail;

namespace {

constexpr std::uint64_t tag_ignore = 0;
constexpr std::uint64_t tag_efd = 1;
constexpr unsigned ring_entries = 1024;

void prep(io_uring_sqe* sqe, const io_args& a) {
  switch (a.kind) {
    case io_kind::accept:
      io_uring_prep_accept(sqe, a.fd, a.addr, reinterpret_cast<socklen_t*>(a.addrlen), a.flags);
      break;
    case io_kind::connect:
      io_uring_prep_connect(sqe, a.fd, a.addr, a.len);
      break;
    case io_kind::recv:
      io_uring_prep_recv(sqe, a.fd, a.buf, a.len, a.flags);
      break;
    case io_kind::send:
      io_uring_prep_send(sqe, a.fd, a.buf, a.len, a.flags);
      break;
    case io_kind::read:
      io_uring_prep_read(sqe, a.fd, a.buf, a.len, a.offset);
      break;
    case io_kind::write:
      io_uring_prep_write(sqe, a.fd, a.buf, a.len, a.offset);
      break;
    case io_kind::fsync:
      io_uring_prep_fsync(sqe, a.fd, static_cast<unsigned>(a.flags));
      break;
    case io_kind::openat:
      io_uring_prep_openat(sqe, a.fd, a.path, a.flags, a.mode);
      break;
    case io_kind::close:
      io_uring_prep_close(sqe, a.fd);
      break;
  }
}

const char* wait_reason(io_kind k) {
  switch (k) {
    case io_kind::accept: return "IO wait: accept";
    case io_kind::connect: return "IO wait: connect";
    case io_kind::recv: return "IO wait: read";
    case io_kind::send: return "IO wait: write";
    case io_kind::read: return "IO wait: file read";
    case io_kind::write: return "IO wait: file write";
    case io_kind::fsync: return "IO wait: fsync";
    case io_kind::openat: return "IO wait: open";
    case io_kind::close: return "IO wait: close";
  }
  return "IO wait";
}

// Completions waiting in r. io_uring_cq_ready() reads the head with a plain load, which is right
// for the thread advancing it and a data race for anyone else: observers outside cq_mu use this.
unsigned cq_ready(const io_uring& r) noexcept {
  return __atomic_load_n(r.cq.ktail, __ATOMIC_ACQUIRE) - __atomic_load_n(r.cq.khead, __ATOMIC_ACQUIRE);
}

// The caller holds w.io.sq_mu. A full submission queue is submitted to make room.
io_uring_sqe* get_sqe(worker& w) GORO_REQUIRES(w.io.sq_mu) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&w.io.ring)) return sqe;
    io_uring_submit(&w.io.ring);
  }
  fatal("goro: io_uring: the submission queue stays full");
}

}  // namespace

int io_op::run(std::int64_t deadline) {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (!co) throw std::logic_error("goro: I/O must be called from a coroutine (inside goro::run)");
  co_ = co;
  owner_ = w;
  std::uint32_t s = 0;
  // acq_rel: publishes co_/owner_ to a canceller that reads state 1.
  if (!state_.compare_exchange_strong(s, 1, std::memory_order_acq_rel)) return -ECANCELED;
  GORO_TSAN_RELEASE(this);
  {
    spin_guard g(w->io.sq_mu);
    io_uring_sqe* sqe = get_sqe(*w);
    prep(sqe, args_);
    io_uring_sqe_set_data(sqe, this);
    w->io.queued.store(io_uring_sq_ready(&w->io.ring), std::memory_order_relaxed);
  }
  w->io.inflight.fetch_add(1, std::memory_order_relaxed);
  w->io_submitted.inc();
  {
    spin_guard g(dl_mu_);
    started_ = true;
    if (dl_set_) deadline = dl_;  // a set_deadline() that came before us wins
    if (deadline != INT64_MAX) arm(deadline);
  }
  park(wait_reason(args_.kind));  // until the reaper readies us: res_ is set
  bool firing;
  {
    spin_guard g(dl_mu_);
    finished_ = true;
    firing = armed_ && !cancel_timer(&timer_);
    armed_ = false;
  }
  // A fire() that has begun touches us until it returns.
  if (firing) while (!timer_.done.load(std::memory_order_acquire)) yield();
  // Finished: a later cancel() must find nothing to do. A cancel queued at the owner still holds
  // our address: wait until the owner has submitted it (see "Cancellation" above).
  for (;;) {
    std::uint32_t st = state_.load(std::memory_order_acquire);
    if (st == 1 && !state_.compare_exchange_weak(st, 5, std::memory_order_acq_rel)) continue;
    if (st == 2) {
      yield();
      continue;
    }
    break;  // 1 -> 5 done, or 3 (a cancel was submitted; no other transition can follow)
  }
  return res_;
}

void io_op::arm(std::int64_t when) {
  timer_.op = this;
  timer_.done.store(false, std::memory_order_relaxed);
  add_timer(&timer_, when);
  armed_ = true;
}

void io_op::set_deadline(std::int64_t when) noexcept {
  if (when != INT64_MAX && when <= now_ns()) {
    cancel(io_timeout);
    return;
  }
  spin_guard g(dl_mu_);
  dl_ = when;
  dl_set_ = true;
  if (!started_ || finished_) return;  // run() arms it (or has finished)
  if (armed_) {
    if (!cancel_timer(&timer_)) return;  // already firing: the op times out regardless
    armed_ = false;
  }
  if (when != INT64_MAX) arm(when);
}

void io_op::deadline_timer::fire() noexcept {
  op->cancel(io_timeout);
  done.store(true, std::memory_order_release);
}

void io_op::cancel(int reason) noexcept {
  int none = 0;
  if (reason <= 0 || !reason_.compare_exchange_strong(none, reason, std::memory_order_acq_rel))
    return;
  std::uint32_t s = 0;
  if (state_.compare_exchange_strong(s, 4, std::memory_order_acq_rel)) return;  // before run()
  // 1 -> 2, unless run() got to 5 first (finished: nothing to cancel).
  if (s != 1 || !state_.compare_exchange_strong(s, 2, std::memory_order_acq_rel)) return;
  auto* w = static_cast<worker*>(owner_);
  io_op* head = w->io.cancel_head.load(std::memory_order_relaxed);
  do {
    cancel_next_ = head;
  } while (!w->io.cancel_head.compare_exchange_weak(head, this, std::memory_order_seq_cst,
                                                    std::memory_order_relaxed));
  if (current_worker() != w && w->io.waiting.load(std::memory_order_seq_cst) != 0)
    w->sched.io_kick(*w);
}

}  // namespace goro::sched

namespace goro::sched::detail {

void scheduler::io_init(worker& w) {
  io_ring& r = w.io;
  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int e = io_uring_queue_init_params(ring_entries, &r.ring, &p);
  if (e == -EINVAL) {  // before Linux 5.19
    p = io_uring_params{};
    e = io_uring_queue_init_params(ring_entries, &r.ring, &p);
  }
  if (e < 0)
    throw std::runtime_error(
        std::string("goro: io_uring is unavailable (io_uring_setup: ") + std::strerror(-e) +
        "). goro does its I/O and its idle waiting on io_uring and needs Linux 5.11 or later with "
        "io_uring allowed: check /proc/sys/kernel/io_uring_disabled and the seccomp profile "
        "(container runtimes often refuse io_uring_setup)");
  r.ok = true;
  if ((p.features & (IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG)) !=
      (IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG))
    throw std::runtime_error(
        "goro: this kernel's io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG; goro "
        "needs Linux 5.11 or later");
  // Blocking (no EFD_NONBLOCK): io_uring then waits for it by polling instead of failing the
  // read with EAGAIN. Writers never block (the counter would have to reach 2^64 - 1).
  r.efd = ::eventfd(0, EFD_CLOEXEC);
  if (r.efd < 0)
    throw std::runtime_error(std::string("goro: eventfd: ") + std::strerror(errno));
}

void scheduler::io_exit(worker& w) noexcept {
  io_ring& r = w.io;
  if (r.ok) io_uring_queue_exit(&r.ring);
  r.ok = false;
  if (r.efd >= 0) ::close(r.efd);
  r.efd = -1;
}

void scheduler::io_kick(worker& v) noexcept {
  const std::uint64_t one = 1;
  ssize_t n;
  do {
    n = ::write(v.io.efd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

bool scheduler::io_pending(const worker& v) const noexcept {
  const io_ring& r = v.io;
  return cq_ready(r.ring) != 0 || io_uring_cq_has_overflow(&r.ring) ||
         r.queued.load(std::memory_order_relaxed) != 0 ||
         r.cancel_head.load(std::memory_order_relaxed) != nullptr;
}

namespace {

// Submits what is queued. The caller holds sq_mu.
void submit_locked(worker& w) GORO_REQUIRES(w.io.sq_mu) {
  if (io_uring_sq_ready(&w.io.ring) != 0) io_uring_submit(&w.io.ring);
  // EINTR/EBUSY: what was not taken stays queued for next time.
  w.io.queued.store(io_uring_sq_ready(&w.io.ring), std::memory_order_relaxed);
}

// Owner: submits an ASYNC_CANCEL for every queued cancellation, then marks them submitted.
void drain_cancels(worker& w) {
  io_op* list = w.io.cancel_head.exchange(nullptr, std::memory_order_acq_rel);
  if (!list) return;
  {
    spin_guard g(w.io.sq_mu);
    for (io_op* op = list; op; op = op->cancel_next_) {
      io_uring_sqe* sqe = get_sqe(w);
      io_uring_prep_cancel(sqe, op, 0);
      io_uring_sqe_set_data64(sqe, tag_ignore);
    }
    // Once submit returns, the kernel has looked the requests up: no cancel is still keyed by
    // an address whose coroutine may go on to reuse it.
    int n;
    do {
      n = io_uring_submit(&w.io.ring);
    } while (n == -EINTR || n == -EAGAIN || n == -EBUSY);
    w.io.queued.store(io_uring_sq_ready(&w.io.ring), std::memory_order_relaxed);
  }
  for (io_op* op = list; op;) {
    io_op* next = op->cancel_next_;
    op->state_.store(3, std::memory_order_release);  // last touch
    op = next;
  }
}

// Any worker. The owner waits for the lock; others only try (the owner may be submitting).
void submit_pending(worker& w, bool owner) {
  if (w.io.queued.load(std::memory_order_relaxed) == 0) return;
  if (owner) {
    spin_guard g(w.io.sq_mu);
    submit_locked(w);
  } else if (w.io.sq_mu.try_lock()) {
    submit_locked(w);
    w.io.sq_mu.unlock();
  }
}

}  // namespace

bool scheduler::io_reap(worker& reaper, worker& owner) {
  io_ring& r = owner.io;
  if (cq_ready(r.ring) == 0) return false;
  if (!r.cq_mu.try_lock()) return false;
  if (&reaper != &owner && r.waiting.load(std::memory_order_relaxed) != 0) {
    r.cq_mu.unlock();  // the owner waits in the ring and reaps its own (see io_wait)
    return false;
  }
  unsigned head;
  unsigned seen = 0;
  std::uint64_t done = 0;
  // Coroutines made runnable, in completion order (see "Completions" above for where they go).
  coroutine* batch_head = nullptr;
  coroutine* batch_tail = nullptr;
  std::uint32_t batch_n = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&r.ring, head, cqe) {
    ++seen;
    const std::uint64_t tag = cqe->user_data;
    if (tag == tag_ignore) continue;
    if (tag == tag_efd) {
      r.efd_armed.store(false, std::memory_order_release);
      continue;
    }
    auto* op = reinterpret_cast<io_op*>(tag);
    GORO_TSAN_ACQUIRE(op);
    coroutine* co = op->co_;
    op->res_ = cqe->res;  // published by the wake state's release (claim_ready)
    ++done;
    if (!claim_ready(co)) continue;  // it has not parked yet: it will not (the op may be gone)
    co->link = nullptr;
    if (batch_tail)
      batch_tail->link = co;
    else
      batch_head = co;
    batch_tail = co;
    ++batch_n;
  }
  io_uring_cq_advance(&r.ring, seen);
  if (done) r.inflight.fetch_sub(static_cast<std::int64_t>(done), std::memory_order_relaxed);
  r.cq_mu.unlock();
  reaper.io_completed.inc(done);
  if (!batch_n) return done != 0;
  if (batch_n == 1 || workers() == 1) {
    for (coroutine* co = batch_head; co;) {
      coroutine* next = co->link;
      runq_put(reaper, co);
      co = next;
    }
    wake_one_if_needed();
  } else {
    global_push(batch_head, batch_tail, batch_n);  // and wakes an idle worker
  }
  return true;
}

void scheduler::io_poll(worker& w) {
  io_ring& r = w.io;
  if (r.cancel_head.load(std::memory_order_relaxed)) drain_cancels(w);
  submit_pending(w, true);
  if (io_uring_cq_has_overflow(&r.ring)) io_uring_get_events(&r.ring);
}

bool scheduler::io_reap_all(worker& w) {
  bool any = false;
  for (auto& v : workers_) {
    if (v.get() != &w) submit_pending(*v, false);
    any |= io_reap(w, *v);
  }
  return any;
}

// While the owner waits, nobody else reaps its ring: a foreign reaper could consume the eventfd
// read's completion after the kernel had counted it but before the waiter returned, leaving the
// owner asleep with no read armed (a lost wake-up). `waiting` is set and checked under cq_mu, so
// a reaper either finishes before the owner looks at the ring or sees `waiting` and backs off.
void scheduler::io_wait(worker& w, std::int64_t deadline) {
  io_ring& r = w.io;
  {
    spin_guard lk(r.cq_mu);
    r.waiting.store(1, std::memory_order_seq_cst);
    bool ready_now = r.cancel_head.load(std::memory_order_seq_cst) != nullptr ||
                     cq_ready(r.ring) != 0;
    if (ready_now) {  // something to serve already: do not wait
      r.waiting.store(0, std::memory_order_relaxed);
      return;
    }
    spin_guard sq(w.io.sq_mu);  // (named through w: the analysis matches get_sqe's w.io.sq_mu)
    if (!r.efd_armed.load(std::memory_order_relaxed)) {
      io_uring_sqe* sqe = get_sqe(w);
      io_uring_prep_read(sqe, r.efd, &r.efd_buf, sizeof r.efd_buf, 0);
      io_uring_sqe_set_data64(sqe, tag_efd);
      r.efd_armed.store(true, std::memory_order_relaxed);
    }
    submit_locked(w);
  }
  // Wait for one completion, with the deadline as the timeout (IORING_ENTER_EXT_ARG); submits
  // nothing, so it needs no lock.
  io_uring_getevents_arg arg{};
  __kernel_timespec ts{};
  if (deadline != INT64_MAX) {
    std::int64_t left = deadline - now_ns();
    if (left < 0) left = 0;
    ts.tv_sec = left / 1'000'000'000;
    ts.tv_nsec = left % 1'000'000'000;
    arg.ts = reinterpret_cast<std::uint64_t>(&ts);
  }
  ::syscall(__NR_io_uring_enter, r.ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
            &arg, sizeof arg);
  r.waiting.store(0, std::memory_order_relaxed);
}

}  // namespace goro::sched::detail
