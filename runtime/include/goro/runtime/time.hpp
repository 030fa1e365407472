// goro/runtime/time.hpp: Go's time package for coroutines: sleep_for/sleep_until, after (a
// select timeout), ticker and timer.
//
//   goro::sleep_for(10ms);                       // parks the coroutine, not the worker
//   goro::select(goro::on_recv(results, ...),
//                goro::on_recv(goro::after(1s), [&](auto) { timed_out = true; }));
//   goro::ticker t(100ms);                       // for (auto tick : t.c()) ... until t.stop()
//   goro::timer tm(5s); tm.reset(1s); tm.stop();
//
// Deadlines are on std::chrono::steady_clock. A timer never fires early; how late it fires
// depends on load (bench/RESULTS.md has measured lateness). Timers live in per-worker heaps
// (sched/src/timer.cpp): arming and stopping are O(log n). Off the workers (a plain thread),
// sleep_for sleeps the thread; after, ticker and timer need a running runtime.
#pragma once

#include <goro/channels/chan.hpp>
#include <goro/sched/sched.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace goro {

namespace detail {
using steady = std::chrono::steady_clock;

inline std::int64_t to_ns(steady::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
template <class Rep, class Period>
std::int64_t to_ns(std::chrono::duration<Rep, Period> d) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}
inline steady::time_point from_ns(std::int64_t ns) noexcept {
  return steady::time_point(std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}
void sleep_until_ns(std::int64_t when);
recv_chan<steady::time_point> after_ns(std::int64_t delay);
}  // namespace detail

// Parks the calling coroutine until the time has come (a plain thread sleeps).
inline void sleep_until(std::chrono::steady_clock::time_point t) { detail::sleep_until_ns(detail::to_ns(t)); }
template <class Rep, class Period>
void sleep_for(std::chrono::duration<Rep, Period> d) {
  detail::sleep_until_ns(sched::now_ns() + detail::to_ns(d));
}

// A channel that receives the current time once, after d (Go's time.After). Nothing needs to
// receive it: the buffered value is dropped with the last handle.
template <class Rep, class Period>
recv_chan<std::chrono::steady_clock::time_point> after(std::chrono::duration<Rep, Period> d) {
  return detail::after_ns(detail::to_ns(d));
}

namespace detail {
// What ticker and timer share with the scheduler's heap: the channel, the period, and a
// reference count (the handle's, plus one while armed) so that a fire() running on another
// worker never outlives the object.
class time_source final : public sched::timer {
 public:
  time_source(std::int64_t period) : period_(period) {}
  void fire() noexcept override;
  void abandon() noexcept override { unref(); }

  void start(std::int64_t when);       // arms it (the caller holds a reference)
  // Both return whether a delivery was pending (armed, or firing but not yet sent: such a
  // firing is suppressed). After stop() returns, nothing more is sent.
  bool stop();
  bool reset(std::int64_t when, std::int64_t period);
  void unref() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  chan<steady::time_point> ch{1};

 private:
  ~time_source() = default;
  void arm(std::int64_t when) GORO_REQUIRES(mu_);

  // Lock order: mu_, then the heap's lock (inside add_timer/cancel_timer) or the channel's lock
  // (fire() sends under mu_, so that stop() and reset() exclude a send in progress). fire() takes
  // mu_ only after the heap has let go of the timer, so the order holds there too.
  sched::spin_lock mu_{sched::lock_rank::time_source};
  std::int64_t period_ GORO_GUARDED_BY(mu_);  // 0: one-shot
  bool stopped_ GORO_GUARDED_BY(mu_) = false;
  bool pending_ GORO_GUARDED_BY(mu_) = false;  // armed and not yet delivered (one-shot)
  std::atomic<int> refs_{1};
};
// Arms a new source, or frees it and rethrows (no runtime): a constructor that throws runs no
// destructor, so the handle's reference would leak.
void start_or_free(time_source* s, std::int64_t when);
}  // namespace detail

// Delivers the time on c() every period (Go's time.Ticker). A slow reader misses ticks rather
// than queueing them: the channel holds one, and the next tick is due a period after the one
// that fired, skipping any the reader was too slow for. stop() ends the ticks (a tick already in
// the channel stays there); reset(d) changes the period and restarts the count from now.
class ticker {
 public:
  template <class Rep, class Period>
  explicit ticker(std::chrono::duration<Rep, Period> period)
      : s_(new detail::time_source(checked(detail::to_ns(period)))) {
    detail::start_or_free(s_, sched::now_ns() + detail::to_ns(period));
  }
  ticker(const ticker&) = delete;
  ticker& operator=(const ticker&) = delete;
  ~ticker() {
    s_->stop();
    s_->unref();
  }

  recv_chan<std::chrono::steady_clock::time_point> c() const { return s_->ch; }
  void stop() { s_->stop(); }
  template <class Rep, class Period>
  void reset(std::chrono::duration<Rep, Period> period) {
    std::int64_t p = checked(detail::to_ns(period));
    s_->reset(sched::now_ns() + p, p);
  }

 private:
  static std::int64_t checked(std::int64_t p);
  detail::time_source* s_;
};

// Delivers the time on c() once, after d (Go's time.Timer). stop() prevents the delivery if it
// has not happened (true) or reports that it had (false); reset(d) re-arms it for now + d and
// says whether it was still armed. As in Go, a value already delivered stays in the channel.
class timer {
 public:
  template <class Rep, class Period>
  explicit timer(std::chrono::duration<Rep, Period> d) : s_(new detail::time_source(0)) {
    detail::start_or_free(s_, sched::now_ns() + detail::to_ns(d));
  }
  timer(const timer&) = delete;
  timer& operator=(const timer&) = delete;
  ~timer() {
    s_->stop();
    s_->unref();
  }

  recv_chan<std::chrono::steady_clock::time_point> c() const { return s_->ch; }
  bool stop() { return s_->stop(); }
  template <class Rep, class Period>
  bool reset(std::chrono::duration<Rep, Period> d) {
    return s_->reset(sched::now_ns() + detail::to_ns(d), 0);
  }

 private:
  detail::time_source* s_;
};

}  // namespace goro
