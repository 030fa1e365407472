// goro/channels/select.hpp: goro::select, Go's select statement.
//
//   std::size_t i = goro::select(
//       goro::on_recv(quotes, [&](std::optional<Quote> q) { ... }),  // q empty: quotes closed
//       goro::on_send(orders, order, [&] { ... }),                  // after the send happened
//       goro::on_recv(stop),                                          // no handler needed
//       goro::on_default([&] { ... }));                               // optional: never park
//
// Runs exactly one case and returns its index (argument order), after running its handler.
// Go's rules: if several cases are ready, one is chosen uniformly at random; if none is and there
// is a default, the default runs; otherwise the select parks until one case can proceed, and the
// first to fire wins (the others' registrations are withdrawn before select returns). A case on
// a nil channel never fires. A receive on a closed channel fires with an empty optional; a send
// on a closed channel throws goro::closed_channel_error from select. With no cases at all (and
// no default) it blocks forever, as `select {}` does.
//
// Handlers run after every channel lock is released, on the selecting coroutine; an exception in
// a handler propagates out of select. The value of an on_send case is moved into the channel
// only if that case fires.
//
// The protocol (docs/architecture.md, "select"): lock the cases' channels in address order, try
// the cases in a random order, else queue one node per case (all sharing one waiter and one
// select_sync), unlock, park; the waker that claims the select (CAS) fires that case; on wake,
// relock and unlink the other nodes.
#pragma once

#include <goro/channels/chan.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

namespace goro {

namespace detail {

struct no_handler {};

// One send or receive case, type-erased for the select engine (channels/src/chan.cpp).
class select_case {
 public:
  chan_core* core = nullptr;  // nullptr: a nil channel (never fires)
  wait_node node;
  bool is_send = false;
  op_status status = op_status::would_block;  // how the case fired (done or closed)

  // Under core->mu: performs the operation if it can proceed now.
  virtual op_status try_locked(wait_node*& wake) = 0;
  // After select chose this case and released every lock: runs the handler (or throws).
  virtual void fire() = 0;

 protected:
  ~select_case() = default;
};

// Returns the index (into cases) of the case that fired, or n if the default should run.
// scratch must hold 2 * n entries.
std::size_t select_run(select_case** cases, std::size_t n, bool has_default, void** scratch);

template <class T, class F>
class recv_case final : public select_case {
 public:
  recv_case(chan_state<T>* st, F f) : f_(std::move(f)) {
    core = st;
    node.elem = &result_;
  }
  // Never copied or moved: node.elem points into the object. on_recv returns it as a prvalue
  // (guaranteed elision) and select takes it by reference.
  recv_case(const recv_case&) = delete;

  op_status try_locked(wait_node*& wake) override GORO_NO_THREAD_SAFETY_ANALYSIS {
    return static_cast<chan_state<T>*>(core)->recv_locked(result_, wake);
  }
  void fire() override {
    if constexpr (std::is_invocable_v<F&, std::optional<T>>)
      f_(std::move(result_));
    else if constexpr (std::is_invocable_v<F&>)
      f_();
    else
      static_assert(std::is_same_v<F, no_handler>,
                    "goro::on_recv: the handler must take std::optional<T>, or nothing");
  }

 private:
  std::optional<T> result_;
  F f_;
};

template <class T, class F>
class send_case final : public select_case {
 public:
  send_case(chan_state<T>* st, T v, F f) : value_(std::move(v)), f_(std::move(f)) {
    core = st;
    is_send = true;
    node.elem = &value_;
  }
  send_case(const send_case&) = delete;  // as recv_case: never moved

  op_status try_locked(wait_node*& wake) override GORO_NO_THREAD_SAFETY_ANALYSIS {
    return static_cast<chan_state<T>*>(core)->send_locked(value_, wake);
  }
  void fire() override {
    if (status == op_status::closed) throw_send_on_closed();
    if constexpr (std::is_invocable_v<F&>)
      f_();
    else
      static_assert(std::is_same_v<F, no_handler>, "goro::on_send: the handler must take nothing");
  }

