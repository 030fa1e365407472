// goro/channels/chan.hpp: goro::chan<T>, Go's typed channels, and the direction views
// send_chan<T> / recv_chan<T>.
//
//   goro::chan<int> c;          // unbuffered (make(chan int)); goro::chan<int> c(0) is the same
//   goro::chan<int> b(64);      // buffered, capacity 64
//   goro::chan<int> n = nullptr;  // nil: send and recv block forever; a select case never fires
//   c.send(1);                  // parks until a receiver has taken it (buffered: until space)
//   std::optional<int> v = c.recv();   // empty once closed and drained
//   for (int x : b) ...         // until closed and drained
//   c.close();
//
// Semantics are Go's (the spec's "Channel types", "Send statements", "Receive operator", "Close"):
//   - A handle is cheap to copy; copies refer to the same channel (== compares identity).
//   - Send on a closed channel throws goro::closed_channel_error ("send on closed channel"), also
//     when the channel is closed while the sender waits. Closing twice throws it too ("close of
//     closed channel"); closing a nil channel throws goro::channel_error ("close of nil channel").
//   - Values buffered before close are still received; then recv() returns empty at once.
//   - A receiver that is already waiting gets the value handed over directly, never through the
//     buffer; waiting senders and receivers are served first-in, first-out.
//   - Plain threads may use channels while a runtime runs: they block where coroutines park.
//   - T must be nothrow move constructible. send(const T&) copies before taking the lock.
//
// Internals: detail/chan_state.hpp (invariants, lock, hand-over) and docs/architecture.md.
#pragma once

#include <goro/channels/detail/chan_state.hpp>

#include <concepts>
#include <cstddef>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace goro {

// A misuse of a channel (Go panics on these).
class channel_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
// Send on, or close of, a closed channel.
class closed_channel_error : public channel_error {
 public:
  using channel_error::channel_error;
};

template <class T>
class chan;
template <class T>
class send_chan;
template <class T>
class recv_chan;

namespace detail {

// Input iterator for range-for: each ++ is a recv(); the end is "closed and drained".
template <class T>
class chan_iterator {
 public:
  using value_type = T;
  using difference_type = std::ptrdiff_t;

  chan_iterator() = default;
  explicit chan_iterator(chan_state<T>* st) : st_(st) { next(); }

  T& operator*() noexcept { return *cur_; }
  T* operator->() noexcept { return &*cur_; }
  chan_iterator& operator++() {
    next();
    return *this;
  }
  void operator++(int) { next(); }
  friend bool operator==(const chan_iterator& it, std::default_sentinel_t) noexcept {
    return !it.cur_.has_value();
  }

 private:
  void next() {
    cur_.reset();
    if (st_)
      cur_ = st_->recv();
    else
      block_forever();
  }
  chan_state<T>* st_ = nullptr;
  std::optional<T> cur_;
};

}  // namespace detail

template <class T>
class chan {
 public:
  using value_type = T;

  // An unbuffered channel.
  chan() : st_(new detail::chan_state<T>(0)) {}
  // A channel with a buffer of `capacity` values (0: unbuffered). A negative capacity throws
  // std::invalid_argument (Go: "makechan: size out of range"). A template so that chan<T>(0)
  // means capacity 0, not the nil channel.
  template <std::integral I>
  explicit chan(I capacity) : st_(new detail::chan_state<T>(checked_capacity(capacity))) {}
  // The nil channel.
  chan(std::nullptr_t) noexcept : st_(nullptr) {}

