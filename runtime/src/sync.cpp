// sync.cpp: goro's sync primitives (see goro/runtime/sync.hpp for their contracts).
#include <goro/runtime/context.hpp>
#include <goro/runtime/detail/abortable_wait.hpp>
#include <goro/runtime/sync.hpp>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace goro {

namespace {

using sched::fatal;

// How long a mutex waiter may wait before the mutex switches to hand-off mode (Go's 1 ms).
constexpr auto starvation_threshold = std::chrono::milliseconds(1);
// Rounds of spinning (30 pauses, then a look at the state) before a locker queues, as Go's
// sync.Mutex does. Spinning pays only when the owner runs on another worker and is about to
// unlock; longer spins were measured slower (bench mutex_contended, 2 workers: 64 rounds of one
// pause 41 ns per lock, 200 rounds 40 ns, 4 rounds 27 ns): spinners on a second core keep the
// lock's cache line moving, while parked waiters let the owner's core run the lock hot.
constexpr int mutex_spins = 4;

using detail::wait_node;
using detail::wake_list;

}  // namespace

// ==== mutex =======================================================================================

// Spins while the lock is held by someone likely to release it soon. True: we took it.
bool mutex::spin_acquire(bool was_woken) {
  for (int i = 0; i < mutex_spins; ++i) {
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    if (s & handoff) return false;  // the queue owns the lock now: join it
    if (!(s & locked)) {
      std::uint32_t ns = s | locked;
      if (was_woken) ns &= ~woken;
      if (state_.compare_exchange_weak(s, ns, std::memory_order_acquire,
                                       std::memory_order_relaxed))
        return true;
      continue;
    }
    for (int k = 0; k < 30; ++k) GORO_CPU_RELAX();
  }
  return false;
}

bool mutex::lock_slow(std::int64_t deadline, const std::stop_token* st) {
  if (spin_acquire(false)) return true;
  const bool abortable = deadline != no_deadline || st != nullptr;
  bool was_woken = false;   // we were woken to compete (normal mode) and lost to a barger
  bool starving = false;
  std::chrono::steady_clock::time_point since{};
  for (;;) {
    if (was_woken && spin_acquire(true)) return true;
    sched::waiter w;
    wait_node n;
    n.w = &w;
    q_mu_.lock();
    std::uint32_t s = state_.load(std::memory_order_relaxed);
    for (;;) {
      if (!(s & (locked | handoff))) {
        std::uint32_t ns = s | locked;
        if (was_woken) ns &= ~woken;
        if (state_.compare_exchange_weak(s, ns, std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
          q_mu_.unlock();
          return true;
        }
        continue;
      }
      // Held: queue. This CAS orders us against the owner's unlock (same word): either it sees
      // `waiters` and wakes someone under q_mu_, or our CAS fails and we look again.
      std::uint32_t ns = s | waiters;
      if (was_woken) ns &= ~woken;
      if (starving) ns |= handoff;
      if (state_.compare_exchange_weak(s, ns, std::memory_order_relaxed,
                                       std::memory_order_relaxed))
        break;
    }
    // A waiter that was woken and lost goes back to the front: it has waited longest.
    if (was_woken)
      q_.push_front(&n);
    else
      q_.push_back(&n);
    q_mu_.unlock();
    if (since == std::chrono::steady_clock::time_point{}) since = std::chrono::steady_clock::now();
    if (!abortable) {
      w.wait("sync.Mutex.Lock");
    } else {
      // Giving up happens only while queued (never while `woken` is ours: a woken waiter always
      // competes once more, and queues again, clearing `woken`, before it can give up), so the
      // aborter only has to take the node out and, with the queue empty, clear `waiters` and
      // `handoff` (an unlock that saw them before finds the queue empty: see unlock_slow).
      auto abort = [&]() noexcept {
        sched::spin_guard g(q_mu_);
        if (!n.queued) return false;  // an unlock has it (hand-off or woken to compete)
        q_.remove(&n);
        if (q_.empty()) state_.fetch_and(~(waiters | handoff), std::memory_order_relaxed);
        return true;
      };
      if (detail::wait_abortable(w, "sync.Mutex.Lock", deadline, st ? *st : std::stop_token(),
                                 abort))
        return false;
    }
    bool waited_long = std::chrono::steady_clock::now() - since > starvation_threshold;
    if (n.ok) {
      // Hand-off: the unlocker made us the owner. As in Go, hand-off mode ends as soon as a
      // waiter gets the lock without having waited long: starvation is over, and hand-off
      // (a context switch per lock) is far slower than letting a running coroutine barge.
      if (!waited_long) {
        sched::spin_guard g(q_mu_);
        state_.fetch_and(~handoff, std::memory_order_relaxed);
      }
      return true;
    }
    was_woken = true;
    starving = starving || waited_long;
  }
}

bool mutex::try_lock_until(std::chrono::steady_clock::time_point t) {
  if (try_lock()) return true;
  return lock_slow(
      std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(), nullptr);
}

std::error_code mutex::lock(const context& ctx) {
  if (std::error_code e = ctx.err()) return e;
  if (try_lock()) return {};
  const std::stop_token st = ctx.stop_token();  // may allocate: before anything is queued
  if (lock_slow(no_deadline, &st)) return {};
  return ctx.err();
}

void mutex::unlock_slow() {
  std::uint32_t s = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (!(s & locked)) fatal("sync: unlock of unlocked mutex");
    if (s & handoff) break;
    if (!(s & waiters) || (s & woken)) {
      // Nobody to wake (or one already woken is on its way): just release.
      if (state_.compare_exchange_weak(s, s & ~locked, std::memory_order_release,
                                       std::memory_order_relaxed))
        return;
      continue;
    }
    break;
  }
  // Under q_mu_ the word is stable: we hold `locked` (so no barging CAS can succeed) and every
  // other transition needs q_mu_.
  q_mu_.lock();
  s = state_.load(std::memory_order_relaxed);
  wait_node* n = q_.pop_claimed();
  if (!n) {
    // The waiters we saw gave up (a timed or context-aware lock) after our look at the word; the
    // last of them cleared `waiters` and `handoff` under q_mu_. Just release.
    if (s & waiters) {
      q_mu_.unlock();
      fatal("sync: mutex state corrupt (waiters bit without waiters)");
    }
    state_.store(s & ~(locked | handoff), std::memory_order_release);
    q_mu_.unlock();
    return;
  }
  if (s & handoff) {
    // Ownership passes to n: `locked` stays set. The release store and the wake publish our
    // critical section to the new owner.
    std::uint32_t ns = q_.empty() ? locked : (locked | waiters | handoff);
    state_.store(ns, std::memory_order_release);
    n->ok = true;
  } else {
    std::uint32_t ns = (s & ~locked) | woken;
    if (q_.empty()) ns &= ~waiters;
    state_.store(ns, std::memory_order_release);
    n->ok = false;  // woken to compete
  }
  q_mu_.unlock();
  n->w->wake();
}

