// chan.cpp: the parts of channels that do not depend on the element type: close, the errors,
// nil channels, the invariant check, and the select engine.
#include <goro/channels/chan.hpp>
#include <goro/channels/select.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace goro::detail {

void throw_send_on_closed() { throw closed_channel_error("send on closed channel"); }
void throw_close_of_closed() { throw closed_channel_error("close of closed channel"); }
void throw_close_of_nil() { throw channel_error("close of nil channel"); }

void block_forever() {
  // Nobody holds this waiter's address, so nothing can wake it. (The deadlock detector, when
  // every coroutine is parked, is what reports a program stuck here.)
  sched::waiter w;
  for (;;) w.wait("chan (nil or select with no cases), forever");
}

void chan_core::close() {
  wake_list woken;
  {
    sched::spin_guard g(mu);
    if (closed) {
      // Unlocked by the guard before the exception leaves.
      throw_close_of_closed();
    }
    closed = true;
    recv_hint.store(1, std::memory_order_relaxed);
    // Receivers' optionals stay empty; senders see ok == false and throw.
    while (wait_node* n = recvq.pop_claimed()) {
      n->ok = false;
      woken.push(n);
    }
    while (wait_node* n = sendq.pop_claimed()) {
      n->ok = false;
      woken.push(n);
    }
    check_invariants();
  }
  woken.wake_all();
}

void chan_core::check_invariants() {
#if GORO_CHAN_CHECKS
  auto live = [](const wait_queue& q) {
    std::size_t k = 0;
    for (wait_node* n = q.front(); n; n = n->next)
      if (!n->sel || n->sel->winner.load(std::memory_order_relaxed) == select_sync::waiting) ++k;
    return k;
  };
  bool ok = count <= cap;
  if (cap > 0) ok = ok && !(count > 0 && live(recvq) > 0) && !(count < cap && live(sendq) > 0);
  if (closed) ok = ok && live(recvq) == 0 && live(sendq) == 0;
  if (!ok) {
    char msg[160];
    std::snprintf(msg, sizeof msg,
                  "goro: channel invariant broken (cap %zu, count %zu, closed %d, %zu receivers, "
                  "%zu senders queued)",
                  cap, count, int(closed), recvq.size(), sendq.size());
    sched::fatal(msg);
  }
#endif
}

namespace {

// A per-thread xorshift generator for select's random poll order. Not inlined, and never keeps
// the thread_local's address across a call: a coroutine may resume on another thread.
GORO_NOINLINE std::uint32_t fastrand() noexcept {
  thread_local std::uint64_t s = [] {
    std::uint64_t seed = static_cast<std::uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    seed ^= reinterpret_cast<std::uintptr_t>(&seed);
    return seed | 1;
  }();
  std::uint64_t x = s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  s = x;
  return static_cast<std::uint32_t>(x >> 32);
}

// A uniform integer in [0, n): Lemire's multiply-shift (bias below 2^-32 * n, negligible here).
std::size_t uniform(std::size_t n) noexcept {
  return static_cast<std::size_t>((std::uint64_t{fastrand()} * n) >> 32);
}

void lock_all(chan_core** locks, std::size_t n) GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (std::size_t i = 0; i < n; ++i) locks[i]->mu.lock();
}
void unlock_all(chan_core** locks, std::size_t n) GORO_NO_THREAD_SAFETY_ANALYSIS {
  for (std::size_t i = n; i-- > 0;) locks[i]->mu.unlock();
}

}  // namespace

// The select protocol. Lock order: channels by address, ascending, each once (duplicates
// skipped): any two selects (and single operations, which take one lock) acquire in one global
// order, so they cannot deadlock.
std::size_t select_run(select_case** cases, std::size_t n, bool has_default, void** scratch)
    GORO_NO_THREAD_SAFETY_ANALYSIS {
  // scratch[0, n): poll order (case indices, as uintptr_t); scratch[n, 2n): lock order.
  auto* order = reinterpret_cast<std::uintptr_t*>(scratch);
  auto* locks = reinterpret_cast<chan_core**>(scratch + n);

  // 1. A uniformly random poll order (Fisher-Yates, inside-out), and the distinct channels
  //    sorted by address (insertion sort: n is small).
  std::size_t nlocks = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = uniform(i + 1);
    order[i] = order[j];
    order[j] = i;
    chan_core* c = cases[i]->core;
    if (!c) continue;
    std::size_t k = nlocks;
    while (k > 0 && locks[k - 1] > c) --k;
    if (k > 0 && locks[k - 1] == c) continue;  // already in the list
    for (std::size_t m = nlocks; m > k; --m) locks[m] = locks[m - 1];
    locks[k] = c;
    ++nlocks;
  }
  if (nlocks == 0) {
    if (has_default) return n;
    block_forever();  // only nil channels (or no cases): Go's select {} blocks forever
  }

  // 2. With every channel locked, the first ready case in poll order fires.
  lock_all(locks, nlocks);
  for (std::size_t i = 0; i < n; ++i) {
    select_case* c = cases[order[i]];
    if (!c->core) continue;
    wait_node* wake = nullptr;
    op_status st = c->try_locked(wake);
    if (st != op_status::would_block) {
      unlock_all(locks, nlocks);
      if (wake) wake->w->wake();
      c->status = st;
      return order[i];
    }
  }
  if (has_default) {
    unlock_all(locks, nlocks);
    return n;
  }

  // 3. Nothing ready: queue one node per case, all sharing this waiter and select_sync, then
  //    park. Wakers claim the select (wait_node::claim) before touching a node's slot.
  //    The nodes are queued in the random poll order, not in argument order: where two cases
  //    wait on one channel, the one queued first wins when the other side arrives, so argument
  //    order would hand every such race to the first case (Go's selectgo enqueues in an order
  //    derived from its random poll order too; its TestPseudoRandomSend checks the split).
  sched::waiter w;
  select_sync sync;
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t idx = order[i];
    select_case* c = cases[idx];
    if (!c->core) continue;
    c->node.w = &w;
    c->node.sel = &sync;
    c->node.case_index = static_cast<std::uint32_t>(idx);
    c->node.ok = false;
    (c->is_send ? c->core->sendq : c->core->recvq).push_back(&c->node);
  }
  unlock_all(locks, nlocks);
  w.wait("select");

  // 4. Woken by the winner's waker, which unlinked the winning node. Unlink the rest (a node
  //    may already be gone: a waker that lost the claim drops the stale node it popped).
  std::uint32_t won = sync.winner.load(std::memory_order_acquire);
  if (nlocks > 1 || n > 1) {
    lock_all(locks, nlocks);
    for (std::size_t i = 0; i < n; ++i) {
      select_case* c = cases[i];
      if (c->core && c->node.queued) (c->is_send ? c->core->sendq : c->core->recvq).remove(&c->node);
    }
    unlock_all(locks, nlocks);
  }
  select_case* c = cases[won];
  c->status = c->node.ok ? op_status::done : op_status::closed;
  return won;
}

}  // namespace goro::detail
