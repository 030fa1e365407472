// goro/channels/detail/wait_queue.hpp: the queue of parked parties that every blocking object
// above the scheduler uses (channels, select, and the sync primitives in runtime/).
//
// A wait_node lives on the waiting party's stack. It is linked into a wait_queue under the lock
// of the object that owns the queue, and is unlinked under that same lock, either by a waker
// (who then hands the party its result and wakes it) or by the party itself (a select removing
// its registrations on the channels that did not fire).
//
// Invariant that makes the stack storage safe: while a node is in a queue, its owner is parked
// and cannot return, because it only returns after (a) a waker has unlinked the node and woken
// it, or (b) it has unlinked every one of its nodes itself under the owning locks. So anyone
// holding the queue's lock may read and write a node it finds in the queue.
//
// A select parks once and registers one node per case, all sharing one `select_sync`. A waker
// that pops a select's node must first win the select (`claim()`, a CAS on select_sync::winner);
// if another case already won, the node is stale: it is dropped (unlinked, not woken) and the
// waker moves on to the next node. This is how exactly one case fires and exactly one wake()
// reaches the select's waiter (the scheduler treats a second wake as fatal).
#pragma once

#include <goro/sched/sched.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace goro::detail {

// Shared by all the nodes of one parked select.
struct select_sync {
  static constexpr std::uint32_t waiting = ~std::uint32_t{0};
  // `waiting` until a waker claims a case; then that case's index. acq_rel CAS: the winner's
  // claim is ordered before its hand-over writes (which are published to the select by wake()).
  std::atomic<std::uint32_t> winner{waiting};
};

struct wait_node {
  wait_node* prev = nullptr;
  wait_node* next = nullptr;
  sched::waiter* w = nullptr;      // who to wake
  select_sync* sel = nullptr;      // set: part of a select; a waker must claim() it first
  void* elem = nullptr;            // the hand-over slot; its meaning belongs to the queue's owner
  std::uint32_t case_index = 0;    // the select case this node stands for
  bool queued = false;             // in a queue (read and written under the owner's lock only)
  bool ok = false;                 // the waker's verdict (owner-defined: delivered, granted...)

  // Decides that this node's operation happens. Always true outside a select.
  bool claim() noexcept {
    if (!sel) return true;
    std::uint32_t e = select_sync::waiting;
    return sel->winner.compare_exchange_strong(e, case_index, std::memory_order_acq_rel,
                                               std::memory_order_acquire);
  }
};

// An intrusive doubly linked FIFO of wait_nodes. Not thread-safe: its owner's lock guards it.
class wait_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return n_; }
  wait_node* front() const noexcept { return head_; }

  void push_back(wait_node* n) noexcept {
    n->next = nullptr;
    n->prev = tail_;
    if (tail_)
      tail_->next = n;
    else
      head_ = n;
    tail_ = n;
    n->queued = true;
    ++n_;
  }

  void push_front(wait_node* n) noexcept {
    n->prev = nullptr;
    n->next = head_;
    if (head_)
      head_->prev = n;
    else
      tail_ = n;
    head_ = n;
    n->queued = true;
    ++n_;
  }

  void remove(wait_node* n) noexcept {
    if (n->prev)
      n->prev->next = n->next;
    else
      head_ = n->next;
    if (n->next)
      n->next->prev = n->prev;
    else
      tail_ = n->prev;
    n->prev = n->next = nullptr;
    n->queued = false;
    --n_;
  }

  // Removes and returns the first node whose operation can happen: plain waiters always; select
  // nodes only if this call wins their select (stale ones are dropped on the way). nullptr if none.
  wait_node* pop_claimed() noexcept {
    while (wait_node* n = head_) {
      remove(n);
      if (n->claim()) return n;
    }
    return nullptr;
  }

 private:
  wait_node* head_ = nullptr;
  wait_node* tail_ = nullptr;
  std::size_t n_ = 0;
};

// A list of claimed nodes to wake, in the order pushed, once the lock is released (linked through
// `next`, which is free once a node is out of its queue). Read `next` before waking: a woken owner
// may return and take its node's storage with it.
class wake_list {
 public:
  void push(wait_node* n) noexcept {
    n->next = nullptr;
    if (tail_)
      tail_->next = n;
    else
      head_ = n;
    tail_ = n;
  }
  void wake_all() noexcept {
    wait_node* n = head_;
    head_ = tail_ = nullptr;
    while (n) {
      wait_node* next = n->next;
      n->w->wake();
      n = next;
    }
  }
  bool empty() const noexcept { return head_ == nullptr; }

 private:
  wait_node* head_ = nullptr;
  wait_node* tail_ = nullptr;
};

}  // namespace goro::detail
