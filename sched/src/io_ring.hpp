// io_ring.hpp: one worker's io_uring (the protocol is in io.cpp: requests, completions,
// cancellation, the idle wait).
//
// Who may call what:
//   - the owner worker: submit(), poll(), wait(), and reap() as the owner;
//   - any worker: submit_if_free() and reap() as a helper (both only try the locks), pending();
//   - any thread: queue_cancel(), kick(), pending(), inflight().
// Locks: sq_mu_ guards the submission queue; cq_mu_ guards reaping the completion queue. Lock
// order: cq_mu_, then sq_mu_ (wait() takes both). Neither is held across a context switch, a
// ready() or a call into user code.
#pragma once

#include <goro/sched/io.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <cstdint>

#include <liburing.h>

namespace goro::sched::detail {

struct ready_list;  // core.hpp: coroutines made runnable, in order

class io_ring {
 public:
  io_ring() = default;
  io_ring(const io_ring&) = delete;
  io_ring& operator=(const io_ring&) = delete;
  ~io_ring() { close(); }

  // Sets the ring and its eventfd up; throws std::runtime_error (naming the cause and the fix)
  // when the kernel refuses io_uring or lacks a feature goro needs.
  void open();
  void close() noexcept;

  // Owner: queues op's request (op->args_) for the next batch submission. Lock-free for the
  // caller but for sq_mu_, which only a rescuing worker ever contends.
  void submit(io_op* op);
  // Owner, every pass of its loop: submits queued cancellations, then queued requests.
  void poll();
  // Another worker: submits a stalled owner's queued requests, if sq_mu_ is free.
  void submit_if_free();
  // Reaps the completions there are into `out` (their coroutines claimed, see claim_ready);
  // returns how many requests completed. Not as the owner: backs off while the owner waits in
  // the ring (see wait()), and when cq_mu_ is held. Returns -1 when it did not look.
  std::int64_t reap(bool as_owner, ready_list& out);
  // Owner, idle: waits in the ring until a completion, a kick or the deadline (INT64_MAX: none).
  void wait(std::int64_t deadline);
  // Any thread: pushes op on the cancel stack; kicks the owner if it waits in the ring and the
  // caller is not the owner. Precondition: op was submitted to this ring.
  void queue_cancel(io_op* op, bool caller_is_owner) noexcept;
  // Any thread: ends the owner's wait in the ring (an eventfd write).
  void kick() noexcept;

  // Any thread: completions, queued requests or cancellations wait for the owner.
  bool pending() const noexcept;
  // Any thread: requests queued or submitted and not yet reaped (for deadlock detection).
  std::int64_t inflight() const noexcept { return inflight_.load(std::memory_order_acquire); }

 private:
  void submit_locked() GORO_REQUIRES(sq_mu_);
  io_uring_sqe* get_sqe() GORO_REQUIRES(sq_mu_);
  void drain_cancels();

  ::io_uring ring_{};
  bool ok_ = false;
  int efd_ = -1;
  std::uint64_t efd_buf_ = 0;              // the armed eventfd read's buffer
  std::atomic<bool> efd_armed_{false};     // a read of efd_ is in the ring
  sched::spin_lock sq_mu_{lock_rank::io_sq};                 // guards the submission queue
  sched::spin_lock cq_mu_{lock_rank::io_cq};                 // guards reaping the completion queue
  // Requests queued and not yet submitted: a mirror of the SQ's fill, written under sq_mu_ and
  // read relaxed by peekers (a stale read only delays a rescue to the next pass).
  std::atomic<std::uint32_t> queued_{0};
  // Cancellations from any thread: a lock-free stack (push seq_cst, see io.cpp "Cancellation").
  std::atomic<io_op*> cancel_head_{nullptr};
  // 1 while the owner waits in the ring (or is about to): seq_cst, Dekker's pattern with the
  // canceller's push; set and cleared under cq_mu_ for the reapers.
  std::atomic<std::uint32_t> waiting_{0};
  // Requests queued or submitted and not yet reaped. Relaxed read-modify-writes (a counter);
  // deadlock detection reads it with acquire after seeing every worker idle.
  std::atomic<std::int64_t> inflight_{0};
};

}  // namespace goro::sched::detail