// ==== shared_mutex ================================================================================

void shared_mutex::lock() {
  sched::waiter w;
  wait_node n;
  n.w = &w;
  {
    sched::spin_guard g(mu_);
    if (!writer_ && readers_ == 0 && wq_.empty()) {
      writer_ = true;
      return;
    }
    wq_.push_back(&n);
  }
  w.wait("sync.RWMutex.Lock");  // woken as the owner: the unlocker set writer_ for us
}

bool shared_mutex::try_lock() {
  sched::spin_guard g(mu_);
  if (writer_ || readers_ != 0) return false;
  writer_ = true;
  return true;
}

void shared_mutex::unlock() {
  wake_list woken;
  {
    sched::spin_guard g(mu_);
    if (!writer_) fatal("sync: unlock of unlocked shared_mutex");
    writer_ = false;
    if (!rq_.empty()) {
      // Admit every reader that queued while we wrote, before the next writer.
      while (wait_node* r = rq_.pop_claimed()) {
        ++readers_;
        woken.push(r);
      }
    } else if (wait_node* wr = wq_.pop_claimed()) {
      writer_ = true;
      woken.push(wr);
    }
  }
  woken.wake_all();
}

void shared_mutex::lock_shared() {
  sched::waiter w;
  wait_node n;
  n.w = &w;
  {
    sched::spin_guard g(mu_);
    if (!writer_ && wq_.empty()) {
      ++readers_;
      return;
    }
    rq_.push_back(&n);
  }
  w.wait("sync.RWMutex.RLock");  // admitted: the unlocker counted us in readers_
}

bool shared_mutex::try_lock_shared() {
  sched::spin_guard g(mu_);
  if (writer_ || !wq_.empty()) return false;
  ++readers_;
  return true;
}

