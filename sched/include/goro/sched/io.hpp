// goro/sched/io.hpp: asynchronous system calls on the workers' io_uring rings.
//
// Each worker owns one ring (sched/src/io.cpp). A coroutine that needs the kernel to wait (a socket
// read with no data yet, an accept, a file read) describes the call in an io_op and calls run():
// the request goes on its current worker's submission queue and the coroutine parks. The worker
// submits its queued requests in one io_uring_enter each time its loop comes round, reaps
// completions when it runs out of queued work (and on every 61st pass), and when it has nothing
// to run it waits *in the ring*, so that a
// completion, a timer deadline (the wait's timeout) and a wake-up from another thread (an eventfd
// read kept armed on the ring) all end the same wait.
//
// Cancellation: cancel(reason) from any thread, at any time while run() is in progress, asks the
// kernel to stop the request (IORING_OP_ASYNC_CANCEL, submitted by the owning worker); run() then
// returns -ECANCELED, or the real result if the kernel finished first. A deadline is the same
// thing driven by a scheduler timer (reason io_timeout). The layers above map reasons to errors
// (a context's cancellation, a closed connection, an expired deadline).
//
// liburing stays private to sched/: callers describe requests with io_args.
#pragma once

#include <goro/sched/sched.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <cstdint>

struct sockaddr;

namespace goro::sched {

namespace detail {
class io_ring;
}

enum class io_kind : std::uint8_t {
  accept,   // fd: listening socket; addr/addrlen: peer address out (may be null); flags: accept4 flags
  connect,  // fd: socket; addr/len: peer address
  recv,     // fd, buf, len, flags (MSG_*)
  send,     // fd, buf, len, flags (MSG_*)
  read,     // fd, buf, len, offset (-1: the file position)
  write,    // fd, buf, len, offset (-1: the file position)
  fsync,    // fd; flags: 0 or IORING_FSYNC_DATASYNC (1)
  openat,   // dirfd in fd, path in path, flags: open flags, mode
  close,    // fd
};

struct io_args {
  io_kind kind;
  int fd = -1;
  void* buf = nullptr;
  std::uint32_t len = 0;
  std::uint64_t offset = static_cast<std::uint64_t>(-1);
  int flags = 0;
  std::uint32_t mode = 0;
  const char* path = nullptr;
  sockaddr* addr = nullptr;
  std::uint32_t* addrlen = nullptr;  // accept: in/out (a socklen_t)
};

// Reasons for cancel(): io_timeout is the deadline's; the layers above use their own (>= 16).
inline constexpr int io_timeout = 1;

// One request. Lives on the caller's stack for the duration of run(); not reusable.
class io_op {
 public:
  explicit io_op(const io_args& a) noexcept : args_(a) {}
  io_op(const io_op&) = delete;
  io_op& operator=(const io_op&) = delete;
  ~io_op() = default;

  // Submits on the calling coroutine's worker ring and parks until the kernel completes it.
  // Returns the result: >= 0, or -errno. With a deadline (now_ns() scale; INT64_MAX: none) the
  // request is cancelled when it passes (-ECANCELED, reason() == io_timeout). If cancel() came
  // before run(), returns -ECANCELED without submitting. Throws std::logic_error outside a
  // coroutine.
  int run(std::int64_t deadline = INT64_MAX);

  // Any thread, while the op object exists (before, during or after run()): the first reason
  // (> 0) sticks; later calls, and calls once run() has finished, do nothing. Never blocks.
  void cancel(int reason) noexcept;
  int reason() const noexcept { return reason_.load(std::memory_order_acquire); }

  // Any thread, while the op object exists: replaces the deadline (INT64_MAX: none), also while
  // run() waits (Go's SetReadDeadline on a pending read). A deadline already past cancels now.
  // Takes a spin lock; never parks.
  void set_deadline(std::int64_t when) noexcept;

  // The op's lifecycle (sched/src/io.cpp, "Cancellation", says who moves it where):
  //   idle             constructed; run() not called. cancel() may move it to cancelled_early.
  //   submitted        run() queued the request on its worker's ring; the kernel or the queue
  //                    holds the op's address until its completion is reaped.
  //   cancel_queued    one cancel() won and pushed the op on the owner's cancel stack; the owner
  //                    still holds the address and will submit a cancel keyed by it, so run()
  //                    must not return yet.
  //   cancel_submitted the owner has submitted that cancel; nothing holds the address any more.
  //   cancelled_early  cancel() came before run(): run() returns -ECANCELED without submitting.
  //   finished         run() is returning; a cancel() from now on does nothing.
  enum class state : std::uint32_t {
    idle, submitted, cancel_queued, cancel_submitted, cancelled_early, finished
  };
  static const char* state_name(state s) noexcept;

 private:
  friend class detail::io_ring;
  struct deadline_timer final : timer {
    io_op* op = nullptr;
    std::atomic<bool> done{false};  // fire() has returned
    void fire() noexcept override;
  };
  // The one checked transition (from -> to, or fatal naming both and the state found) for the
  // steps that cannot race; try_transition for those that may lose a race (false: it lost).
  void transition(state from, state to) noexcept;
  bool try_transition(state& from, state to) noexcept;

  io_args args_;
  coroutine* co_ = nullptr;
  detail::io_ring* owner_ = nullptr;  // the ring that holds the request
  io_op* cancel_next_ = nullptr;      // link in the owner's cancel stack
  int res_ = 0;
  std::atomic<state> state_{state::idle};
  std::atomic<int> reason_{0};
  // The deadline: timer_ is armed and disarmed only under dl_mu_ (run() and set_deadline()).
  // Lock order: dl_mu_, then the timer heap's lock.
  spin_lock dl_mu_{lock_rank::io_deadline};
  deadline_timer timer_;
  std::int64_t dl_ GORO_GUARDED_BY(dl_mu_) = INT64_MAX;  // set_deadline's value, if dl_set_
  bool dl_set_ GORO_GUARDED_BY(dl_mu_) = false;
  bool started_ GORO_GUARDED_BY(dl_mu_) = false;   // run() has armed (or decided not to)
  bool finished_ GORO_GUARDED_BY(dl_mu_) = false;  // run() has disarmed for good
  bool armed_ GORO_GUARDED_BY(dl_mu_) = false;     // timer_ was armed and not cancelled since
  void arm(std::int64_t when) GORO_REQUIRES(dl_mu_);
};

}  // namespace goro::sched
