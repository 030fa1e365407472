// io.cpp: one io_uring per worker: requests, completions, cancellation, and the idle wait.
//
// ==== Requests ===================================================================================
// io_op::run() puts the request on the submission queue of the worker the coroutine runs on and
// parks. Nothing is submitted there and then: the worker submits everything queued in one
// io_uring_enter when its loop next comes round (find_runnable -> io_ring::poll), or when it goes
// idle (io_ring::wait). A burst of coroutines each starting a read therefore costs one system call, not one
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
//   - the owner, on every 61st pass of its loop and whenever it finds nothing queued (see "When");
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
// an IORING_OP_ASYNC_CANCEL for each. The op's states (io_op::state, described in io.hpp):
//     idle -> submitted                     run()
//     idle -> cancelled_early               cancel() before run(): run() returns -ECANCELED at once
//     submitted -> cancel_queued            cancel() (the one caller whose reason won)
//     cancel_queued -> cancel_submitted     owner, after io_uring_submit has handed it to the kernel
//     submitted -> finished                 run(), once the completion is in (a cancel() that comes
//                                           later finds it finished and does nothing)
// run() does not return while the state is cancel_queued: the owner still holds the op's address
// and will submit a cancel keyed by it, which must not hit a later request at the same address.
// The kick is Dekker's pattern again: the canceller pushes (seq_cst) then reads io_ring::waiting;
// the owner sets waiting (seq_cst) then reads the cancel stack before it waits.
//
// ==== The idle wait ===============================================================================
// A worker with nothing to run (scheduler::sleep, W5, idle.cpp) waits in io_uring_enter for one completion,
// with the earliest timer deadline as the timeout. Other threads wake it by writing its eventfd,
// which completes the read kept armed on the ring. One wait thus covers I/O, timers, work
// published by other threads (wake_one_if_needed), and cancellations.
#include <goro/sched/io.hpp>

#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core.hpp"
#include "io_ring.hpp"

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

}  // namespace

// ==== the op's lifecycle ==========================================================================

const char* io_op::state_name(state s) noexcept {
  switch (s) {
    case state::idle: return "idle";
    case state::submitted: return "submitted";
    case state::cancel_queued: return "cancel_queued";
    case state::cancel_submitted: return "cancel_submitted";
    case state::cancelled_early: return "cancelled_early";
    case state::finished: return "finished";
  }
  return "?";
}

void io_op::transition(state from, state to) noexcept {
  state s = from;
  // acq_rel: every transition publishes the op's fields to the next party (see try_transition).
  if (state_.compare_exchange_strong(s, to, std::memory_order_acq_rel)) return;
  char msg[160];
  std::snprintf(msg, sizeof msg, "goro: io_op: transition %s -> %s found the op %s", state_name(from),
                state_name(to), state_name(s));
  fatal(msg);
}

bool io_op::try_transition(state& from, state to) noexcept {
  // acq_rel: idle -> submitted publishes co_/owner_ to a canceller that reads `submitted`;
  // submitted -> cancel_queued and -> finished decide the race between cancel() and run().
  return state_.compare_exchange_strong(from, to, std::memory_order_acq_rel);
}

int io_op::run(std::int64_t deadline) {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (!co) throw std::logic_error("goro: I/O must be called from a coroutine (inside goro::run)");
  co_ = co;
  owner_ = &w->io;
  state s = state::idle;
  if (!try_transition(s, state::submitted)) return -ECANCELED;  // cancelled_early
  GORO_TSAN_RELEASE(this);
  w->io.submit(this);
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
    state st = state_.load(std::memory_order_acquire);  // partner: the owner's cancel_submitted
    if (st == state::submitted && !try_transition(st, state::finished)) continue;
    if (st == state::cancel_queued) {
      yield();
      continue;
    }
    break;  // finished now, or cancel_submitted (no other transition can follow)
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
  done.store(true, std::memory_order_release);  // partner: run()'s acquire wait on done
}

void io_op::cancel(int reason) noexcept {
  int none = 0;
  if (reason <= 0 || !reason_.compare_exchange_strong(none, reason, std::memory_order_acq_rel))
    return;
  state s = state::idle;
  if (try_transition(s, state::cancelled_early)) return;  // before run()
  // submitted -> cancel_queued, unless run() got to finished first (nothing to cancel).
  if (s != state::submitted || !try_transition(s, state::cancel_queued)) return;
  worker* here = current_worker();
  owner_->queue_cancel(this, here && &here->io == owner_);
}

}  // namespace goro::sched

