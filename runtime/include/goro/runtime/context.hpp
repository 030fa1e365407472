// goro/runtime/context.hpp: Go's context package: cancellation and deadlines that flow down a
// tree of contexts, for coroutines and plain threads alike.
//
//   auto [ctx, cancel] = goro::with_timeout(goro::context::background(), 2s);
//   goro::go(worker, ctx);                       // contexts are cheap handles: copy them
//   ...
//   cancel();                                    // always call it (idempotent): stops the timer
//
//   void worker(goro::context ctx) {
//     for (;;) {
//       std::size_t i = goro::select(goro::on_recv(jobs, [&](std::optional<Job> j) { if (j) run(*j); }),
//                                    goro::on_recv(ctx.done()));
//       if (i == 1) return;                      // ctx.err(): canceled or deadline_exceeded
//     }
//   }
//
//   if (auto ec = goro::sleep_for(ctx, 100ms)) return ec;    // a sleep that cancellation ends
//   std::stop_callback cb(ctx.stop_token(), [&] { sock.abort(); });  // for code that blocks
//
// Semantics are Go's:
//   - background() (also context{}) is never cancelled and has no deadline; its done() is the
//     nil channel (a select case on it never fires).
//   - with_cancel(parent) makes a child; with_deadline/with_timeout make a child whose deadline
//     is the earlier of its own and its parent's. Each returns the child and its cancel_func.
//   - A context is done once: cancelled (its cancel_func, or an ancestor's), or its deadline
//     passed. From then on err() is goro::errc::canceled ("context canceled") or
//     goro::errc::deadline_exceeded ("context deadline exceeded"): the first cause wins and never
//     changes. Cancelling a parent cancels every descendant with the parent's err(); cancelling a
//     child never touches its parent. A child of a done parent is done at once, and so is a
//     context whose deadline has already passed.
//   - done() is closed when the context becomes done, after err() is set: a coroutine woken by
//     it always sees err() != {}. stop_token() is requested after done() is closed.
//   - When a cancel_func returns, its context is done and done() is closed. Its descendants are
//     done by then too, unless a concurrent cancel of the same context (another caller, or the
//     deadline) won the race and is still propagating; then they follow a moment later (Go's
//     behaviour as well). is_done() may turn true a moment before done() is closed.
//   - Call the cancel_func when the work is over, as in Go: it stops the deadline timer and
//     unregisters the child from its parent at once. (A child dropped without cancel is
//     unregistered when its last handle goes; an armed timer holds it until it fires.)
//
// Values and causes (Go 1.20/1.21):
//   - with_value(parent, key, value): a child carrying one key/value pair; ctx.value<T>(key) finds
//     the nearest ancestor-or-self pair whose key equals key (same type and ==, as Go's comparable
//     keys; a string literal key is a std::string) and returns a copy of its value if it is a T
//     (std::nullopt if no pair matches or the nearest match holds another type: Go's
//     `v, ok := ctx.Value(key).(T)`). Values flow to every descendant (cancel children too); a
//     value context shares its parent's cancellation.
//   - with_cancel_cause(parent): like with_cancel, but its cancel_cause_func takes the cause:
//     cancel(cause) makes err() canceled and cause(ctx) that cause (cancel() or cancel({}):
//     canceled). goro::cause(ctx): the cause of the nearest cancellable ancestor-or-self once it
//     is done ({} while live): the error its cancel was given, else its err(); a context cancelled
//     through its parent has the parent's cause. with_deadline_cause/with_timeout_cause: a
//     deadline whose passing sets that cause (err() stays deadline_exceeded).
//   - without_cancel(parent): never done, no deadline, cause {}; keeps parent's values.
//
// Everything here is callable concurrently from coroutines on any worker and from plain threads.
// Deadlines are timers on the scheduler's heaps (see time.hpp): they need a running runtime.
// with_deadline/with_timeout with a deadline still ahead (and before the parent's) throw
// std::logic_error outside goro::run. A timer still armed when goro::run returns is abandoned:
// that context then stays live past its deadline (do not carry contexts from one run into the
// next). Stop callbacks registered on stop_token() run on the thread that cancels (possibly a
// worker firing the deadline timer): keep them short and never block or park in them.
//
// Internals: docs/architecture.md, "Contexts" (state, lock order, propagation, the timer).
#pragma once

