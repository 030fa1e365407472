// runq.hpp: a worker's local run queue and its run-next slot (Go's p.runq and p.runnext).
//
// A bounded ring, FIFO, of coroutine pointers, plus one run-next slot. Who touches what:
//   - the owner (the worker's own thread) pushes at tail and pops at head, and fills run-next;
//   - thieves (other workers) take half from head, and, on their last round, run-next;
//   - observers (the monitor, wakers, sleepers) read head, tail and run-next to see whether work
//     is visible.
// Invariants:
//   R1. tail is stored only by the owner; head only advances, and only by CAS (owner pops and
//       thieves race on it), so a slot in [head, tail) is never handed out twice.
//   R2. tail - head <= Cap at every instant the owner can observe.
//   R3. run-next is changed only by CAS or exchange (owner and thieves race on it).
// Memory ordering, each with its partner:
//   - the owner's tail store (release) publishes the slots it wrote; it pairs with the consumers'
//     tail load (acquire) in steal_into/observers; the owner itself reads tail relaxed (R1);
//   - a successful head CAS (release for the owner's pop, acq_rel for a thief) pairs with the
//     owner's head load (acquire) in push: a slot is overwritten only after whoever took it has
//     finished reading it;
//   - slots are atomics accessed relaxed: a thief may read a slot the owner is overwriting; its
//     head CAS then fails (the owner could only overwrite it after head moved past it) and it
//     discards what it read;
//   - run-next CASes are acq_rel: the coroutine's state written by whoever filled the slot is
//     visible to whoever empties it.
// Templated on the capacity so that tests/internal can exercise a full ring with 4 slots; the
// scheduler uses runq (256, Go's size).
#pragma once

#include <goro/sched/config.hpp>

#include <array>
#include <atomic>
#include <cstdint>

namespace goro::sched {
struct coroutine;
}

namespace goro::sched::detail {

inline void cpu_relax(int n) noexcept {
  for (int i = 0; i < n; ++i) GORO_CPU_RELAX();
}

template <std::uint32_t Cap>
class basic_runq {
  static_assert(Cap >= 2 && (Cap & (Cap - 1)) == 0, "a power of two, so indices wrap cleanly");

 public:
  static constexpr std::uint32_t capacity = Cap;

  // Observers, any thread: a snapshot (may be stale by the time it returns).
  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }
  bool has_work() const noexcept {
    return !empty() || next_.load(std::memory_order_acquire) != nullptr;
  }
  std::uint32_t size() const noexcept {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }

  // Owner (or a heuristic that tolerates a stale count): relaxed loads, no ordering.
  std::uint32_t size_relaxed() const noexcept {
    return tail_.load(std::memory_order_relaxed) - head_.load(std::memory_order_relaxed);
  }

  // Owner: appends co at tail; false (nothing changed) when the ring is full.
  bool push(coroutine* co) noexcept {
    const std::uint32_t h = head_.load(std::memory_order_acquire);  // partner: consumers' head CAS
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);  // R1: only we store it
    if (t - h >= Cap) return false;
    slots_[t % Cap].store(co, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);  // partner: consumers' tail load
    return true;
  }

  // Owner, when push() failed: takes the older half of a full ring out into `out` (Cap / 2
  // entries) and returns how many it took: Cap / 2, or 0 when a consumer made room meanwhile (the
  // caller then simply pushes again).
  std::uint32_t take_older_half(std::array<coroutine*, Cap / 2>& out) noexcept {
    std::uint32_t h = head_.load(std::memory_order_acquire);
    const std::uint32_t t = tail_.load(std::memory_order_relaxed);
    constexpr std::uint32_t n = Cap / 2;
    if (t - h != Cap) return 0;
    for (std::uint32_t i = 0; i < n; ++i) out[i] = slots_[(h + i) % Cap].load(std::memory_order_relaxed);
    // Release: partner of the next push's head acquire (the slots read above are ours now).
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_release, std::memory_order_relaxed))
      return 0;
    return n;
  }

  // Owner: takes the coroutine at head, or nullptr when the ring is empty.
  coroutine* pop() noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);  // partner: thieves' head CAS
      const std::uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      coroutine* co = slots_[h % Cap].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release, std::memory_order_relaxed))
        return co;
    }
  }

  // Owner: puts co in the run-next slot and returns its previous occupant (nullptr if none).
  coroutine* exchange_next(coroutine* co) noexcept {
    // Exchange, not store: a thief may take the occupant concurrently (R3).
    return next_.exchange(co, std::memory_order_acq_rel);
  }

  // Owner or thief: empties the run-next slot and returns what was there.
  coroutine* take_next() noexcept {
    coroutine* n = next_.load(std::memory_order_relaxed);
    if (n && next_.compare_exchange_strong(n, nullptr, std::memory_order_acq_rel, std::memory_order_relaxed))
      return n;
    return nullptr;
  }

  // Thief (the owner of `thief`, whose ring is empty): moves half of this ring (rounded up) into
  // thief's and returns one of them to run; the rest are published in thief's ring. With
  // take_next and an empty ring, takes this ring's run-next instead. Returns nullptr when there
  // was nothing to take; `n_out` says how many were taken.
  coroutine* steal_into(basic_runq& thief, bool take_next_too, std::uint32_t& n_out) noexcept {
    const std::uint32_t t = thief.tail_.load(std::memory_order_relaxed);  // thief's R1
    std::uint32_t n = grab(thief, t, take_next_too);
    n_out = n;
    if (n == 0) return nullptr;
    --n;
    coroutine* co = thief.slots_[(t + n) % Cap].load(std::memory_order_relaxed);
    if (n != 0) thief.tail_.store(t + n, std::memory_order_release);  // publishes the batch
    return co;
  }

 private:
  // Copies half of this ring into thief's slots from batch_head; returns how many (see steal_into).
  std::uint32_t grab(basic_runq& thief, std::uint32_t batch_head, bool take_next_too) noexcept {
    for (;;) {
      std::uint32_t h = head_.load(std::memory_order_acquire);  // partner: other consumers' CAS
      const std::uint32_t t = tail_.load(std::memory_order_acquire);  // partner: owner's tail store
      std::uint32_t n = t - h;
      n -= n / 2;
      if (n == 0) {
        if (!take_next_too) return 0;
        coroutine* nx = next_.load(std::memory_order_acquire);
        if (!nx) return 0;
        // The owner most likely filled run-next just before parking the coroutine that readied
        // it, and will run it within a switch: give it that chance before taking it.
        cpu_relax(64);
        if (!next_.compare_exchange_strong(nx, nullptr, std::memory_order_acq_rel, std::memory_order_relaxed))
          continue;
        thief.slots_[batch_head % Cap].store(nx, std::memory_order_relaxed);
        return 1;
      }
      if (n > Cap / 2) continue;  // h and t read at different times: inconsistent, look again
      for (std::uint32_t i = 0; i < n; ++i) {
        coroutine* co = slots_[(h + i) % Cap].load(std::memory_order_relaxed);
        thief.slots_[(batch_head + i) % Cap].store(co, std::memory_order_relaxed);
      }
      // acq_rel: acquire pairs with other consumers' CAS, release with the owner's head acquire.
      if (head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel, std::memory_order_relaxed))
        return n;
    }
  }

  std::atomic<std::uint32_t> head_{0};
  std::atomic<std::uint32_t> tail_{0};
  std::array<std::atomic<coroutine*>, Cap> slots_{};
  alignas(64) std::atomic<coroutine*> next_{nullptr};
};

using runq = basic_runq<256>;

}  // namespace goro::sched::detail
