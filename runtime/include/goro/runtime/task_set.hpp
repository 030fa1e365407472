// goro/runtime/task_set.hpp: a set of coroutines whose results are taken as they finish (Tokio's
// JoinSet), with cancellation through a context.
//
//   goro::task_set<int> set(ctx);                       // set.ctx(): a child of ctx
//   for (const auto& url : urls)
//     set.spawn([url](const goro::context& c) { return fetch(c, url); });   // or a plain f()
//   while (std::optional<int> r = set.next()) {         // in the order they finish
//     if (*r == wanted) {
//       set.cancel_all();                               // the others see their ctx done
//       break;
//     }
//   }
//   // ~task_set: cancel_all() and wait for every task (results not taken are dropped)
//
// Semantics:
//   - spawn(f) starts f in a new coroutine: f(ctx()) if f takes a const context&, else f(). It
//     returns T (convertible). The task belongs to the set until next() hands its result out.
//   - next() parks until a task of the set finishes and returns its result, in finishing order;
//     std::nullopt (at once) when the set is empty (nothing running, nothing left to take). An
//     exception escaping a task is kept and rethrown by the next() that takes that task (the
//     set goes on: call next() again for the others). For task_set<void>, next() returns bool
//     (true: a task finished).
//   - cancel_all() cancels the context the running tasks were given (cooperative, as all of
//     goro's cancellation: a task ends when it looks at its context) and gives the tasks spawned
//     afterwards a fresh one, as Tokio's abort_all leaves the set usable. The set's context is a
//     child of the parent given at construction (background by default).
//   - wait() parks until no task is running; their results stay queued for next() (which then
//     returns them without parking). size(): tasks running plus results not yet taken.
//   - The destructor calls cancel_all(), then waits for every task to finish (it parks; on a plain
//     thread it blocks), then drops the results not taken, exceptions included.
// spawn, next, cancel_all, wait and the destructor belong to the set's owner: one coroutine or
// thread at a time (Tokio's &mut self); the tasks themselves finish concurrently on any worker.
// The tasks' shared state outlives the set only until the last task has finished.
#pragma once

#include <goro/runtime/context.hpp>
#include <goro/runtime/go.hpp>
#include <goro/runtime/sync.hpp>

#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

namespace goro {

template <class T>
class task_set {
  static_assert(!std::is_reference_v<T>, "goro::task_set<T>: T must not be a reference");
  using stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
  using result = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

 public:
  task_set() : task_set(context::background()) {}
  explicit task_set(const context& parent) : parent_(parent), s_(std::make_shared<state>()) {
    renew();
  }
  task_set(const task_set&) = delete;
  task_set& operator=(const task_set&) = delete;
  ~task_set() {
    cancel_();
    wait();
  }

  // The context the next spawned task gets.
  const context& ctx() const noexcept { return ctx_; }

  template <class F>
  void spawn(F&& f) {
    using fn_t = std::decay_t<F>;
    constexpr bool takes_ctx = std::is_invocable_v<fn_t&, const context&>;
    static_assert(takes_ctx || std::is_invocable_v<fn_t&>,
                  "goro::task_set::spawn: f must be callable as f() or f(const goro::context&)");
    using R = typename std::conditional_t<takes_ctx, std::invoke_result<fn_t&, const context&>,
                                          std::invoke_result<fn_t&>>::type;
    static_assert(std::is_void_v<T> ? std::is_void_v<R> : std::is_convertible_v<R, T>,
                  "goro::task_set<T>::spawn: f must return T");
    {
      std::lock_guard g(s_->mu);
      ++s_->running;
    }
    try {
      goro::go([s = s_, c = ctx_, fn = std::optional<fn_t>(std::forward<F>(f))]() mutable noexcept {
        item it;
        try {
          if constexpr (std::is_void_v<T>) {
            if constexpr (takes_ctx)
              (*fn)(std::as_const(c));
            else
              (*fn)();
            it.template emplace<0>();
          } else if constexpr (takes_ctx) {
            it.template emplace<0>((*fn)(std::as_const(c)));
          } else {
            it.template emplace<0>((*fn)());
          }
        } catch (const goexit_unwind&) {
          detail::goexit_caught();
          it.template emplace<1>(std::make_exception_ptr(goexit_error()));
        } catch (...) {
          it.template emplace<1>(std::current_exception());
        }
        // fn's captures and our context handle go before the owner can see us finished, so
        // that whatever they hold is released when wait() or next() returns.
        fn.reset();
        c = context();
        std::lock_guard g(s->mu);
        s->done.push_back(std::move(it));
        if (--s->running == 0 || s->waiting) s->cv.notify_all();
      });
    } catch (...) {  // not started (no runtime, no memory)
      std::lock_guard g(s_->mu);
      --s_->running;
      throw;
    }
  }

  result next() {
    item it;
    {
      std::unique_lock lk(s_->mu);
      ++s_->waiting;
      s_->cv.wait(lk, [&] { return !s_->done.empty() || s_->running == 0; });
      --s_->waiting;
      if (s_->done.empty()) return result{};
      it = std::move(s_->done.front());
      s_->done.pop_front();
    }
    if (it.index() == 1) std::rethrow_exception(std::get<1>(std::move(it)));
    if constexpr (std::is_void_v<T>)
      return true;
    else
      return std::optional<T>(std::get<0>(std::move(it)));
  }

  void cancel_all() {
    cancel_();
    renew();
  }

  void wait() {
    std::unique_lock lk(s_->mu);
    s_->cv.wait(lk, [&] { return s_->running == 0; });
  }

  std::size_t size() const {
    std::lock_guard g(s_->mu);
    return s_->running + s_->done.size();
  }
  bool empty() const { return size() == 0; }

 private:
  using item = std::variant<stored, std::exception_ptr>;
  struct state {
    // Lock order: mu is taken with nothing else held; no user code runs under it.
    mutable goro::mutex mu;
    goro::condition_variable cv;  // a task finished: next() and wait() look again
    std::size_t running = 0;      // guarded by mu
    std::size_t waiting = 0;      // next() callers parked on cv (guarded by mu)
    std::deque<item> done;        // finished, not yet taken (guarded by mu)
  };

  void renew() {
    auto [c, cancel] = with_cancel(parent_);
    ctx_ = std::move(c);
    cancel_ = std::move(cancel);
  }

  context parent_;
  context ctx_;
  cancel_func cancel_;
  std::shared_ptr<state> s_;
};

}  // namespace goro