#include <goro/channels/chan.hpp>
#include <goro/runtime/error.hpp>
#include <goro/sched/config.hpp>
#include <goro/sched/sched.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>

namespace goro {

class context;
class cancel_func;
class cancel_cause_func;
std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent);

namespace detail {

inline constexpr std::int64_t no_deadline = std::numeric_limits<std::int64_t>::max();

// now_ns() + d, saturating at no_deadline - 1 (a far deadline such as hours::max() is "never",
// not a signed overflow); a negative d gives a time in the past.
template <class Rep, class Period>
std::int64_t deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  const std::int64_t now = sched::now_ns();
  const std::chrono::duration<long double, std::nano> dn(d);
  const long double room = static_cast<long double>(no_deadline - 1 - now);
  if (dn.count() >= room) return no_deadline - 1;
  if (dn.count() <= -static_cast<long double>(now)) return 0;
  return now + static_cast<std::int64_t>(dn.count());
}

// The shared state of one context made by with_cancel/with_deadline (background has none).
// Reference counted: one reference per context and cancel_func handle, one per child (a child
// holds its parent), one while the deadline timer is armed. A parent does not hold its children:
// it lists them (to cancel them), and a child leaving the list (cancelled, or freed) unlinks
// itself under the parent's lock. See context.cpp for the protocol.
//
// Lock order: a node's mu_ is never held together with another node's mu_ (registering with a
// parent and unlinking from it take only the parent's; cancelling takes each node's in turn).
// Under mu_ the node may take the heap's lock (arming its timer) and its done channel's lock
// (closing it): both are leaves.
class context_node final : public sched::timer {
 public:
  // A child of parent (nullptr: of background) with the given deadline (already the min of its
  // own and the parent's; no_deadline: none). One reference, the caller's. Not yet registered.
  context_node(context_node* parent, std::int64_t deadline);

  void ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  // Drops a reference; the last one frees the node, then drops its reference to the parent (a
  // loop, not a recursion: a long chain of contexts cannot overflow a coroutine stack).
  static void unref(context_node* n) noexcept;

  // 0 while live, else the goro::errc value. Acquire: pairs with the release store in cancel, so
  // whoever sees the error also sees everything the canceller wrote before cancelling.
  int err_value() const noexcept { return err_.load(std::memory_order_acquire); }
  std::int64_t deadline_ns() const noexcept { return deadline_; }
  recv_chan<std::monostate> done() const noexcept { return done_; }
  std::stop_token stop_token();

  // Registers with the parent, or, if the parent is already done, cancels this with the
  // parent's error. Called once, right after construction.
  void attach();
  // Arms the deadline timer unless the node is already done. Throws std::logic_error without a
  // running runtime (taking no reference: the caller's, dropped, frees and unregisters the node).
  void arm();
  // Cancels this node (if still live) and all its descendants with e; remove_from_parent
  // unregisters it from its parent (a cancel_func does; a parent's cancel has already).
  // cause: what goro::cause reports ({}: e); it flows to the descendants cancelled with it.
  void cancel(errc e, bool remove_from_parent, std::error_code cause = {}) noexcept;
  // {} while live; written once before the release store of err_, so an acquire load that sees
  // err_ != 0 may read it without the lock.
  std::error_code cause() const noexcept { return err_value() ? cause_ : std::error_code(); }
  void set_deadline_cause(std::error_code c) noexcept { deadline_cause_ = c; }  // before arm()

  std::size_t child_count() noexcept;

  void fire() noexcept override;     // the deadline: cancel with deadline_exceeded
  void abandon() noexcept override;  // the runtime stopped with the timer armed

 private:
  ~context_node() = default;
  bool try_ref() noexcept;
  // The critical section of a cancel: returns false if the node was already done. The children
  // that could be referenced are pushed on *work (through cancel_next_), each with a reference.
  bool cancel_one(errc e, std::error_code cause, context_node** work) noexcept;
  void unlink_from_parent() noexcept;

