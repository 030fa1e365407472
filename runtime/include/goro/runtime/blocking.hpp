// goro/runtime/blocking.hpp: goro::blocking(fn, args...), for calls that have no asynchronous
// form (DNS lookup, a C library that reads files, a long computation in foreign code).
//
//   auto addr = goro::blocking([host] { return resolve(host); });   // parks this coroutine only
//
// The call runs on a small thread pool shared by the process (threads made on demand, at most
// 64, each retiring after 30 s idle); the calling coroutine parks until it returns, so its worker
// keeps running other coroutines meanwhile. The result is returned, an exception rethrown. On a
// plain thread (not a coroutine) fn simply runs there. Arguments are passed by reference: the
// caller is parked, so they stay alive for the call.
#pragma once

#include <goro/sched/sched.hpp>

#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {
// One call waiting for, or running on, the pool. run() must not throw.
struct blocking_job {
  virtual void run() noexcept = 0;
  blocking_job* next = nullptr;

 protected:
  ~blocking_job() = default;
};
// Queues j on the pool (starting a thread if none is idle and fewer than the limit run).
void submit_blocking(blocking_job* j);
}  // namespace detail

template <class F, class... Args>
std::invoke_result_t<F&&, Args&&...> blocking(F&& f, Args&&... args) {
  using R = std::invoke_result_t<F&&, Args&&...>;
  if (!sched::in_coroutine()) return std::invoke(std::forward<F>(f), std::forward<Args>(args)...);

  struct job final : detail::blocking_job {
    job(F&& fn, Args&&... a) : f(std::forward<F>(fn)), args(std::forward<Args>(a)...) {}
    F&& f;
    std::tuple<Args&&...> args;
    // What the call returned: a reference result is held as a reference_wrapper.
    std::optional<std::conditional_t<
        std::is_void_v<R>, char,
        std::conditional_t<std::is_reference_v<R>,
                           std::reference_wrapper<std::remove_reference_t<R>>, R>>>
        result;
    std::exception_ptr error;
    sched::waiter w;  // made here, on the calling coroutine
    void run() noexcept override {
      try {
        if constexpr (std::is_void_v<R>)
          std::apply(std::forward<F>(f), std::move(args));
        else
          result.emplace(std::apply(std::forward<F>(f), std::move(args)));
      } catch (...) {
        error = std::current_exception();
      }
      w.wake();  // last touch: the caller may return (and free this job) at once
    }
  } j(std::forward<F>(f), std::forward<Args>(args)...);
  detail::submit_blocking(&j);
  j.w.wait("goro::blocking");
  if (j.error) std::rethrow_exception(j.error);
  if constexpr (std::is_reference_v<R>)
    return static_cast<R>(j.result->get());
  else if constexpr (!std::is_void_v<R>)
    return std::move(*j.result);
}

}  // namespace goro