namespace goro::sched::detail {

// ==== the ring ====================================================================================

void io_ring::open() {
  io_uring_params p{};
  p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int e = io_uring_queue_init_params(ring_entries, &ring_, &p);
  if (e == -EINVAL) {  // before Linux 5.19
    p = io_uring_params{};
    e = io_uring_queue_init_params(ring_entries, &ring_, &p);
  }
  if (e < 0)
    throw std::runtime_error(
        std::string("goro: io_uring is unavailable (io_uring_setup: ") + std::strerror(-e) +
        "). goro does its I/O and its idle waiting on io_uring and needs Linux 5.11 or later with "
        "io_uring allowed: check /proc/sys/kernel/io_uring_disabled and the seccomp profile "
        "(container runtimes often refuse io_uring_setup)");
  ok_ = true;
  if ((p.features & (IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG)) !=
      (IORING_FEAT_NODROP | IORING_FEAT_EXT_ARG))
    throw std::runtime_error(
        "goro: this kernel's io_uring lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG; goro "
        "needs Linux 5.11 or later");
  // Blocking (no EFD_NONBLOCK): io_uring then waits for it by polling instead of failing the
  // read with EAGAIN. Writers never block (the counter would have to reach 2^64 - 1).
  efd_ = ::eventfd(0, EFD_CLOEXEC);
  if (efd_ < 0)
    throw std::runtime_error(std::string("goro: eventfd: ") + std::strerror(errno));
}

void io_ring::close() noexcept {
  if (ok_) io_uring_queue_exit(&ring_);
  ok_ = false;
  if (efd_ >= 0) ::close(efd_);
  efd_ = -1;
}

void io_ring::kick() noexcept {
  const std::uint64_t one = 1;
  ssize_t n;
  do {
    n = ::write(efd_, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
}

bool io_ring::pending() const noexcept {
  return cq_ready(ring_) != 0 || io_uring_cq_has_overflow(&ring_) ||
         queued_.load(std::memory_order_relaxed) != 0 ||
         cancel_head_.load(std::memory_order_relaxed) != nullptr;
}

// A full submission queue is submitted to make room.
io_uring_sqe* io_ring::get_sqe() {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) return sqe;
    io_uring_submit(&ring_);
  }
  fatal("goro: io_uring: the submission queue stays full");
}

void io_ring::submit(io_op* op) {
  {
    spin_guard g(sq_mu_);
    io_uring_sqe* sqe = get_sqe();
    prep(sqe, op->args_);
    io_uring_sqe_set_data(sqe, op);
    queued_.store(io_uring_sq_ready(&ring_), std::memory_order_relaxed);
  }
  inflight_.fetch_add(1, std::memory_order_relaxed);
}

// Submits what is queued.
void io_ring::submit_locked() {
  if (io_uring_sq_ready(&ring_) != 0) io_uring_submit(&ring_);
  // EINTR/EBUSY: what was not taken stays queued for next time.
  queued_.store(io_uring_sq_ready(&ring_), std::memory_order_relaxed);
}

void io_ring::queue_cancel(io_op* op, bool caller_is_owner) noexcept {
  io_op* head = cancel_head_.load(std::memory_order_relaxed);
  do {
    op->cancel_next_ = head;
    // seq_cst: Dekker's pattern with wait() (push, then read waiting_; partner: waiting_ store,
    // then cancel_head_ load); also publishes cancel_next_ to the owner's exchange.
  } while (!cancel_head_.compare_exchange_weak(head, op, std::memory_order_seq_cst,
                                               std::memory_order_relaxed));
  if (!caller_is_owner && waiting_.load(std::memory_order_seq_cst) != 0) kick();
}

// Owner: submits an ASYNC_CANCEL for every queued cancellation, then marks them submitted.
void io_ring::drain_cancels() {
  io_op* list = cancel_head_.exchange(nullptr, std::memory_order_acq_rel);  // partner: the pushes
  if (!list) return;
  {
    spin_guard g(sq_mu_);
    for (io_op* op = list; op; op = op->cancel_next_) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_cancel(sqe, op, 0);
      io_uring_sqe_set_data64(sqe, tag_ignore);
    }
    // Once submit returns, the kernel has looked the requests up: no cancel is still keyed by
    // an address whose coroutine may go on to reuse it.
    int n;
    do {
      n = io_uring_submit(&ring_);
    } while (n == -EINTR || n == -EAGAIN || n == -EBUSY);
    queued_.store(io_uring_sq_ready(&ring_), std::memory_order_relaxed);
  }
  for (io_op* op = list; op;) {
    io_op* next = op->cancel_next_;
    op->transition(io_op::state::cancel_queued, io_op::state::cancel_submitted);  // last touch
    op = next;
  }
}