  std::atomic<int> refs_{1};
  std::atomic<int> err_{0};                // written under mu_, read anywhere
  context_node* const parent_;             // a reference held for the node's life
  const std::int64_t deadline_;            // no_deadline: none
  chan<std::monostate> done_{0};           // closed (under mu_) by the cancel that wins; the
                                           // handle itself never changes
  std::error_code cause_;                  // written under mu_ by the winning cancel, before err_
  std::error_code deadline_cause_;         // the cause fire() gives; fixed before the timer is armed

  sched::spin_lock mu_{sched::lock_rank::context};
  context_node* first_child_ GORO_GUARDED_BY(mu_) = nullptr;
  std::size_t nchildren_ GORO_GUARDED_BY(mu_) = 0;
  std::stop_source stop_ GORO_GUARDED_BY(mu_){std::nostopstate};  // made on first stop_token()

  // This node's membership in parent_'s child list: guarded by parent_->mu_.
  context_node* prev_sib_ = nullptr;
  context_node* next_sib_ = nullptr;
  bool linked_ = false;
  // Owned by the one canceller that took a reference to this node from its parent's list.
  context_node* cancel_next_ = nullptr;
};

// A counted reference to a node (nullptr: background).
class node_ref {
 public:
  node_ref() noexcept = default;
  explicit node_ref(context_node* n) noexcept : n_(n) {}  // adopts a reference
  node_ref(const node_ref& o) noexcept : n_(o.n_) {
    if (n_) n_->ref();
  }
  node_ref(node_ref&& o) noexcept : n_(std::exchange(o.n_, nullptr)) {}
  node_ref& operator=(node_ref o) noexcept {
    std::swap(n_, o.n_);
    return *this;
  }
  ~node_ref() {
    if (n_) context_node::unref(n_);
  }
  context_node* get() const noexcept { return n_; }

 private:
  context_node* n_ = nullptr;
};

// One key/value pair of a with_value context, in a chain towards the root (immutable, shared).
class value_node {
 public:
  explicit value_node(std::shared_ptr<const value_node> parent) noexcept : parent_(std::move(parent)) {}
  virtual ~value_node() = default;
  value_node(const value_node&) = delete;
  value_node& operator=(const value_node&) = delete;
  // The nearest pair (this one or an ancestor) whose key has type kt and equals *key.
  const value_node* find(const std::type_info& kt, const void* key) const noexcept {
    for (const value_node* v = this; v; v = v->parent_.get())
      if (v->key_type() == kt && v->key_equals(key)) return v;
    return nullptr;
  }
  virtual const std::type_info& key_type() const noexcept = 0;
  virtual bool key_equals(const void* key) const = 0;
  virtual const std::type_info& value_type() const noexcept = 0;
  virtual const void* value_ptr() const noexcept = 0;

 private:
  std::shared_ptr<const value_node> parent_;
};

template <class K, class V>
class value_node_of final : public value_node {
 public:
  value_node_of(std::shared_ptr<const value_node> parent, K k, V v)
      : value_node(std::move(parent)), key_(std::move(k)), value_(std::move(v)) {}
  const std::type_info& key_type() const noexcept override { return typeid(K); }
  bool key_equals(const void* key) const override { return static_cast<bool>(*static_cast<const K*>(key) == key_); }
  const std::type_info& value_type() const noexcept override { return typeid(V); }
  const void* value_ptr() const noexcept override { return &value_; }

 private:
  const K key_;
  const V value_;
};

// The stored type of a key: string literals, C strings and string_views compare by content.
template <class K>
using context_key_t = std::conditional_t<std::is_convertible_v<const std::decay_t<K>&, std::string_view> &&
                                             !std::is_same_v<std::decay_t<K>, std::string>,
                                         std::string, std::decay_t<K>>;

std::pair<context, cancel_func> make_child(const context& parent, std::int64_t deadline,
                                           std::error_code deadline_cause = {});
struct context_test_access;  // tests/hooks/context_hooks.hpp: a test-only view of a context
std::error_code sleep_until_ns(const context& ctx, std::int64_t when);

}  // namespace detail

