// goro/runtime/errgroup.hpp: Go's golang.org/x/sync/errgroup: a group of coroutines working on
// one task, whose first failure is kept and cancels the group's context.
//
//   goro::errgroup g(ctx);                       // g.ctx(): cancelled on the first failure
//   for (const auto& url : urls)
//     g.go([&g, url] {                           // capture by value what the coroutine uses
//       fetch(g.ctx(), url);                     // failure: an exception...
//     });
//   g.go([&g]() -> std::error_code {             // ... or a non-zero std::error_code
//     return goro::sleep_for(g.ctx(), 1s);
//   });
//   g.wait();                                    // rethrows the first exception, or throws
//                                                // std::system_error for the first error code
//
//   goro::errgroup bounded;
//   bounded.set_limit(4);                        // go() parks while 4 are running
//   if (!bounded.try_go(f)) ...                  // try_go() does not: false, f not started
//
// Semantics are Go's:
//   - go(f) runs f() in a new coroutine. f returns void (failure: an exception escaping it) or
//     std::error_code (failure: a non-zero code; an exception counts too). Exceptions never reach
//     the scheduler: they are caught and kept, so a failing coroutine never ends the process.
//   - The first failure is kept and cancels ctx(); later ones are dropped. Coroutines started
//     after a failure still run (they can look at ctx()).
//   - wait() waits for every coroutine started so far, cancels ctx(), then rethrows the first
//     exception (its type preserved) or throws std::system_error(first code). Without a failure it
//     returns. It may be called again (after more go() calls, say) and reports the same failure.
//   - set_limit(n): at most n coroutines of the group run at once; go() parks the caller while n
//     are running (n == 0: go() blocks forever, as in Go). Negative: no limit (the default).
//     Changing the limit while coroutines started under a limit still run throws
//     std::logic_error (Go panics).
//   - try_go(f) (Go's TryGo): starts f as go() does if fewer than the limit are running (always,
//     without a limit) and returns true; returns false and drops f, never parking, when the
//     limit is reached (n == 0: always false).
//   - errgroup() has a context too: a child of background, so ctx() is always usable.
//
// The group's state is shared with its coroutines, so they may outlive the errgroup object (a
// group destroyed without wait() lets them finish; their failures are dropped). go() and wait()
// may be called from any coroutine or plain thread; set_limit() must not race with go().
#pragma once

#include <goro/runtime/context.hpp>
#include <goro/runtime/go.hpp>
#include <goro/runtime/sync.hpp>
#include <goro/sched/spin_lock.hpp>

#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace goro {

class errgroup {
 public:
  errgroup() : errgroup(context::background()) {}
  explicit errgroup(const context& parent) : s_(std::make_shared<state>()) {
    auto [c, cancel] = with_cancel(parent);
    ctx_ = std::move(c);
    s_->cancel = std::move(cancel);
  }
  errgroup(const errgroup&) = delete;
  errgroup& operator=(const errgroup&) = delete;

  // The group's context: done after the first failure, or once wait() has returned.
  const context& ctx() const noexcept { return ctx_; }

  template <class F>
  void go(F&& f) {
    check_fn<F>();
    std::shared_ptr<semaphore> sem = s_->sem;  // the limiter this coroutine holds a token of
    if (sem) sem->acquire();                   // parks while the limit is reached
    start(std::forward<F>(f), std::move(sem));
  }

  template <class F>
  bool try_go(F&& f) {
    check_fn<F>();
    std::shared_ptr<semaphore> sem = s_->sem;
    if (sem && !sem->try_acquire()) return false;
    start(std::forward<F>(f), std::move(sem));
    return true;
  }

  void set_limit(int n) {
    if (std::shared_ptr<semaphore>& cur = s_->sem; cur && s_->limit - cur->available() != 0)
      throw std::logic_error("goro::errgroup::set_limit: modify limit while " +
                             std::to_string(s_->limit - cur->available()) +
                             " coroutines in the group are still active");
    if (n < 0) {
      s_->sem.reset();
      s_->limit = 0;
      return;
    }
    s_->sem = std::make_shared<semaphore>(n);
    s_->limit = n;
  }

  void wait() {
    // Re-checked in a loop: a done() that brought the counter to zero before a later go() raised
    // it again may still be on its way to the wait_group's queue, and its wake-up would end a
    // wait() that began after that go(). The counter (acquire) is the truth: zero means every
    // coroutine's done() has happened, and with it everything the coroutine wrote.
    do s_->wg.wait();
    while (s_->wg.count() != 0);
    s_->cancel();
    std::exception_ptr e;
    std::error_code ec;
    {
      sched::spin_guard g(s_->mu);
      e = s_->exc;
      ec = s_->code;
    }
    if (e) std::rethrow_exception(e);
    if (ec) throw std::system_error(ec);
  }

 private:
  template <class F>
  static void check_fn() {
    using R = std::invoke_result_t<std::decay_t<F>&>;
    static_assert(std::is_void_v<R> || std::is_same_v<R, std::error_code>,
                  "goro::errgroup::go: the function must return void or std::error_code");
  }

  // Starts f holding one token of sem (null: no limit), which the coroutine gives back.
  template <class F>
  void start(F&& f, std::shared_ptr<semaphore> sem) {
    using fn_t = std::decay_t<F>;
    using R = std::invoke_result_t<fn_t&>;
    s_->wg.add(1);
    try {
      goro::go([s = s_, sem, fn = fn_t(std::forward<F>(f))]() mutable noexcept {
        try {
          if constexpr (std::is_void_v<R>) {
            fn();
          } else {
            if (std::error_code ec = fn()) s->fail(ec, nullptr);
          }
        } catch (const goexit_unwind&) {
          detail::goexit_caught();  // goro::goexit(): ends without failing the group, as in Go
        } catch (...) {
          s->fail({}, std::current_exception());
        }
        // Go's order: give the token back, then done(). s keeps the state alive through both.
        if (sem) sem->release();
        s->wg.done();
      });
    } catch (...) {  // the coroutine could not be started (no runtime, no memory)
      if (sem) sem->release();
      s_->wg.done();
      throw;
    }
  }

  struct state {
    wait_group wg;
    cancel_func cancel;
    std::shared_ptr<semaphore> sem;  // null: no limit
    std::ptrdiff_t limit = 0;        // sem's initial count

    // The first failure: an exception or a code (exactly one is set once failed).
    sched::spin_lock mu{sched::lock_rank::errgroup};
    bool failed GORO_GUARDED_BY(mu) = false;
    std::exception_ptr exc GORO_GUARDED_BY(mu);
    std::error_code code GORO_GUARDED_BY(mu);

    void fail(std::error_code c, std::exception_ptr x) noexcept {
      {
        sched::spin_guard g(mu);
        if (failed) return;  // later failures are dropped, as in Go
        failed = true;
        exc = std::move(x);
        code = c;
      }
      cancel();  // outside mu: runs the context's stop callbacks
    }
  };

  context ctx_;
  std::shared_ptr<state> s_;
};

}  // namespace goro
