// goro/runtime/after_func.hpp: Go's time.AfterFunc: call a function in its own coroutine once a
// duration has passed, with a handle that can stop or re-arm the call.
//
//   goro::after_func(2s, [] { log("slow request"); });          // fire and forget
//   goro::func_timer t = goro::after_func(100ms, [conn] { conn->abort(); });
//   if (t.stop()) { /* prevented: f will not run for this arming */ }
//   t.reset(50ms);                                               // f runs (again) 50 ms from now
//
// Semantics are Go's:
//   - When d has passed, f() is started in a new coroutine (goro::go): the timer never runs user
//     code on the worker's loop. An exception escaping f is an unrecovered panic, as with go.
//   - stop() prevents the call if it has not been started yet and returns true; false if it has
//     already been started (f may still be running: stop does not wait for it) or was stopped.
//   - reset(d) re-arms for now + d and returns whether it was still armed (a pending call is
//     replaced, not added to). After a call was started, reset arms a new one: f runs again.
//   - The handle is a shared reference: copies control the same timer, and dropping every handle
//     does NOT stop it (Go keeps an AfterFunc timer alive until it fires).
//   - A duration <= 0 starts f at once (on the next timer check).
// Needs a running runtime (std::logic_error otherwise). A timer still armed when goro::run
// returns is abandoned (f is never called). Callable from coroutines and plain threads.
#pragma once

#include <goro/sched/sched.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {

// The shared state: the function, the arming, and a reference count (one per handle, one while
// armed on a heap, one per started coroutine still running f).
class func_source final : public sched::timer {
 public:
  explicit func_source(std::function<void()> f) : fn_(std::move(f)) {}
  void fire() noexcept override;
  void abandon() noexcept override { unref(); }

  void start(std::int64_t when);  // first arming; frees *this and rethrows on failure
  bool stop();
  bool reset(std::int64_t when);
  void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void unref() noexcept {
    // acq_rel: the last owner sees every other owner's writes before deleting.
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  ~func_source() = default;
  void arm(std::int64_t when) GORO_REQUIRES(mu_);

  const std::function<void()> fn_;  // never changes: the coroutines call it without the lock
  // Lock order: mu_, then the heap's lock (add_timer/cancel_timer). fire() takes mu_ only after
  // the heap has let go of the timer.
  sched::spin_lock mu_{sched::lock_rank::after_func};
  bool pending_ GORO_GUARDED_BY(mu_) = false;  // armed, and its call not yet started
  std::atomic<int> refs_{1};
};

}  // namespace detail

// The handle after_func returns (Go's *time.Timer of an AfterFunc). Copyable; see above.
class func_timer {
 public:
  func_timer(const func_timer& o) noexcept : s_(o.s_) { s_->ref(); }
  func_timer& operator=(const func_timer& o) noexcept {
    func_timer tmp(o);
    std::swap(s_, tmp.s_);
    return *this;
  }
  ~func_timer() { s_->unref(); }

  bool stop() { return s_->stop(); }
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return s_->reset(sched::now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  }

 private:
  template <class Rep, class Period, class F>
  friend func_timer after_func(std::chrono::duration<Rep, Period> d, F&& f);
  explicit func_timer(detail::func_source* s) noexcept : s_(s) {}
  detail::func_source* s_;
};

// Starts f() in its own coroutine once d has passed (Go's time.AfterFunc). f: a copyable callable
// taking no arguments (it is called once per arming, possibly concurrently after reset()).
template <class Rep, class Period, class F>
func_timer after_func(std::chrono::duration<Rep, Period> d, F&& f) {
  static_assert(std::is_invocable_v<std::decay_t<F>&>, "goro::after_func: f must be callable with no arguments");
  auto* s = new detail::func_source(std::function<void()>(std::forward<F>(f)));
  s->start(sched::now_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  return func_timer(s);
}

}  // namespace goro
