// goro/channels/detail/chan_state.hpp: what a channel is inside. Users include <goro/goro.hpp>
// (or <goro/channels/chan.hpp>) and never name anything in here.
//
// ==== Invariants (whenever `mu` is free) =========================================================
//   I1. 0 <= count <= cap; the buffer slots [head, head + count) (mod cap) hold constructed values,
//       the others are raw storage.
//   I2. count > 0  implies  recvq holds no live receiver (a receiver only queues on an empty
//       buffer, and a sender serves queued receivers before it fills the buffer).
//   I3. count < cap  implies  sendq holds no live sender (symmetrically). For an unbuffered
//       channel (cap == 0) this says nothing, and the queues carry the rendezvous.
//   I4. closed implies both queues are empty of live waiters (close() wakes them all), and it
//       never goes back to false.
//   "Live": a select's node whose select another case has already won stays queued until that
//   select unlinks it (or a waker drops it on the way); such stale nodes are the one exception,
//   and every operation skips them (wait_queue::pop_claimed). One more exception, as in Go: one
//   select with both a send and a receive case on the same unbuffered channel leaves a node in
//   each queue, which cannot match each other (the select cannot rendezvous with itself).
// check_invariants() asserts I1-I4 for live nodes in debug builds (GORO_CHAN_CHECKS, on when
// NDEBUG is not defined).
//
// ==== The lock ==================================================================================
// `mu` (a sched::spin_lock) guards the queues, the buffer, count, head and closed. While holding
// it: no parking, no user code (T's move constructor is required to be noexcept, and copies are
// made before locking), no wake(): wakers collect the nodes they claimed, unlock, then wake.
// Lock order between channels (select): by address, ascending; each channel locked once.
//
// ==== Polling before parking ====================================================================
// A receiver that finds a buffered channel empty, on a worker with nothing else to run
// (sched::worker_would_idle), unlocks and polls recv_hint for recv_spin_polls pauses before it
// queues itself and parks. Its worker would otherwise only spin looking for work; when a
// producer on another worker sends every microsecond or so, the value then arrives through the
// buffer with no park, no ready and no steal. Unbuffered channels and select do not poll.
//
// ==== Hand-over =================================================================================
// A queued sender's node points at the value to move from (a T on its stack); a queued
// receiver's node points at an empty std::optional<T> on its stack. The party that pops a node
// (and wins its select, if any) moves the value across under the lock, sets node.ok, unlocks
// and wakes. ok == false after a wake means the channel was closed: a receiver's optional stays
// empty, a sender throws. The wake (sched park/ready contract) publishes the hand-over.
#pragma once

#include <goro/channels/detail/wait_queue.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#if !defined(GORO_CHAN_CHECKS) && !defined(NDEBUG)
#define GORO_CHAN_CHECKS 1
#endif

namespace goro::detail {

[[noreturn]] void throw_send_on_closed();
[[noreturn]] void throw_close_of_closed();
[[noreturn]] void throw_close_of_nil();
// A nil channel's operation: the caller waits for a wake that never comes (Go blocks forever).
[[noreturn]] void block_forever();

enum class op_status { done, would_block, closed };

// The part of a channel that does not depend on T: refcount, lock, queues, close.
class chan_core : public sched::pooled {
 public:
  explicit chan_core(std::size_t capacity) noexcept : cap(capacity) {}
  virtual ~chan_core() = default;
  chan_core(const chan_core&) = delete;
  chan_core& operator=(const chan_core&) = delete;

  // Handles share ownership. relaxed increment (a handle is copied from one that is alive);
  // acq_rel decrement, so the last owner sees every other owner's writes before deleting.
  void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  // Sets closed; every waiting receiver gets empty, every waiting sender is woken to throw.
  // Throws closed_channel_error if already closed. Defined in channels/src/chan.cpp.
  void close();

  std::size_t size() {
    sched::spin_guard g(mu);
    return count;
  }
  bool is_closed() {
    sched::spin_guard g(mu);
    return closed;
  }
  std::size_t waiting_senders() {
    sched::spin_guard g(mu);
    return sendq.size();
  }
  std::size_t waiting_receivers() {
    sched::spin_guard g(mu);
    return recvq.size();
  }

  sched::spin_lock mu{sched::lock_rank::chan};
  wait_queue recvq GORO_GUARDED_BY(mu);
  wait_queue sendq GORO_GUARDED_BY(mu);
  std::size_t count GORO_GUARDED_BY(mu) = 0;
  bool closed GORO_GUARDED_BY(mu) = false;
  const std::size_t cap;
  // Written under mu wherever count or closed change (relaxed): "a receive might succeed now".
  // Read without the lock by a receiver polling before it parks (recv); only a hint: the
  // receive itself is always decided under mu.
  std::atomic<std::uint32_t> recv_hint{0};

 protected:
  void check_invariants() GORO_REQUIRES(mu);

 private:
  std::atomic<std::size_t> refs_{1};
};

// How long a receiver polls an empty buffered channel before parking, when its worker has
// nothing else to run: this many pause instructions (about 2-8 us, by CPU). Measured on the
// fanout comparison (one producer, 16 consumers, 2 workers: bench/RESULTS.md): without it the
// consumers catch up, park on every other value and are stolen back one by one (5 M parks for
// 16 M values, 230k quotes/s); polling 100 pauses gave 520-560k, 400 gave 580k, 1,500 no more.
inline constexpr int recv_spin_polls = 128;

template <class T>
class chan_state final : public chan_core {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "goro::chan<T>: T must be nothrow move constructible (a value moved across a "
                "channel must never be lost half-way; copies are made before the lock is taken)");
  static_assert(std::is_nothrow_destructible_v<T>, "goro::chan<T>: T must be nothrow destructible");