  chan(const chan& o) noexcept : st_(o.st_) {
    if (st_) st_->ref();
  }
  chan(chan&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
  chan& operator=(const chan& o) noexcept {
    chan(o).swap(*this);
    return *this;
  }
  chan& operator=(chan&& o) noexcept {
    chan(std::move(o)).swap(*this);
    return *this;
  }
  chan& operator=(std::nullptr_t) noexcept {
    chan(nullptr).swap(*this);
    return *this;
  }
  ~chan() {
    if (st_) st_->unref();
  }
  void swap(chan& o) noexcept { std::swap(st_, o.st_); }

  // Parks until the value is delivered (unbuffered: taken by a receiver) or buffered.
  void send(const T& v) {
    T copy(v);
    send(std::move(copy));
  }
  void send(T&& v) {
    if (!st_) detail::block_forever();
    st_->send(v);
  }

  // The next value; empty once the channel is closed and drained.
  std::optional<T> recv() {
    if (!st_) detail::block_forever();
    return st_->recv();
  }

  // Never park. try_send returns false (and leaves v untouched) if the send would block;
  // it throws on a closed channel, as a send in a select with a default does in Go.
  bool try_send(T&& v) { return st_ ? st_->try_send(v) : false; }
  bool try_send(const T& v) {
    if (!st_) return false;
    T copy(v);
    return st_->try_send(copy);
  }
  // A value if one is available now; empty otherwise (nothing ready, or closed and drained:
  // closed() tells which).
  std::optional<T> try_recv() { return st_ ? st_->try_recv() : std::nullopt; }

  void close() {
    if (!st_) detail::throw_close_of_nil();
    st_->close();
  }

  // Snapshots (other parties may change them at once): values in the buffer, its capacity,
  // whether close() has been called.
  std::size_t size() const { return st_ ? st_->size() : 0; }
  std::size_t capacity() const noexcept { return st_ ? st_->cap : 0; }
  bool closed() const { return st_ && st_->is_closed(); }

  // Diagnostics: parties (and select registrations) queued on the channel right now.
  std::size_t waiting_senders() const { return st_ ? st_->waiting_senders() : 0; }
  std::size_t waiting_receivers() const { return st_ ? st_->waiting_receivers() : 0; }

  // Range-for: receives until the channel is closed and drained.
  detail::chan_iterator<T> begin() { return detail::chan_iterator<T>(st_); }
  std::default_sentinel_t end() const noexcept { return {}; }

  explicit operator bool() const noexcept { return st_ != nullptr; }
  friend bool operator==(const chan& a, const chan& b) noexcept { return a.st_ == b.st_; }
  friend bool operator==(const chan& a, std::nullptr_t) noexcept { return a.st_ == nullptr; }

 private:
  template <class I>
  static std::size_t checked_capacity(I capacity) {
    if constexpr (std::is_signed_v<I>)
      if (capacity < 0) throw std::invalid_argument("goro::chan: negative capacity");
    return static_cast<std::size_t>(capacity);
  }

  friend struct detail::chan_access;
  detail::chan_state<T>* st_;
};

// A channel seen from the sending side: send, try_send, close. Converts from chan<T>.
template <class T>
class send_chan : private chan<T> {
 public:
  using value_type = T;
  send_chan() noexcept : chan<T>(nullptr) {}
  send_chan(std::nullptr_t) noexcept : chan<T>(nullptr) {}
  send_chan(const chan<T>& c) noexcept : chan<T>(c) {}
  send_chan(chan<T>&& c) noexcept : chan<T>(std::move(c)) {}

  using chan<T>::send;
  using chan<T>::try_send;
  using chan<T>::close;
  using chan<T>::size;
  using chan<T>::capacity;
  using chan<T>::closed;
  using chan<T>::operator bool;
  friend bool operator==(const send_chan& a, const send_chan& b) noexcept {
    return static_cast<const chan<T>&>(a) == static_cast<const chan<T>&>(b);
  }

 private:
  friend struct detail::chan_access;
};

// A channel seen from the receiving side: recv, try_recv, range-for. Converts from chan<T>.
template <class T>
class recv_chan : private chan<T> {
 public:
  using value_type = T;
  recv_chan() noexcept : chan<T>(nullptr) {}
  recv_chan(std::nullptr_t) noexcept : chan<T>(nullptr) {}
  recv_chan(const chan<T>& c) noexcept : chan<T>(c) {}
  recv_chan(chan<T>&& c) noexcept : chan<T>(std::move(c)) {}

  using chan<T>::recv;
  using chan<T>::try_recv;
  using chan<T>::begin;
  using chan<T>::end;
  using chan<T>::size;
  using chan<T>::capacity;
  using chan<T>::closed;
  using chan<T>::operator bool;
  friend bool operator==(const recv_chan& a, const recv_chan& b) noexcept {
    return static_cast<const chan<T>&>(a) == static_cast<const chan<T>&>(b);
  }

 private:
  friend struct detail::chan_access;
};

}  // namespace goro