// A context: a cheap copyable handle (one reference-counted pointer), Go's context.Context.
class context {
 public:
  context() noexcept = default;  // background()
  static context background() noexcept { return context(); }

  // Closed when the context becomes done. Background: the nil channel, never closed.
  recv_chan<std::monostate> done() const noexcept { return n_.get() ? n_.get()->done() : recv_chan<std::monostate>(); }
  // {} while live; then goro::errc::canceled or goro::errc::deadline_exceeded, fixed.
  std::error_code err() const noexcept {
    const int e = n_.get() ? n_.get()->err_value() : 0;
    return e ? make_error_code(static_cast<errc>(e)) : std::error_code();
  }
  // The earliest deadline of this context and its ancestors, if any.
  std::optional<std::chrono::steady_clock::time_point> deadline() const noexcept {
    if (!n_.get() || n_.get()->deadline_ns() == detail::no_deadline) return std::nullopt;
    return std::chrono::steady_clock::time_point(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::nanoseconds(n_.get()->deadline_ns())));
  }
  // err() != {}: one atomic load.
  bool is_done() const noexcept { return n_.get() && n_.get()->err_value() != 0; }
  // Requested when the context becomes done, after err() is set and done() closed (at once if it
  // already is). Background: a token whose stop is never possible.
  std::stop_token stop_token() const { return n_.get() ? n_.get()->stop_token() : std::stop_token(); }

  // The value of the nearest with_value pair whose key equals key (see the top of this file), if
  // that value is a T; std::nullopt otherwise. A copy: the context may be dropped meanwhile.
  template <class T, class K>
  std::optional<T> value(const K& key) const {
    static_assert(std::is_copy_constructible_v<T>, "goro::context::value<T>: T must be copyable");
    using key_t = detail::context_key_t<K>;
    const key_t k(key);
    const detail::value_node* v = v_ ? v_->find(typeid(key_t), &k) : nullptr;
    if (!v || v->value_type() != typeid(T)) return std::nullopt;
    return *static_cast<const T*>(v->value_ptr());
  }

 private:
  friend class cancel_func;
  friend class cancel_cause_func;
  friend std::pair<context, cancel_func> detail::make_child(const context&, std::int64_t, std::error_code);
  friend struct detail::context_test_access;
  friend std::error_code cause(const context&) noexcept;
  friend context without_cancel(const context&) noexcept;
  template <class K, class V>
  friend context with_value(const context&, K&&, V&&);
  context(detail::node_ref n, std::shared_ptr<const detail::value_node> v) noexcept
      : n_(std::move(n)), v_(std::move(v)) {}
  detail::node_ref n_;                           // the nearest cancellable context; null: never done
  std::shared_ptr<const detail::value_node> v_;  // the nearest with_value pair; null: none
};

// Cancels its context (and all the context's descendants) with goro::errc::canceled, stops its
// deadline timer and unregisters it from its parent. Idempotent; callable from any coroutine or
// thread; copies cancel the same context. A default-constructed one does nothing.
class cancel_func {
 public:
  cancel_func() noexcept = default;
  void operator()() const noexcept {
    if (n_.get()) n_.get()->cancel(errc::canceled, true);
  }

 private:
  friend std::pair<context, cancel_func> detail::make_child(const context&, std::int64_t, std::error_code);
  friend std::pair<context, cancel_cause_func> with_cancel_cause(const context&);
  explicit cancel_func(detail::node_ref n) noexcept : n_(std::move(n)) {}
  detail::node_ref n_;
};

// with_cancel_cause's cancel (Go's CancelCauseFunc): cancel(cause) cancels as cancel_func does
// and records cause for goro::cause (a {} cause records canceled). The first cancel wins: later
// causes are dropped, as in Go.
class cancel_cause_func {
 public:
  cancel_cause_func() noexcept = default;
  void operator()(std::error_code cause = {}) const noexcept {
    if (n_.get()) n_.get()->cancel(errc::canceled, true, cause);
  }