void shared_mutex::unlock_shared() {
  wait_node* wr = nullptr;
  {
    sched::spin_guard g(mu_);
    if (readers_ == 0) fatal("sync: unlock_shared of unlocked shared_mutex");
    if (--readers_ == 0 && (wr = wq_.pop_claimed())) writer_ = true;
  }
  if (wr) wr->w->wake();
}

// ==== condition_variable ==========================================================================

// The prologue both waits share: check the lock, queue n, then release the lock (in that order,
// so that no notify can slip between the release and the queueing).
void condition_variable::enqueue_and_unlock(std::unique_lock<mutex>& lk, detail::wait_node& n,
                                            const char* who) {
  if (!lk.owns_lock())
    throw std::logic_error(std::string("goro::condition_variable::") + who + ": lock not held");
  {
    sched::spin_guard g(mu_);
    q_.push_back(&n);
  }
  lk.unlock();
}

void condition_variable::wait(std::unique_lock<mutex>& lk) {
  sched::waiter w;
  wait_node n;
  n.w = &w;
  enqueue_and_unlock(lk, n, "wait");
  w.wait("sync.Cond.Wait");
  lk.lock();
}

std::cv_status condition_variable::wait_until(std::unique_lock<mutex>& lk,
                                              std::chrono::steady_clock::time_point t) {
  sched::waiter w;
  wait_node n;
  n.w = &w;
  enqueue_and_unlock(lk, n, "wait_until");
  auto abort = [&]() noexcept {
    sched::spin_guard g(mu_);
    if (!n.queued) return false;  // a notify has it
    q_.remove(&n);
    return true;
  };
  bool timed_out;
  try {
    timed_out = detail::wait_abortable(
        w, "sync.Cond.Wait",
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(), std::stop_token(), abort);
  } catch (...) {
    lk.lock();  // the standard's rule: the lock is held again whatever happens
    throw;
  }
  lk.lock();
  return timed_out ? std::cv_status::timeout : std::cv_status::no_timeout;
}

void condition_variable::notify_one() noexcept {
  wait_node* n;
  {
    sched::spin_guard g(mu_);
    n = q_.pop_claimed();
  }
  if (n) n->w->wake();
}

void condition_variable::notify_all() noexcept {
  wake_list woken;
  {
    sched::spin_guard g(mu_);
    while (wait_node* n = q_.pop_claimed()) woken.push(n);
  }
  woken.wake_all();
}

// ==== once ========================================================================================

bool once::begin() {
  for (;;) {
    sched::waiter w;
    wait_node n;
    n.w = &w;
    {
      sched::spin_guard g(mu_);
      std::uint32_t s = state_.load(std::memory_order_relaxed);
      if (s == done_state) return false;
      if (s == idle) {
        state_.store(running, std::memory_order_relaxed);
        return true;
      }
      q_.push_back(&n);  // running: wait for the outcome
    }
    w.wait("sync.Once.Do");
  }
}

void once::finish(bool succeeded) noexcept {
  wake_list woken;
  {
    sched::spin_guard g(mu_);
    // Release: f's effects are visible to every caller that sees done_state (fast path acquire).
    state_.store(succeeded ? done_state : idle, std::memory_order_release);
    while (wait_node* n = q_.pop_claimed()) woken.push(n);
  }
  woken.wake_all();  // after a failure they race to run f again; one wins, the rest re-queue
}

// ==== wait_group ==================================================================================

// As in Go, a wait_group reused for a new round needs the new add()s to come after the last
// round's wait()s have returned.
void wait_group::add(std::int64_t delta) {
  // acq_rel: each done()'s writes are released to the add() that reaches zero (RMWs on one word
  // form a release sequence), which passes them on to the waiters through its wake, or to a
  // waiter's acquire load of zero.
  const std::uint64_t d = static_cast<std::uint64_t>(delta) << 32;
  const std::uint64_t s = state_.fetch_add(d, std::memory_order_acq_rel) + d;
  const auto v = static_cast<std::int32_t>(s >> 32);
  const auto waiters = static_cast<std::uint32_t>(s);
  if (v < 0) throw std::logic_error("goro::wait_group: negative counter");
  if (v > 0 || waiters == 0) return;  // nobody to wake: do not touch *this again
  wake_list woken;
  {
    // Every waiter counted in `waiters` registered and queued its node in one critical section
    // under mu_, so all of them are in q_ now.
    sched::spin_guard g(mu_);
    while (wait_node* n = q_.pop_claimed()) woken.push(n);
    state_.fetch_sub(waiters, std::memory_order_relaxed);
  }
  woken.wake_all();  // after the unlock: a woken waiter may destroy *this at once
}

