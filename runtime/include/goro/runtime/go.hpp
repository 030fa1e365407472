// goro/runtime/go.hpp: starting coroutines: go (fire and forget) and spawn (joinable).
//
// Capture by value. A coroutine usually outlives the statement that started it, so
//   goro::go([&] { use(local); });      // local may be gone when this runs: a crash
//   goro::go([=] { use(local); });      // each coroutine has its own copy
//   goro::go(fn, arg1, arg2);           // arguments are decay-copied, as std::thread does
// Share state through channels, shared_ptr, or objects that provably outlive the coroutine.
#pragma once

#include <goro/runtime/goexit.hpp>
#include <goro/sched/sched.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace goro {

// Per-coroutine options: goro::go(goro::spawn_options{.name = "reader"}, fn, args...).
struct spawn_options {
  const char* name = nullptr;  // copied; appears in panics and stack-overflow reports
  std::size_t stack_size = 0;  // 0: the runtime's default
};

namespace detail {

// A fire-and-forget coroutine's body: the callable and its decay-copied arguments.
template <class F, class... Args>
struct go_task final : sched::task, sched::pooled {
  F fn;
  std::tuple<Args...> args;
  template <class G, class... A>
  explicit go_task(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
  void run() override {
    try {
      std::apply(fn, std::move(args));
    } catch (const goexit_unwind&) {
      detail::goexit_caught();  // goro::goexit(): the destructors have run; end quietly
      return;
    } catch (...) {
      detail::goexit_check();
      throw;
    }
    detail::goexit_check();
  }
  // fail(): the default, an unrecovered panic.
  void release() noexcept override { delete this; }
};

// The state a spawned coroutine shares with its join_handle: one allocation holding the callable,
// the result and the completion word. Two references (the coroutine's and the handle's).
//
// Completion word `done_`: 0 = running, nobody waiting; 1 = finished; otherwise the address of the
// sched::waiter of the one party blocked in wait(). The finishing side exchanges in 1 (acq_rel:
// release publishes the result, acquire pairs with the waiter's CAS that published its address)
// and wakes the waiter it found. The waiting side CASes 0 -> &waiter (acq_rel) or sees 1 (acquire).
template <class T>
class join_state : public sched::task, public sched::pooled {
 public:
  bool finished() const noexcept { return done_.load(std::memory_order_acquire) == 1; }

  void wait() {
    if (finished()) return;
    sched::waiter w;
    std::uintptr_t expected = 0;
    if (done_.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(&w),
                                      std::memory_order_acq_rel, std::memory_order_acquire)) {
      w.wait("join");
    }
    // else expected == 1: finished between the load and the CAS.
  }

  T take() {
    wait();
    observed_ = true;
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

  void fail(std::exception_ptr e) noexcept override {
    error_ = e;
    co_id_ = sched::id_of(sched::current());
    co_name_ = sched::name_of(sched::current());
  }

  void release() noexcept override {
    std::uintptr_t w = done_.exchange(1, std::memory_order_acq_rel);
    if (w > 1) reinterpret_cast<sched::waiter*>(w)->wake();
    unref();
  }

  // An exception nobody observed through get() is a panic, as in Go: it must not vanish.
  void unref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (error_ && !observed_ && !goexited_) sched::panic(error_, co_id_, co_name_.c_str());
    delete this;
  }

 protected:
  virtual ~join_state() = default;

  using value_type = std::conditional_t<std::is_void_v<T>, char, T>;
  std::optional<value_type> value_;
  std::exception_ptr error_;
  bool observed_ = false;
  bool goexited_ = false;  // error_ is a goexit_error: not a panic when nobody looks
  std::uint64_t co_id_ = 0;
  std::string co_name_;

