// goro/runtime/run.hpp: starting the runtime.
#pragma once

#include <goro/runtime/goexit.hpp>
#include <goro/sched/sched.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace goro {

struct options {
  unsigned workers = 0;        // worker threads; 0: $GOMAXPROCS, else one per hardware thread
  std::size_t stack_size = 0;  // default coroutine stack size; 0: goro::sched::default_stack_size
};

namespace detail {
// The main coroutine's task: runs main, keeps its exit code or exception for run() to return.
template <class F>
struct main_task final : sched::task {
  F fn;
  int code = 0;
  std::exception_ptr error;
  template <class G>
  explicit main_task(G&& g) : fn(std::forward<G>(g)) {}  // main given as an lvalue is copied
  void run() override {
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        std::invoke(fn);
      } else {
        code = static_cast<int>(std::invoke(fn));
      }
    } catch (const goexit_unwind&) {
      detail::goexit_caught();  // goexit() in main: main ends as if it returned 0
      code = 0;
      return;
    } catch (...) {
      detail::goexit_check();
      throw;
    }
    detail::goexit_check();
  }
  void fail(std::exception_ptr e) noexcept override { error = e; }
  void release() noexcept override {}
};
}  // namespace detail

// Runs `main` as the main coroutine on a fresh runtime and returns its exit code (0 for a void
// main) once it has returned; the workers are then stopped. As in Go, coroutines still running or
// parked when main returns are abandoned. An exception escaping main is rethrown here, after the
// workers have stopped. The calling thread serves as worker 0 until main returns.
template <class F>
int run(const options& opts, F&& main) {
  detail::main_task<std::decay_t<F>> t(std::forward<F>(main));
  sched::run(sched::config{opts.workers, opts.stack_size}, &t);
  if (t.error) std::rethrow_exception(t.error);
  return t.code;
}

template <class F>
int run(F&& main) {
  return run(options{}, std::forward<F>(main));
}

// The number of worker threads of the running runtime (Go's runtime.GOMAXPROCS(0)): what
// options::workers, $GOMAXPROCS or the core count made it. 0 when no runtime runs.
inline unsigned workers() noexcept { return sched::workers(); }

}  // namespace goro