void wait_group::wait() {
  if ((state_.load(std::memory_order_acquire) >> 32) == 0) return;
  sched::waiter w;
  wait_node n;
  n.w = &w;
  {
    sched::spin_guard g(mu_);
    std::uint64_t s = state_.load(std::memory_order_acquire);
    do {
      if ((s >> 32) == 0) return;  // reached zero meanwhile
    } while (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
    q_.push_back(&n);
  }
  w.wait("sync.WaitGroup.Wait");
}

std::error_code wait_group::wait(const context& ctx) {
  if (std::error_code e = ctx.err()) return e;
  if ((state_.load(std::memory_order_acquire) >> 32) == 0) return {};
  const std::stop_token st = ctx.stop_token();  // may allocate: before anything is queued
  sched::waiter w;
  wait_node n;
  n.w = &w;
  {
    sched::spin_guard g(mu_);
    std::uint64_t s = state_.load(std::memory_order_acquire);
    do {
      if ((s >> 32) == 0) return {};
    } while (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                           std::memory_order_acquire));
    q_.push_back(&n);
  }
  // Unregistering is one CAS on the word that the add() reaching zero changes with its
  // fetch_add: either we leave first (that add() then counts one waiter fewer, and never
  // looks for our node), or the counter is zero already and that add() has counted us: then
  // we stay and it wakes us (it may touch *this until it has, so we must not return first: our
  // caller could destroy the wait_group).
  auto abort = [&]() noexcept {
    sched::spin_guard g(mu_);
    if (!n.queued) return false;
    std::uint64_t s = state_.load(std::memory_order_relaxed);
    do {
      if ((s >> 32) == 0) return false;  // the zeroing add() is on its way to wake us
    } while (!state_.compare_exchange_weak(s, s - 1, std::memory_order_relaxed,
                                           std::memory_order_relaxed));
    q_.remove(&n);
    return true;
  };
  if (detail::wait_abortable(w, "sync.WaitGroup.Wait", detail::no_wait_deadline, st, abort))
    return ctx.err();
  return {};
}

// ==== semaphore ===================================================================================

semaphore::semaphore(std::ptrdiff_t initial) : count_(initial) {
  if (initial < 0) throw std::invalid_argument("goro::semaphore: negative initial count");
}

void semaphore::acquire() {
  sched::waiter w;
  wait_node n;
  n.w = &w;
  {
    sched::spin_guard g(mu_);
    if (count_ > 0 && q_.empty()) {
      --count_;
      return;
    }
    q_.push_back(&n);
  }
  w.wait("semaphore acquire");  // the releaser took our permit for us
}

bool semaphore::try_acquire_until(std::chrono::steady_clock::time_point t) {
  sched::waiter w;
  wait_node n;
  n.w = &w;
  {
    sched::spin_guard g(mu_);
    if (count_ > 0 && q_.empty()) {
      --count_;
      return true;
    }
    q_.push_back(&n);
  }
  // Taking out a queued node needs no more: a queued waiter means count_ is 0 (release hands
  // permits to the queue while count_ > 0), so nobody behind it could be served instead.
  auto abort = [&]() noexcept {
    sched::spin_guard g(mu_);
    if (!n.queued) return false;  // a release granted our permit
    q_.remove(&n);
    return true;
  };
  return !detail::wait_abortable(w, "semaphore acquire",
                                 std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(),
                                 std::stop_token(), abort);
}

bool semaphore::try_acquire() {
  sched::spin_guard g(mu_);
  if (count_ > 0 && q_.empty()) {
    --count_;
    return true;
  }
  return false;
}

void semaphore::release(std::ptrdiff_t k) {
  if (k < 0) throw std::invalid_argument("goro::semaphore::release: negative count");
  wake_list woken;
  {
    sched::spin_guard g(mu_);
    count_ += k;
    while (count_ > 0) {
      wait_node* n = q_.pop_claimed();
      if (!n) break;
      --count_;
      woken.push(n);
    }
  }
  woken.wake_all();
}

std::ptrdiff_t semaphore::available() noexcept {
  sched::spin_guard g(mu_);
  return count_;
}

}  // namespace goro