 private:
  std::atomic<std::uintptr_t> done_{0};
  std::atomic<int> refs_{2};
};

template <class T, class F, class... Args>
struct spawn_task final : join_state<T> {
  F fn;
  std::tuple<Args...> args;
  template <class G, class... A>
  explicit spawn_task(G&& g, A&&... a) : fn(std::forward<G>(g)), args(std::forward<A>(a)...) {}
  void run() override {
    try {
      if constexpr (std::is_void_v<T>) {
        std::apply(fn, std::move(args));
      } else {
        this->value_.emplace(std::apply(fn, std::move(args)));
      }
    } catch (const goexit_unwind&) {
      detail::goexit_caught();
      this->error_ = std::make_exception_ptr(goexit_error());
      this->goexited_ = true;
      return;
    } catch (...) {
      detail::goexit_check();
      throw;
    }
    detail::goexit_check();
  }
};

template <class T>
inline constexpr bool is_spawn_options = std::is_same_v<std::decay_t<T>, spawn_options>;

}  // namespace detail

// The handle of a spawned coroutine. Move-only. get() waits (parking a coroutine, blocking a plain
// thread) and returns the result or rethrows the coroutine's exception; it may be called once.
// Dropping a handle detaches the coroutine; if it then ends with an exception nobody can observe,
// the program panics (exit code 2) rather than lose the error.
template <class T>
class join_handle {
 public:
  join_handle() = default;
  explicit join_handle(detail::join_state<T>* s) noexcept : s_(s) {}
  join_handle(join_handle&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~join_handle() { reset(); }

  bool valid() const noexcept { return s_ != nullptr; }
  // True once the coroutine has finished (get() will not wait).
  bool done() const noexcept { return s_ && s_->finished(); }
  void wait() const { check().wait(); }
  T get() {
    detail::join_state<T>& s = check();
    struct drop {
      join_handle* h;
      ~drop() { h->reset(); }
    } d{this};
    return s.take();
  }

 private:
  detail::join_state<T>& check() const {
    if (!s_) throw std::logic_error("goro::join_handle: no coroutine (moved from, or get() already called)");
    return *s_;
  }
  void reset() noexcept {
    if (s_) std::exchange(s_, nullptr)->unref();
  }
  detail::join_state<T>* s_ = nullptr;
};

// go(f, args...): runs f(args...) in a new coroutine. Arguments are decay-copied. An exception
// escaping f is an unrecovered panic: "panic: <what()>" and the coroutine's id and name on stderr,
// exit code 2.
template <class F, class... Args>
void go(const spawn_options& o, F&& f, Args&&... args) {
  auto* t = new detail::go_task<std::decay_t<F>, std::decay_t<Args>...>(std::forward<F>(f),
                                                                         std::forward<Args>(args)...);
  sched::start(t, {o.name, o.stack_size});
}

template <class F, class... Args>
  requires(!detail::is_spawn_options<F>)
void go(F&& f, Args&&... args) {
  go(spawn_options{}, std::forward<F>(f), std::forward<Args>(args)...);
}

// spawn(f, args...): like go, and returns a join_handle for f's result.
template <class F, class... Args>
auto spawn(const spawn_options& o, F&& f, Args&&... args) {
  using R = std::invoke_result_t<std::decay_t<F>&&, std::decay_t<Args>&&...>;
  auto* t = new detail::spawn_task<R, std::decay_t<F>, std::decay_t<Args>...>(
      std::forward<F>(f), std::forward<Args>(args)...);
  join_handle<R> h(t);
  sched::start(t, {o.name, o.stack_size});
  return h;
}

template <class F, class... Args>
  requires(!detail::is_spawn_options<F>)
auto spawn(F&& f, Args&&... args) {
  return spawn(spawn_options{}, std::forward<F>(f), std::forward<Args>(args)...);
}

// Lets other coroutines run (Go's runtime.Gosched).
inline void yield() { sched::yield(); }

namespace this_coroutine {
// The current coroutine's id (1 is the main coroutine; ids are never reused within a run), or 0
// on a thread that is not running a coroutine.
inline std::uint64_t id() noexcept { return sched::id_of(sched::current()); }
inline const char* name() noexcept { return sched::name_of(sched::current()); }
inline void yield() { sched::yield(); }
}  // namespace this_coroutine

}  // namespace goro