 public:
  explicit chan_state(std::size_t capacity)
      : chan_core(capacity),
        buf_(capacity ? static_cast<T*>(::operator new(capacity * sizeof(T),
                                                       std::align_val_t(alignof(T))))
                      : nullptr) {}

  ~chan_state() override {
    // Only the last handle's owner runs this: nobody else can hold the lock.
    for (std::size_t i = 0; i < count_unlocked(); ++i) slot(i)->~T();
    if (buf_) ::operator delete(buf_, std::align_val_t(alignof(T)));
  }

  // ---- the operations, under mu (select and the blocking/try operations share them) ----------

  // Sends v if it can now. Moves from v only when it returns done. *wake: a claimed receiver to
  // wake after unlocking (or unchanged).
  op_status send_locked(T& v, wait_node*& wake) GORO_REQUIRES(mu) {
    if (closed) return op_status::closed;
    if (wait_node* r = recvq.pop_claimed()) {
      static_cast<std::optional<T>*>(r->elem)->emplace(std::move(v));
      r->ok = true;
      wake = r;
      return op_status::done;
    }
    if (count < cap) {
      ::new (static_cast<void*>(slot(count))) T(std::move(v));
      ++count;
      recv_hint.store(1, std::memory_order_relaxed);
      return op_status::done;
    }
    return op_status::would_block;
  }

  // Receives into out (empty on entry) if it can now: done (a value), closed (drained and
  // closed; out stays empty) or would_block.
  op_status recv_locked(std::optional<T>& out, wait_node*& wake) GORO_REQUIRES(mu) {
    if (wait_node* s = sendq.pop_claimed()) {
      T* src = static_cast<T*>(s->elem);
      if (cap == 0) {
        out.emplace(std::move(*src));  // rendezvous: straight from the sender
      } else {
        // A sender waits only on a full buffer (I3): take the oldest value, and the sender's
        // goes in at the back, so FIFO order holds across the buffer and the queue.
        T* h = slot(0);
        out.emplace(std::move(*h));
        h->~T();
        ::new (static_cast<void*>(h)) T(std::move(*src));
        head_ = head_ + 1 == cap ? 0 : head_ + 1;
      }
      s->ok = true;
      wake = s;
      return op_status::done;
    }
    if (count > 0) {
      T* h = slot(0);
      out.emplace(std::move(*h));
      h->~T();
      head_ = head_ + 1 == cap ? 0 : head_ + 1;
      if (--count == 0 && !closed) recv_hint.store(0, std::memory_order_relaxed);
      return op_status::done;
    }
    return closed ? op_status::closed : op_status::would_block;
  }

  // ---- the user-facing operations ---------------------------------------------------------------

  void send(T& v) {
    wait_node* wake = nullptr;
    mu.lock();
    op_status st = send_locked(v, wake);
    if (st == op_status::done) {
      check_invariants();
      mu.unlock();
      if (wake) wake->w->wake();
      return;
    }
    if (st == op_status::closed) {
      mu.unlock();
      throw_send_on_closed();
    }
    sched::waiter w;
    wait_node n;
    n.w = &w;
    n.elem = &v;
    sendq.push_back(&n);
    mu.unlock();
    w.wait("chan send");
    if (!n.ok) throw_send_on_closed();  // closed while we waited
  }

  bool try_send(T& v) {
    wait_node* wake = nullptr;
    mu.lock();
    op_status st = send_locked(v, wake);
    mu.unlock();
    if (st == op_status::closed) throw_send_on_closed();
    if (wake) wake->w->wake();
    return st == op_status::done;
  }

  std::optional<T> recv() {
    std::optional<T> out;
    wait_node* wake = nullptr;
    mu.lock();
    for (bool polled = false;; polled = true) {
      if (recv_locked(out, wake) != op_status::would_block) {
        check_invariants();
        mu.unlock();
        if (wake) wake->w->wake();
        return out;
      }
      if (polled || cap == 0 || !sched::worker_would_idle()) break;
      // Nothing else to run here: poll briefly for a value before parking (see "Polling before
      // parking" above). A producer on another worker sending every microsecond or so then
      // hands over through the buffer, with no park, ready or steal.
      mu.unlock();
      for (int i = 0; i < recv_spin_polls; ++i) {
        GORO_CPU_RELAX();
        if (recv_hint.load(std::memory_order_relaxed) != 0) break;
      }
      mu.lock();
    }
    sched::waiter w;
    wait_node n;
    n.w = &w;
    n.elem = &out;
    recvq.push_back(&n);
    mu.unlock();
    w.wait("chan receive");  // out was filled by a sender, or left empty by close()
    return out;
  }

  std::optional<T> try_recv() {
    std::optional<T> out;
    wait_node* wake = nullptr;
    mu.lock();
    recv_locked(out, wake);
    mu.unlock();
    if (wake) wake->w->wake();
    return out;
  }

 private:
  // The i-th buffered value from the head (i may be == count for the next free slot).
  T* slot(std::size_t i) GORO_NO_THREAD_SAFETY_ANALYSIS {
    std::size_t k = head_ + i;
    if (k >= cap) k -= cap;
    return buf_ + k;
  }
  std::size_t count_unlocked() GORO_NO_THREAD_SAFETY_ANALYSIS { return count; }

  T* const buf_;
  std::size_t head_ GORO_GUARDED_BY(mu) = 0;
};

// How chan, send_chan and recv_chan hand their state to select (and to each other).
struct chan_access {
  template <class Handle>
  static auto* state(const Handle& h) noexcept {
    return h.st_;
  }
};

}  // namespace goro::detail