 private:
  friend std::pair<context, cancel_cause_func> with_cancel_cause(const context&);
  explicit cancel_cause_func(detail::node_ref n) noexcept : n_(std::move(n)) {}
  detail::node_ref n_;
};

// A child that is done when cancel is called or when parent is done.
inline std::pair<context, cancel_func> with_cancel(const context& parent) {
  return detail::make_child(parent, detail::no_deadline);
}

// A child that is also done (deadline_exceeded) at d; its deadline() is min(d, parent's). If d is
// not before the parent's deadline it is with_cancel(parent) (the parent's deadline comes first).
// d already past: done at once. A timer is needed otherwise, hence a running runtime
// (std::logic_error outside goro::run).
inline std::pair<context, cancel_func> with_deadline(const context& parent, std::chrono::steady_clock::time_point d) {
  return detail::make_child(parent, std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count());
}

// with_deadline(parent, now + d).
template <class Rep, class Period>
std::pair<context, cancel_func> with_timeout(const context& parent, std::chrono::duration<Rep, Period> d) {
  return detail::make_child(parent, detail::deadline_after(d));
}

// with_deadline/with_timeout whose deadline, when it passes, makes cause(ctx) `cause` (err() is
// deadline_exceeded all the same). Go's WithDeadlineCause/WithTimeoutCause. A deadline not before
// the parent's makes a with_cancel child, as with_deadline does (the parent's cause applies).
inline std::pair<context, cancel_func> with_deadline_cause(const context& parent,
                                                           std::chrono::steady_clock::time_point d,
                                                           std::error_code cause) {
  return detail::make_child(parent, std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count(),
                            cause);
}
template <class Rep, class Period>
std::pair<context, cancel_func> with_timeout_cause(const context& parent, std::chrono::duration<Rep, Period> d,
                                                   std::error_code cause) {
  return detail::make_child(parent, detail::deadline_after(d), cause);
}

// A child cancelled by a cancel_cause_func that takes the cause (Go's WithCancelCause).
std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent);

// Go's context.Cause: {} while ctx is live (and always for background and without_cancel
// contexts); once done, the cause its cancellation recorded (see the top of this file).
inline std::error_code cause(const context& ctx) noexcept {
  return ctx.n_.get() ? ctx.n_.get()->cause() : std::error_code();
}

// A context that is never done and has no deadline, but keeps parent's values (Go's
// WithoutCancel): for work that must finish even when the request that started it is cancelled.
inline context without_cancel(const context& parent) noexcept { return context(detail::node_ref(), parent.v_); }

// A child of parent carrying key -> value (Go's WithValue): see the top of this file. Key: any
// copyable type with ==; a string literal, C string or std::string_view is stored as a
// std::string. Value: any copy-constructible type (stored decayed; value<T> asks for that type).
template <class K, class V>
context with_value(const context& parent, K&& key, V&& value) {
  using key_t = detail::context_key_t<K>;
  using val_t = std::decay_t<V>;
  static_assert(std::is_copy_constructible_v<key_t>, "goro::with_value: the key must be copyable");
  static_assert(requires(const key_t& a, const key_t& b) { static_cast<bool>(a == b); },
                "goro::with_value: the key must be equality-comparable (==)");
  static_assert(std::is_copy_constructible_v<val_t>, "goro::with_value: the value must be copyable");
  return context(parent.n_, std::make_shared<const detail::value_node_of<key_t, val_t>>(
                                parent.v_, key_t(std::forward<K>(key)), val_t(std::forward<V>(value))));
}

// Sleeps until t, or until ctx is done: returns {} after the full sleep, ctx.err() as soon as ctx
// is done (at once if it already is). Parks a coroutine; on a plain thread, blocks the thread.
// A time already past returns {} at once (after a yield), unless ctx is done.
inline std::error_code sleep_until(const context& ctx, std::chrono::steady_clock::time_point t) {
  return detail::sleep_until_ns(ctx, std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}
template <class Rep, class Period>
std::error_code sleep_for(const context& ctx, std::chrono::duration<Rep, Period> d) {
  return detail::sleep_until_ns(ctx, detail::deadline_after(d));
}

}  // namespace goro