 private:
  T value_;
  F f_;
};

template <class F>
class default_case {
 public:
  explicit default_case(F f) : f_(std::move(f)) {}
  void fire() {
    if constexpr (std::is_invocable_v<F&>)
      f_();
    else
      static_assert(std::is_same_v<F, no_handler>, "goro::on_default: the handler must take nothing");
  }

 private:
  F f_;
};

template <class C>
inline constexpr bool is_default_case = false;
template <class F>
inline constexpr bool is_default_case<default_case<F>> = true;

template <class T>
struct recv_side;
template <class T>
struct recv_side<chan<T>> {
  using type = T;
};
template <class T>
struct recv_side<recv_chan<T>> {
  using type = T;
};
template <class T>
struct send_side;
template <class T>
struct send_side<chan<T>> {
  using type = T;
};
template <class T>
struct send_side<send_chan<T>> {
  using type = T;
};
template <class Ch>
inline constexpr bool can_recv = requires { typename recv_side<Ch>::type; };
template <class Ch>
inline constexpr bool can_send = requires { typename send_side<Ch>::type; };

}  // namespace detail

// A receive case: fires with the value, or with an empty optional once the channel is closed.
template <class Ch, class F = detail::no_handler>
auto on_recv(const Ch& ch, F f = {}) {
  static_assert(detail::can_recv<Ch>,
                "goro::on_recv: a receive case needs a goro::chan<T> or a goro::recv_chan<T> "
                "(a send_chan<T> cannot receive)");
  using T = typename detail::recv_side<Ch>::type;
  return detail::recv_case<T, F>(detail::chan_access::state(ch), std::move(f));
}

// A send case: v is moved into the channel only if this case fires; then f() runs.
template <class Ch, class V, class F = detail::no_handler>
auto on_send(const Ch& ch, V&& v, F f = {}) {
  static_assert(detail::can_send<Ch>,
                "goro::on_send: a send case needs a goro::chan<T> or a goro::send_chan<T> "
                "(a recv_chan<T> cannot send)");
  using T = typename detail::send_side<Ch>::type;
  return detail::send_case<T, F>(detail::chan_access::state(ch), T(std::forward<V>(v)),
                                 std::move(f));
}

// The default case: runs when no other case is ready.
template <class F = detail::no_handler>
auto on_default(F f = {}) {
  return detail::default_case<F>(std::move(f));
}

namespace detail {
template <class... Cases>
void run_default_case(Cases&... cases) {
  auto run = [](auto& c) {
    if constexpr (is_default_case<std::decay_t<decltype(c)>>) c.fire();
  };
  (run(cases), ...);
  (void)run;  // an empty pack (select() with no cases) never calls it
}
}  // namespace detail

template <class... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t ndefault = (std::size_t{detail::is_default_case<std::decay_t<Cases>>} + ... + 0);
  static_assert(ndefault <= 1, "goro::select: at most one on_default case");
  constexpr std::size_t n = sizeof...(Cases) - ndefault;

  std::size_t default_index = 0, pos = 0;
  if constexpr (n == 0) {
    // Only a default (it runs), or nothing at all (Go's select {}: blocks forever).
    if constexpr (ndefault == 0) detail::block_forever();
    detail::run_default_case(cases...);
    return 0;
  } else {
    std::array<detail::select_case*, n> cs{};
    std::array<std::size_t, n> arg_index{};  // case -> its position among the arguments
    std::size_t k = 0;
    auto collect = [&](auto& c) {
      if constexpr (detail::is_default_case<std::decay_t<decltype(c)>>) {
        default_index = pos;
      } else {
        cs[k] = &c;
        arg_index[k] = pos;
        ++k;
      }
      ++pos;
    };
    (collect(cases), ...);

    std::array<void*, 2 * n> scratch;
    std::size_t fired = detail::select_run(cs.data(), n, ndefault != 0, scratch.data());
    if (fired == n) {
      detail::run_default_case(cases...);
      return default_index;
    }
    cs[fired]->fire();
    return arg_index[fired];
  }
}

}  // namespace goro
