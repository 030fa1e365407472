// goro/runtime/goexit.hpp: Go's runtime.Goexit: end the calling coroutine after its destructors
// have run, without a panic.
//
//   goro::go([] {
//     std::lock_guard g(mu);             // released on the way out, as Go's deferred calls run
//     if (done()) goro::goexit();        // the coroutine ends here
//     ...
//   });
//
// Semantics:
//   - goexit() throws goro::goexit_unwind, which the coroutine's entry (go, spawn, errgroup,
//     task_set, the main coroutine) catches: every destructor between the call and the entry runs,
//     as Go runs the deferred calls, and the coroutine ends quietly. It is not a panic, and
//     goexit_unwind does not derive from std::exception, so `catch (const std::exception&)` does
//     not take it.
//   - The rule for catch (...): like glibc's thread-cancellation unwinding, a catch (...) that the
//     unwinding reaches must rethrow it (`throw;`). One that swallows it lets the coroutine go on,
//     and goro reports that as a fatal error when the coroutine ends ("goro: goexit was swallowed
//     ..."), never silently. (Library code that stores exceptions to rethrow them elsewhere, as
//     future_cache does, is such a catch: do not call goexit under it.)
//   - spawn(f): get() throws goro::goexit_error (a std::runtime_error) for a coroutine that
//     called goexit; nobody calling get() is not a panic. errgroup: a coroutine that calls goexit
//     ends without failing the group (Go's deferred Done). task_set: next() throws goexit_error
//     for that task.
//   - In the main coroutine: main ends as if it had returned 0, and goro::run returns 0 (Go would
//     let the other goroutines run on and then report a deadlock; goro::run never outlives main).
//   - On a plain thread (not a coroutine): std::logic_error.
#pragma once

#include <goro/sched/sched.hpp>

#include <atomic>
#include <stdexcept>

namespace goro {

[[noreturn]] void goexit();

// What goexit() throws; only goro's coroutine entries catch it (see above).
class goexit_unwind {
 private:
  goexit_unwind() noexcept = default;
  friend void goexit();
};

// What join_handle::get() and task_set::next() throw for a coroutine that called goexit().
class goexit_error : public std::runtime_error {
 public:
  goexit_error() : std::runtime_error("goro: the coroutine called goexit") {}
};

namespace detail {
// Coroutines between a goexit() and their entry's catch (a registry in goexit.cpp).
extern std::atomic<int> goexits_pending;
// The entry caught goexit_unwind: the calling coroutine is out of the registry.
void goexit_caught() noexcept;
// The calling coroutine's entry ends without having caught its goexit_unwind: fatal.
void goexit_check_slow() noexcept;
// Called by every coroutine entry when its body ends otherwise (returned or threw): one relaxed
// load on the path that matters (nobody called goexit: zero). Relaxed: the only registration that
// matters is the calling coroutine's own, sequenced before this load.
inline void goexit_check() noexcept {
  if (goexits_pending.load(std::memory_order_relaxed) != 0) goexit_check_slow();
}
}  // namespace detail

}  // namespace goro