void io_ring::poll() {
  if (cancel_head_.load(std::memory_order_relaxed)) drain_cancels();
  if (queued_.load(std::memory_order_relaxed) != 0) {
    spin_guard g(sq_mu_);
    submit_locked();
  }
  if (io_uring_cq_has_overflow(&ring_)) io_uring_get_events(&ring_);
}

// The owner may be submitting: only try.
void io_ring::submit_if_free() {
  if (queued_.load(std::memory_order_relaxed) == 0) return;
  if (sq_mu_.try_lock()) {
    submit_locked();
    sq_mu_.unlock();
  }
}

std::int64_t io_ring::reap(bool as_owner, ready_list& out) {
  if (cq_ready(ring_) == 0) return -1;
  if (!cq_mu_.try_lock()) return -1;
  if (!as_owner && waiting_.load(std::memory_order_relaxed) != 0) {
    cq_mu_.unlock();  // the owner waits in the ring and reaps its own (see wait)
    return -1;
  }
  unsigned head;
  unsigned seen = 0;
  std::int64_t done = 0;
  io_uring_cqe* cqe;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    const std::uint64_t tag = cqe->user_data;
    if (tag == tag_ignore) continue;
    if (tag == tag_efd) {
      efd_armed_.store(false, std::memory_order_release);
      continue;
    }
    auto* op = reinterpret_cast<io_op*>(tag);
    GORO_TSAN_ACQUIRE(op);
    coroutine* co = op->co_;
    op->res_ = cqe->res;  // published by the wake state's release (claim_ready)
    ++done;
    if (!claim_ready(co)) continue;  // it has not parked yet: it will not (the op may be gone)
    out.push(co);
  }
  io_uring_cq_advance(&ring_, seen);
  if (done) inflight_.fetch_sub(done, std::memory_order_relaxed);
  cq_mu_.unlock();
  return done;
}

// While the owner waits, nobody else reaps its ring: a foreign reaper could consume the eventfd
// read's completion after the kernel had counted it but before the waiter returned, leaving the
// owner asleep with no read armed (a lost wake-up). `waiting_` is set and checked under cq_mu_, so
// a reaper either finishes before the owner looks at the ring or sees `waiting_` and backs off.
void io_ring::wait(std::int64_t deadline) {
  {
    spin_guard lk(cq_mu_);
    waiting_.store(1, std::memory_order_seq_cst);  // partner: queue_cancel's waiting_ load
    bool ready_now = cancel_head_.load(std::memory_order_seq_cst) != nullptr ||
                     cq_ready(ring_) != 0;
    if (ready_now) {  // something to serve already: do not wait
      waiting_.store(0, std::memory_order_relaxed);
      return;
    }
    spin_guard sq(sq_mu_);
    if (!efd_armed_.load(std::memory_order_relaxed)) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_read(sqe, efd_, &efd_buf_, sizeof efd_buf_, 0);
      io_uring_sqe_set_data64(sqe, tag_efd);
      efd_armed_.store(true, std::memory_order_relaxed);
    }
    submit_locked();
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
  ::syscall(__NR_io_uring_enter, ring_.ring_fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG,
            &arg, sizeof arg);
  waiting_.store(0, std::memory_order_relaxed);
}

// ==== the scheduler's side: who reaps, where the woken go ========================================

bool scheduler::io_reap(worker& reaper, worker& owner) {
  ready_list batch;
  const std::int64_t done = owner.io.reap(&reaper == &owner, batch);
  if (done < 0) return false;
  reaper.io_completed.inc(static_cast<std::uint64_t>(done));
  if (!batch.n) return done != 0;
  if (batch.n == 1 || workers() == 1) {
    for (coroutine* co = batch.head; co;) {
      coroutine* next = co->link;
      runq_put(reaper, co);
      co = next;
    }
    wake_one_if_needed();
  } else {
    global_push(batch.head, batch.tail, batch.n);  // and wakes an idle worker
  }
  return true;
}

bool scheduler::io_reap_all(worker& w) {
  bool any = false;
  for (auto& v : workers_) {
    if (v.get() != &w) v->io.submit_if_free();
    any |= io_reap(w, *v);
  }
  return any;
}

}  // namespace goro::sched::detail
