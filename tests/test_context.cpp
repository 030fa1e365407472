// Go's context and errgroup for coroutines: cancellation trees, deadlines on the scheduler's
// timers, done() in select, stop tokens, context-aware sleeps; errgroup's first-failure rule,
// cancellation of siblings, limits.
//
// Timing rules are test_time.cpp's: a deadline must never fire early, so lower bounds are exact;
// upper bounds are generous sanity limits, never a lateness budget. Every wait in a coroutine
// parks (these tests also run with GOMAXPROCS=1), and every wait that a bug could make endless is
// bounded (recv_within, the watchdog). Structured bindings are not captured by lambdas (clang 14):
// init-captures copy the handles.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/context.hpp>
#include <goro/runtime/errgroup.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "chan_support.hpp"
#include "hooks/context_hooks.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::let_others_run;
using goro_test::scaled;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;

static_assert(std::is_nothrow_copy_constructible_v<goro::context>);
static_assert(std::is_copy_assignable_v<goro::context>);
static_assert(std::is_copy_constructible_v<goro::cancel_func>);
static_assert(!std::is_copy_constructible_v<goro::errgroup>);
static_assert(std::is_same_v<decltype(goro::context().done()), goro::recv_chan<std::monostate>>);
static_assert(std::is_same_v<decltype(goro::with_cancel(goro::context())), std::pair<goro::context, goro::cancel_func>>);
static_assert(std::is_same_v<decltype(goro::sleep_for(goro::context(), 1ms)), std::error_code>);

namespace {

// True if c's done channel is closed within `limit` (a failing case ends in bounded time).
bool done_within(const goro::context& c, std::chrono::milliseconds limit = 5000ms) {
  bool done = false;
  goro::select(goro::on_recv(c.done(), [&](std::optional<std::monostate> v) { done = !v.has_value(); }),
               goro::on_recv(goro::after(limit)));
  return done;
}

// done() is closed right now (a closed channel's receive fires at once with an empty optional).
bool closed_now(const goro::context& c) {
  bool closed = false;
  goro::select(goro::on_recv(c.done(), [&](std::optional<std::monostate> v) { closed = !v.has_value(); }),
               goro::on_default());
  return closed;
}

const std::error_code canceled = goro::errc::canceled;
const std::error_code deadline_exceeded = goro::errc::deadline_exceeded;

struct test_error : std::runtime_error {
  explicit test_error(int c) : std::runtime_error("test_error " + std::to_string(c)), code(c) {}
  int code;
};

void atomic_max(std::atomic<int>& m, int v) {
  int cur = m.load();
  while (v > cur && !m.compare_exchange_weak(cur, v)) {
  }
}

}  // namespace

// ==== context ===================================================================================

TEST_CASE("context: background is never done, has no deadline, and its done() is the nil channel") {
  goro::context bg = goro::context::background();
  goro::context dflt;
  for (const goro::context& c : {bg, dflt}) {
    CHECK_FALSE(c.is_done());
    CHECK_FALSE(c.err());
    CHECK_FALSE(c.deadline().has_value());
    CHECK_FALSE(static_cast<bool>(c.done()));  // nil: a select case on it never fires
    CHECK_FALSE(c.stop_token().stop_possible());
    CHECK_FALSE(c.stop_token().stop_requested());
    CHECK(goro::detail::context_child_count(c) == 0);
  }
  watchdog wd("background");
  goro::run([] {
    goro::context bg;
    int which = -1;
    goro::select(goro::on_recv(bg.done(), [&] { which = 0; }), goro::on_default([&] { which = 1; }));
    CHECK(which == 1);
    // A child of background still works (it has state of its own; background keeps no list).
    auto [c, cancel] = goro::with_cancel(bg);
    CHECK(goro::detail::context_child_count(bg) == 0);
    CHECK_FALSE(c.is_done());
    cancel();
    CHECK(c.is_done());
    CHECK_FALSE(bg.is_done());
  });
}

TEST_CASE("context: err values and messages are Go's, the first cause stays") {
  watchdog wd("err values");
  goro::run([] {
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    CHECK_FALSE(c.err());
    CHECK_FALSE(c.is_done());
    cancel();
    CHECK(c.is_done());
    CHECK(c.err() == goro::errc::canceled);
    CHECK(c.err() == std::errc::operation_canceled);
    CHECK(c.err().message() == "context canceled");
    CHECK(std::string(c.err().category().name()) == "goro");
    cancel();  // idempotent
    CHECK(c.err() == canceled);

    auto [d, dcancel] = goro::with_timeout(goro::context::background(), 1ms);
    CHECK(done_within(d));
    CHECK(d.err() == goro::errc::deadline_exceeded);
    CHECK(d.err() == std::errc::timed_out);
    CHECK(d.err().message() == "context deadline exceeded");
    dcancel();  // after the deadline: the first cause stays
    CHECK(d.err() == deadline_exceeded);

    // Cancelled before its deadline: canceled stays, even once the deadline passes.
    auto [e, ecancel] = goro::with_timeout(goro::context::background(), 5ms);
    ecancel();
    goro::sleep_for(20ms);
    CHECK(e.err() == canceled);

    // Copies share the state; a copy of the cancel_func cancels the same context.
    auto [f, fcancel] = goro::with_cancel(goro::context::background());
    goro::context f2 = f;
    goro::cancel_func fcancel2 = fcancel;
    fcancel2();
    CHECK(f.err() == canceled);
    CHECK(f2.err() == canceled);
    goro::cancel_func nothing;  // default-constructed: does nothing
    nothing();
  });
}

TEST_CASE("context: cancel propagates to children and grandchildren, never to parents") {
  watchdog wd("propagation");
  goro::run([] {
    auto [root, cancel_root] = goro::with_cancel(goro::context::background());
    auto [a, cancel_a] = goro::with_cancel(root);
    auto [b, cancel_b] = goro::with_cancel(root);
    auto [a1, cancel_a1] = goro::with_cancel(a);
    auto [a2, cancel_a2] = goro::with_timeout(a, 1h);
    auto [a11, cancel_a11] = goro::with_cancel(a1);
    CHECK(goro::detail::context_child_count(root) == 2);
    CHECK(goro::detail::context_child_count(a) == 2);

    cancel_a1();  // a leaf's parent: a1 and a11 only
    CHECK(a1.err() == canceled);
    CHECK(a11.err() == canceled);
    CHECK(closed_now(a1));
    CHECK(closed_now(a11));
    CHECK_FALSE(a.is_done());
    CHECK_FALSE(a2.is_done());
    CHECK_FALSE(root.is_done());
    CHECK_FALSE(b.is_done());
    CHECK(goro::detail::context_child_count(a) == 1);  // a1 unregistered itself

    cancel_a();
    CHECK(a.err() == canceled);
    CHECK(a2.err() == canceled);
    CHECK(closed_now(a2));
    CHECK_FALSE(root.is_done());
    CHECK_FALSE(b.is_done());
    CHECK(goro::detail::context_child_count(root) == 1);

    cancel_root();
    CHECK(root.err() == canceled);
    CHECK(b.err() == canceled);
    CHECK(closed_now(b));
    CHECK(goro::detail::context_child_count(root) == 0);
    for (auto* f : {&cancel_b, &cancel_a2, &cancel_a11}) (*f)();
  });
}

TEST_CASE("context: a parent's deadline reaches every descendant as deadline_exceeded") {
  watchdog wd("deadline propagation");
  goro::run([] {
    const auto t0 = clk::now();
    auto [p, cancel_p] = goro::with_timeout(goro::context::background(), 20ms);
    auto [c, cancel_c] = goro::with_cancel(p);
    auto [g, cancel_g] = goro::with_cancel(c);
    auto [late, cancel_late] = goro::with_timeout(c, 1h);  // later than the parent's: inherits it
    // A child cancelled first keeps canceled when the parent's deadline comes.
    auto [early, cancel_early] = goro::with_cancel(p);
    cancel_early();

    goro::chan<int> woke(3);
    for (const goro::context& x : {c, g, late})
      goro::go([x, woke]() mutable {
        x.done().recv();  // parks until closed (bounded by the watchdog)
        woke.send(x.err() == goro::errc::deadline_exceeded ? 1 : 0);
      });
    int ok = 0;
    for (int i = 0; i < 3; ++i) ok += woke.recv().value_or(0);
    CHECK(ok == 3);
    CHECK(clk::now() - t0 >= 20ms);  // never early
    CHECK(p.err() == deadline_exceeded);
    CHECK(late.err() == deadline_exceeded);
    CHECK(early.err() == canceled);
    for (auto* f : {&cancel_p, &cancel_c, &cancel_g, &cancel_late}) (*f)();
  });
}

TEST_CASE("context: done() is a select case, a coroutine woken by it sees err() set") {
  watchdog wd("done in select");
  goro::run([] {
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    goro::chan<int> work;
    goro::chan<int> result(1);
    goro::go([c = c, work, result]() mutable {
      int handled = 0;
      for (;;) {
        const std::size_t i = goro::select(goro::on_recv(work, [&](std::optional<int>) { ++handled; }),
                                           goro::on_recv(c.done()));
        if (i == 1) {
          result.send(c.err() == goro::errc::canceled ? handled : -1);
          return;
        }
      }
    });
    for (int i = 0; i < 5; ++i) work.send(i);
    cancel();
    CHECK(result.recv() == std::optional<int>(5));
    // After cancel() returns, done() is closed and err() is set, on any thread.
    CHECK(closed_now(c));
    CHECK(c.done().recv() == std::nullopt);
  });
}

TEST_CASE("context: woken by done() on any worker, err() is always already set") {
  // Many rounds, two workers: waiters park on done() and check err() the moment they wake.
  watchdog wd("done then err");
  static constexpr int rounds = scaled(2000);
  std::atomic<int> bad{0};
  goro::run(goro::options{.workers = 2}, [&] {
    for (int r = 0; r < rounds; ++r) {
      auto [c, cancel] = goro::with_cancel(goro::context::background());
      goro::wait_group wg;
      wg.add(3);
      for (int k = 0; k < 3; ++k)
        goro::go([c = c, &wg, &bad] {  // wg and bad outlive the coroutines: waited below
          if (c.done().recv().has_value()) bad.fetch_add(1);
          if (!c.err() || !c.is_done()) bad.fetch_add(1);
          wg.done();
        });
      if (r % 2) goro::yield();
      cancel();
      wg.wait();
    }
  });
  CHECK(bad.load() == 0);
}

TEST_CASE("context: with_timeout fires, never early, and deadline() reports it") {
  watchdog wd("with_timeout");
  goro::run([] {
    for (auto d : {1ms, 5ms, 15ms, 30ms}) {
      const auto before = clk::now();
      auto [c, cancel] = goro::with_timeout(goro::context::background(), d);
      const auto after = clk::now();
      REQUIRE(c.deadline().has_value());
      CHECK(*c.deadline() >= before + d);
      CHECK(*c.deadline() <= after + d);
      CHECK(done_within(c));
      const auto el = clk::now() - before;
      CHECK(el >= d);
      CHECK(clk::now() >= *c.deadline());
      CHECK(el < 3s);
      CHECK(c.err() == deadline_exceeded);
      cancel();
    }
    // with_deadline with an absolute time.
    const auto at = clk::now() + 12ms;
    auto [c, cancel] = goro::with_deadline(goro::context::background(), at);
    CHECK(c.deadline() == std::optional<clk::time_point>(at));
    c.done().recv();
    CHECK(clk::now() >= at);
    CHECK(c.err() == deadline_exceeded);
    cancel();
  });
}

TEST_CASE("context: a child's deadline is the earlier of its own and its parent's") {
  watchdog wd("deadline min");
  goro::run([] {
    const auto t = clk::now() + 1h;
    auto [p, cancel_p] = goro::with_deadline(goro::context::background(), t);
    CHECK(p.deadline() == std::optional<clk::time_point>(t));

    auto [later, c1] = goro::with_deadline(p, t + 1h);  // later: the parent's
    CHECK(later.deadline() == std::optional<clk::time_point>(t));
    auto [same, c2] = goro::with_deadline(p, t);
    CHECK(same.deadline() == std::optional<clk::time_point>(t));
    auto [earlier, c3] = goro::with_deadline(p, t - 30min);  // earlier: its own
    CHECK(earlier.deadline() == std::optional<clk::time_point>(t - 30min));
    auto [plain, c4] = goro::with_cancel(earlier);  // with_cancel inherits
    CHECK(plain.deadline() == std::optional<clk::time_point>(t - 30min));
    auto [grand, c5] = goro::with_timeout(plain, 2h);
    CHECK(grand.deadline() == std::optional<clk::time_point>(t - 30min));
    CHECK_FALSE(goro::with_cancel(goro::context::background()).first.deadline().has_value());

    // The earlier deadline is the one that fires: a 10 ms child of a 1 h parent.
    const auto t0 = clk::now();
    auto [soon, c6] = goro::with_timeout(p, 10ms);
    CHECK(done_within(soon));
    CHECK(clk::now() - t0 >= 10ms);
    CHECK(soon.err() == deadline_exceeded);
    CHECK_FALSE(p.is_done());
    // A 1 h child of a 10 ms parent is done when the parent's deadline comes.
    const auto t1 = clk::now();
    auto [q, cancel_q] = goro::with_timeout(goro::context::background(), 10ms);
    auto [long_child, c7] = goro::with_timeout(q, 1h);
    CHECK(long_child.deadline() == q.deadline());
    CHECK(done_within(long_child));
    CHECK(clk::now() - t1 >= 10ms);
    CHECK(long_child.err() == deadline_exceeded);
    for (auto* f : {&cancel_p, &c1, &c2, &c3, &c4, &c5, &c6, &cancel_q, &c7}) (*f)();
  });
}

TEST_CASE("context: a deadline already past is done at once with deadline_exceeded") {
  watchdog wd("past deadline");
  goro::run([] {
    for (std::chrono::milliseconds d : {0ms, -1ms, std::chrono::milliseconds(-1h)}) {
      auto [c, cancel] = goro::with_timeout(goro::context::background(), d);
      CHECK(c.is_done());
      CHECK(c.err() == deadline_exceeded);
      CHECK(closed_now(c));
      CHECK(c.stop_token().stop_requested());
      cancel();
      CHECK(c.err() == deadline_exceeded);
    }
    auto [c, cancel] = goro::with_deadline(goro::context::background(), clk::now() - 1s);
    CHECK(c.err() == deadline_exceeded);
    auto [e, ecancel] = goro::with_deadline(goro::context::background(), clk::time_point::min());
    CHECK(e.err() == deadline_exceeded);
    // Extreme durations saturate instead of overflowing.
    auto [f, fcancel] = goro::with_timeout(goro::context::background(), std::chrono::hours::max());
    CHECK_FALSE(f.is_done());
    auto [g, gcancel] = goro::with_timeout(goro::context::background(), std::chrono::hours::min());
    CHECK(g.err() == deadline_exceeded);
    for (auto* x : {&cancel, &ecancel, &fcancel, &gcancel}) (*x)();
  });
}

TEST_CASE("context: a child of a done parent is done at once, with the parent's error") {
  watchdog wd("child of done");
  goro::run([] {
    auto [p, cancel_p] = goro::with_cancel(goro::context::background());
    cancel_p();
    auto [c, cancel_c] = goro::with_cancel(p);
    CHECK(c.err() == canceled);
    CHECK(closed_now(c));
    auto [d, cancel_d] = goro::with_timeout(p, 1h);  // no timer is armed for it
    CHECK(d.err() == canceled);
    auto [e, cancel_e] = goro::with_timeout(p, -1s);  // the parent's cause comes first, as in Go
    CHECK(e.err() == canceled);
    CHECK(goro::detail::context_child_count(p) == 0);

    auto [q, cancel_q] = goro::with_timeout(goro::context::background(), -1ms);
    auto [f, cancel_f] = goro::with_cancel(q);
    CHECK(f.err() == deadline_exceeded);
    auto [g, cancel_g] = goro::with_cancel(f);
    CHECK(g.err() == deadline_exceeded);
    for (auto* x : {&cancel_c, &cancel_d, &cancel_e, &cancel_q, &cancel_f, &cancel_g}) (*x)();
  });
}

TEST_CASE("context: cancel stops the deadline timer (nothing fires after cancel)") {
  watchdog wd("cancel stops timer");
  goro::run([] {
    // timers_fired counts every timer whose deadline came; here only the sleep's own may.
    const std::uint64_t before = goro::stats().timers_fired;
    std::vector<goro::cancel_func> cancels;
    std::vector<goro::context> ctxs;
    // Deadlines far enough ahead that making them all cannot outlast any (even under TSan).
    for (int i = 0; i < 100; ++i) {
      auto [c, cancel] = goro::with_timeout(goro::context::background(), std::chrono::milliseconds(50 + i));
      ctxs.push_back(c);
      cancels.push_back(cancel);
    }
    for (auto& cancel : cancels) cancel();
    goro::sleep_for(200ms);  // well past every cancelled deadline
    const std::uint64_t fired = goro::stats().timers_fired - before;
    CHECK(fired == 1);  // the sleep
    for (auto& c : ctxs) CHECK(c.err() == canceled);

    // Cancelling through an ancestor stops a descendant's timer too.
    const std::uint64_t before2 = goro::stats().timers_fired;
    auto [p, cancel_p] = goro::with_cancel(goro::context::background());
    auto [c, cancel_c] = goro::with_timeout(p, 30ms);
    auto [g, cancel_g] = goro::with_timeout(c, 20ms);
    cancel_p();
    goro::sleep_for(60ms);
    CHECK(goro::stats().timers_fired - before2 == 1);
    CHECK(g.err() == canceled);
    cancel_c();
    cancel_g();
  });
}

TEST_CASE("context: stop_token is requested when the context is done, after err() is set") {
  watchdog wd("stop_token");
  goro::run([] {
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    std::stop_token st = c.stop_token();
    CHECK(st.stop_possible());
    CHECK_FALSE(st.stop_requested());
    std::error_code seen;
    bool closed_at_callback = false;
    int calls = 0;
    {
      std::stop_callback cb(st, [&, &c = c] {
        ++calls;
        seen = c.err();
        closed_at_callback = c.done().closed();
      });
      cancel();
      CHECK(calls == 1);
      CHECK(seen == canceled);
      CHECK(closed_at_callback);
      CHECK(st.stop_requested());
      cancel();
      CHECK(calls == 1);
    }
    // Asked for after the context is done: requested at once; a callback runs immediately.
    CHECK(c.stop_token().stop_requested());
    auto [d, dcancel] = goro::with_cancel(goro::context::background());
    dcancel();
    std::stop_token dst = d.stop_token();
    CHECK(dst.stop_requested());
    int immediate = 0;
    std::stop_callback cb2(dst, [&] { ++immediate; });
    CHECK(immediate == 1);

    // A deadline requests it from the timer; a parent's cancel requests the child's.
    auto [t, tcancel] = goro::with_timeout(goro::context::background(), 10ms);
    std::atomic<int> deadline_seen{0};
    std::stop_callback cb3(t.stop_token(), [&, t = t] {
      deadline_seen.store(t.err() == goro::errc::deadline_exceeded ? 1 : -1);
    });
    CHECK(done_within(t));
    CHECK(eventually([&] { return deadline_seen.load() != 0; }));
    CHECK(deadline_seen.load() == 1);

    auto [p, pcancel] = goro::with_cancel(goro::context::background());
    auto [k, kcancel] = goro::with_cancel(p);
    std::stop_token kst = k.stop_token();
    pcancel();
    CHECK(kst.stop_requested());
    CHECK(k.err() == canceled);
    tcancel();
    kcancel();
  });
}

TEST_CASE("context: cancel from a plain std::thread wakes coroutines, a plain thread waits on done()") {
  watchdog wd("plain threads");
  goro::run([] {
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    goro::chan<int> woke(4);
    for (int i = 0; i < 4; ++i)
      goro::go([c = c, woke]() mutable {
        c.done().recv();
        woke.send(c.err() == goro::errc::canceled ? 1 : 0);
      });
    std::thread t([cancel = cancel] {
      std::this_thread::sleep_for(5ms);
      cancel();
    });
    int ok = 0;
    for (int i = 0; i < 4; ++i) ok += woke.recv().value_or(0);
    t.join();
    CHECK(ok == 4);

    // A plain thread blocked in done().recv() (a futex), woken by a coroutine's cancel; another
    // thread sees a deadline.
    const auto t0 = clk::now();  // before the deadline is computed: the lower bound is exact
    auto [d, dcancel] = goro::with_cancel(goro::context::background());
    auto [e, ecancel] = goro::with_timeout(goro::context::background(), 10ms);
    std::atomic<int> thread_saw{0};
    std::thread waiter([d = d, e = e, &thread_saw, t0] {
      d.done().recv();
      int v = d.err() == goro::errc::canceled ? 1 : 0;
      e.done().recv();
      if (e.err() == goro::errc::deadline_exceeded && clk::now() - t0 >= 10ms) v += 10;
      thread_saw.store(v);
    });
    goro::sleep_for(2ms);
    dcancel();
    CHECK(eventually([&] { return thread_saw.load() != 0; }));
    waiter.join();
    CHECK(thread_saw.load() == 11);
    ecancel();
  });
}

TEST_CASE("context: concurrent cancels from coroutines and threads: one wins, all agree") {
  watchdog wd("concurrent cancel");
  static constexpr int rounds = scaled(500);
  std::atomic<int> bad{0};
  goro::run(goro::options{.workers = 2}, [&] {
    for (int r = 0; r < rounds; ++r) {
      auto [p, pcancel] = goro::with_cancel(goro::context::background());
      auto [c, ccancel] = goro::with_timeout(p, std::chrono::microseconds(r % 50));
      goro::wait_group wg;
      wg.add(3);
      for (int k = 0; k < 3; ++k)
        goro::go([&wg, pcancel = pcancel, ccancel = ccancel, k] {  // wg: waited below
          if (k == 0) pcancel();
          else ccancel();
          wg.done();
        });
      std::thread t([pcancel = pcancel, ccancel = ccancel] {
        ccancel();
        pcancel();
      });
      wg.wait();
      t.join();
      // p is canceled; c has whichever cause came first, and it never changes.
      const std::error_code first = c.err();
      if (p.err() != canceled) bad.fetch_add(1);
      if (first != canceled && first != deadline_exceeded) bad.fetch_add(1);
      if (!closed_now(c) || !c.stop_token().stop_requested()) bad.fetch_add(1);
      goro::yield();
      if (c.err() != first) bad.fetch_add(1);
      if (goro::detail::context_child_count(p) != 0) bad.fetch_add(1);
    }
  });
  CHECK(bad.load() == 0);
}

TEST_CASE("context: many short-lived children of a long-lived parent do not grow it") {
  watchdog wd("children released");
  goro::run(goro::options{.workers = 2}, [] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::context::background());
    constexpr int n = 100'000;
    for (int i = 0; i < n; ++i) {
      auto [c, cancel] = goro::with_cancel(parent);
      if (i % 3 == 0) {
        auto [g, gcancel] = goro::with_timeout(c, 1h);  // a grandchild with a timer
        gcancel();
      }
      cancel();  // unregisters c at once
    }
    CHECK(goro::detail::context_child_count(parent) == 0);

    // Children dropped without cancel (a leak in Go until the parent ends) unregister when freed.
    for (int i = 0; i < n; ++i) (void)goro::with_cancel(parent);
    CHECK(goro::detail::context_child_count(parent) == 0);

    // Timed children cancelled (cancel stops the timer, which held a reference).
    for (int i = 0; i < scaled(20'000); ++i) {
      auto [c, cancel] = goro::with_timeout(parent, 1h);
      cancel();
    }
    CHECK(goro::detail::context_child_count(parent) == 0);
    // Timed children dropped without cancel stay registered until their timers fire, as in Go.
    for (int i = 0; i < 10; ++i) (void)goro::with_timeout(parent, 5ms);
    CHECK(goro::detail::context_child_count(parent) <= 10);
    goro::sleep_for(10ms);
    CHECK(eventually([&parent = parent] { return goro::detail::context_child_count(parent) == 0; }));

    // From many coroutines at once, on two workers.
    goro::wait_group wg;
    wg.add(8);
    for (int k = 0; k < 8; ++k)
      goro::go([&wg, parent = parent] {  // wg outlives the coroutines: waited below
        for (int i = 0; i < scaled(5000); ++i) {
          auto [c, cancel] = goro::with_cancel(parent);
          if (i % 16 == 0) goro::yield();
          cancel();
        }
        wg.done();
      });
    // Live ones are listed while they live.
    std::vector<goro::cancel_func> live;
    for (int i = 0; i < 10; ++i) live.push_back(goro::with_cancel(parent).second);
    wg.wait();
    CHECK(goro::detail::context_child_count(parent) == 10);
    for (auto& f : live) f();
    CHECK(goro::detail::context_child_count(parent) == 0);
    cancel_parent();
  });
}

TEST_CASE("context: children made while the parent is cancelled on another worker all end done") {
  // The race between registering with a parent and the parent's cancel: a child either is in
  // the list the cancel takes, or sees the parent done when it registers. None is left live.
  watchdog wd("register vs cancel");
  static constexpr int rounds = scaled(300);
  std::atomic<int> live_after{0}, wrong_err{0};
  goro::run(goro::options{.workers = 2}, [&] {
    for (int r = 0; r < rounds; ++r) {
      auto [p, pcancel] = goro::with_cancel(goro::context::background());
      auto made = std::make_shared<std::vector<goro::context>>();
      goro::chan<int> finished(1);
      goro::go([p = p, made, finished]() mutable {
        for (int i = 0; i < 64; ++i) {
          auto [c, cancel] = goro::with_cancel(p);
          made->push_back(c);
          auto [g, gcancel] = goro::with_timeout(c, 1h);
          made->push_back(g);
          if (i % 8 == 0) goro::yield();
        }
        finished.send(1);
      });
      if (r % 2) goro::yield();
      pcancel();
      finished.recv();
      for (const auto& c : *made) {
        if (!c.is_done()) live_after.fetch_add(1);
        else if (c.err() != goro::errc::canceled) wrong_err.fetch_add(1);
      }
      if (goro::detail::context_child_count(p) != 0) live_after.fetch_add(1);
    }
  });
  CHECK(live_after.load() == 0);
  CHECK(wrong_err.load() == 0);
}

TEST_CASE("context: a chain of 20,000 contexts cancels and frees without deep recursion") {
  // Cancelling and freeing are loops, not recursions: a coroutine's 256 KiB stack would not hold
  // 20,000 nested frames.
  watchdog wd("deep chain");
  goro::run([] {
    auto [root, cancel_root] = goro::with_cancel(goro::context::background());
    goro::context leaf = root;
    for (int i = 0; i < 20'000; ++i) leaf = goro::with_cancel(leaf).first;  // only leaf holds the chain
    CHECK_FALSE(leaf.is_done());
    cancel_root();
    CHECK(leaf.err() == canceled);
    CHECK(closed_now(leaf));

    goro::context leaf2 = goro::with_timeout(goro::context::background(), 1h).first;
    for (int i = 0; i < 20'000; ++i) leaf2 = goro::with_cancel(leaf2).first;
    leaf2 = goro::context();  // frees the 20,000 children; the armed timer still holds the root
                              // (abandoned, and so freed, when the runtime stops)
  });
}

TEST_CASE("context: sleep_for(ctx) returns early when cancelled and after the full time otherwise") {
  watchdog wd("sleep with context");
  goro::run([] {
    // Full length: {} and never early.
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    for (auto d : {1ms, 10ms, 25ms}) {
      const auto t0 = clk::now();
      CHECK_FALSE(goro::sleep_for(c, d));
      CHECK(clk::now() - t0 >= d);
    }
    const auto target = clk::now() + 8ms;
    CHECK_FALSE(goro::sleep_until(c, target));
    CHECK(clk::now() >= target);
    CHECK_FALSE(goro::sleep_for(c, 0ms));
    CHECK_FALSE(goro::sleep_for(c, -5ms));
    CHECK_FALSE(goro::sleep_for(goro::context::background(), 5ms));

    // Cancelled by another coroutine: returns canceled long before the 10 s.
    const auto t0 = clk::now();
    goro::go([cancel = cancel] {
      goro::sleep_for(15ms);
      cancel();
    });
    CHECK(goro::sleep_for(c, 10s) == canceled);
    const auto el = clk::now() - t0;
    CHECK(el >= 15ms);  // it was cancelled no sooner than that
    CHECK(el < 5s);
    // Already done: at once.
    const auto t1 = clk::now();
    CHECK(goro::sleep_for(c, 10s) == canceled);
    CHECK(goro::sleep_until(c, clk::now() + 10s) == canceled);
    CHECK(clk::now() - t1 < 1s);

    // A deadline shorter than the sleep: deadline_exceeded, at the deadline, not before.
    const auto t2 = clk::now();
    auto [d, dcancel] = goro::with_timeout(goro::context::background(), 12ms);
    CHECK(goro::sleep_for(d, 10s) == deadline_exceeded);
    CHECK(clk::now() - t2 >= 12ms);
    CHECK(clk::now() - t2 < 5s);
    dcancel();

    // Many sleepers on one context, all released by one cancel.
    auto [m, mcancel] = goro::with_cancel(goro::context::background());
    goro::chan<int> out(100);
    for (int i = 0; i < 100; ++i)
      goro::go([m = m, out, i]() mutable {
        // Half of them "forever": the far deadline saturates instead of overflowing.
        const std::error_code e = i % 2 ? goro::sleep_for(m, std::chrono::hours::max()) : goro::sleep_for(m, 1h);
        out.send(e == goro::errc::canceled ? 1 : 0);
      });
    goro::sleep_for(5ms);
    mcancel();
    int ok = 0;
    for (int i = 0; i < 100; ++i) ok += out.recv().value_or(0);
    CHECK(ok == 100);
  });
}

TEST_CASE("context: sleep_for(ctx) on a plain thread blocks it, returns early on cancel") {
  watchdog wd("sleep on a thread");
  // Without a runtime: a context that needs no timer, cancelled from another thread.
  {
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    const auto t0 = clk::now();
    CHECK_FALSE(goro::sleep_for(c, 10ms));
    CHECK(clk::now() - t0 >= 10ms);
    const auto t1 = clk::now();
    std::thread t([cancel = cancel] {
      std::this_thread::sleep_for(10ms);
      cancel();
    });
    CHECK(goro::sleep_for(c, 10s) == canceled);
    CHECK(clk::now() - t1 >= 10ms);
    CHECK(clk::now() - t1 < 5s);
    t.join();
  }
  // With a runtime: a plain thread's sleep ended by a coroutine's cancel, or by a deadline.
  goro::run([] {
    const auto t0 = clk::now();
    auto [c, cancel] = goro::with_cancel(goro::context::background());
    auto [d, dcancel] = goro::with_timeout(goro::context::background(), 15ms);
    std::atomic<int> result{0};
    std::thread t([c = c, d = d, &result, t0] {
      int v = goro::sleep_for(c, 10s) == goro::errc::canceled ? 1 : 0;
      if (goro::sleep_for(d, 10s) == goro::errc::deadline_exceeded && clk::now() - t0 >= 15ms) v += 10;
      result.store(v);
    });
    goro::sleep_for(3ms);
    cancel();
    CHECK(eventually([&] { return result.load() != 0; }));
    t.join();
    CHECK(result.load() == 11);
    dcancel();
  });
}

TEST_CASE("context: with_deadline needs a runtime only when it arms a timer") {
  // Outside goro::run: with_cancel works, a deadline ahead throws std::logic_error, leaving
  // nothing registered (under ASan the leak checker sees any node left behind).
  auto [p, cancel_p] = goro::with_cancel(goro::context::background());
  auto [c, cancel_c] = goro::with_cancel(p);
  cancel_c();
  CHECK(c.err() == canceled);
  CHECK_THROWS_AS(goro::with_timeout(p, 1s), std::logic_error);
  CHECK_THROWS_WITH(goro::with_deadline(p, clk::now() + 1h),
                    doctest::Contains("needs a running runtime"));
  CHECK(goro::detail::context_child_count(p) == 0);
  // No timer needed: a past deadline, a parent's earlier deadline, a done parent.
  auto [past, cancel_past] = goro::with_timeout(p, -1ms);
  CHECK(past.err() == deadline_exceeded);
  auto [child_of_past, cancel_cop] = goro::with_timeout(past, 1h);
  CHECK(child_of_past.err() == deadline_exceeded);
  CHECK_FALSE(p.is_done());
  cancel_p();
  auto [late, cancel_late] = goro::with_timeout(p, 1h);
  CHECK(late.err() == canceled);
  for (auto* f : {&cancel_past, &cancel_cop, &cancel_late}) (*f)();
}

TEST_CASE("context: stress: contexts made, cancelled and timed out on two workers and a thread") {
  watchdog wd("context stress");
  static constexpr int ncos = 8;
  static constexpr int iters = scaled(2000);
  std::atomic<int> bad{0};
  goro::run(goro::options{.workers = 2}, [&] {
    auto [root, cancel_root] = goro::with_cancel(goro::context::background());
    std::atomic<bool> stop{false};
    std::thread observer([root = root, &stop] {
      while (!stop.load()) {
        (void)root.err();
        (void)root.stop_token();
        (void)goro::detail::context_child_count(root);
        std::this_thread::yield();
      }
    });
    goro::wait_group wg;
    wg.add(ncos);
    for (int k = 0; k < ncos; ++k)
      goro::go([&wg, &bad, root = root, k] {  // wg, bad outlive the coroutines: waited below
        std::mt19937 rng(static_cast<std::uint32_t>(k));
        for (int i = 0; i < iters; ++i) {
          auto [c, cancel] = goro::with_timeout(root, std::chrono::microseconds(rng() % 300));
          auto [g, gcancel] = goro::with_cancel(c);
          switch (rng() % 4) {
            case 0: cancel(); break;
            case 1: gcancel(); break;
            case 2: (void)c.done().recv(); break;  // its deadline comes within 300 us
            default: goro::yield(); break;
          }
          cancel();
          // c is done when cancel() returns. g is done too, or is about to be: a concurrent
          // cancel (the deadline) that won the race may still be propagating, as in Go.
          if (!c.is_done()) bad.fetch_add(1);
          if (!eventually([&g = g] { return g.is_done(); })) bad.fetch_add(1);
          if (g.err() != c.err() && g.err() != goro::errc::canceled) bad.fetch_add(1);
          gcancel();
        }
        wg.done();
      });
    wg.wait();
    stop.store(true);
    observer.join();
    CHECK(goro::detail::context_child_count(root) == 0);
    cancel_root();
  });
  CHECK(bad.load() == 0);
}

// ==== errgroup ==================================================================================

TEST_CASE("errgroup: without a failure, wait() returns once every coroutine has finished") {
  watchdog wd("errgroup ok");
  goro::run([] {
    goro::errgroup g;
    CHECK_FALSE(g.ctx().is_done());
    std::atomic<int> ran{0};
    for (int i = 0; i < 50; ++i)
      g.go([&ran, i] {  // ran outlives the group's coroutines: wait() below
        if (i % 5 == 0) goro::sleep_for(std::chrono::milliseconds(i % 7));
        ran.fetch_add(1);
      });
    for (int i = 0; i < 10; ++i) g.go([]() -> std::error_code { return {}; });  // {}: success
    g.wait();
    CHECK(ran.load() == 50);
    // As in Go, the group's context ends when wait() returns.
    CHECK(g.ctx().err() == canceled);
    // wait() again (nothing left) returns again.
    g.wait();
  });
}

TEST_CASE("errgroup: the first failure cancels ctx(), siblings blocked on ctx().done() return") {
  watchdog wd("errgroup cancels siblings");
  goro::run([] {
    auto [parent, cancel_parent] = goro::with_cancel(goro::context::background());
    goro::errgroup g(parent);
    std::atomic<int> returned{0};
    for (int i = 0; i < 10; ++i)
      g.go([&g, &returned] {  // g and returned outlive the coroutines: wait() below
        g.ctx().done().recv();  // parks until the group's context is cancelled
        returned.fetch_add(1);
      });
    g.go([] {
      goro::sleep_for(5ms);
      throw test_error(7);
    });
    CHECK_THROWS_AS(g.wait(), test_error);
    CHECK(returned.load() == 10);
    CHECK(g.ctx().err() == canceled);
    CHECK_FALSE(parent.is_done());  // the group's cancel stays below the parent
    cancel_parent();
  });
}

TEST_CASE("errgroup: wait() rethrows the first exception with its type, later failures are dropped") {
  watchdog wd("errgroup first exception");
  goro::run([] {
    goro::errgroup g;
    for (int i = 0; i < 5; ++i)
      g.go([&g, i] {  // later failures, only after the first one has cancelled ctx()
        g.ctx().done().recv();
        if (i % 2)
          throw std::logic_error("later");
        else
          throw test_error(100 + i);
      });
    g.go([] { throw test_error(1); });
    bool caught = false;
    try {
      g.wait();
    } catch (const test_error& e) {
      caught = true;
      CHECK(e.code == 1);
      CHECK(std::string(e.what()) == "test_error 1");
    }
    CHECK(caught);
    // The same failure again from a second wait().
    try {
      g.wait();
      CHECK(false);
    } catch (const test_error& e) {
      CHECK(e.code == 1);
    }
  });
}

TEST_CASE("errgroup: error_code failures: wait() throws std::system_error with the first code") {
  watchdog wd("errgroup error codes");
  goro::run([] {
    goro::errgroup g;
    g.go([]() -> std::error_code { return make_error_code(std::errc::connection_refused); });
    g.go([&g]() -> std::error_code { return goro::sleep_for(g.ctx(), 10s); });  // canceled, dropped
    g.go([]() -> std::error_code { return {}; });
    try {
      g.wait();
      CHECK(false);
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::connection_refused);
    }
    CHECK(g.ctx().err() == canceled);

    // An exception from a function returning error_code counts as its failure too.
    goro::errgroup h;
    h.go([]() -> std::error_code { throw test_error(3); });
    CHECK_THROWS_AS(h.wait(), test_error);

    // A goro code keeps its category and message.
    goro::errgroup k;
    k.go([]() -> std::error_code { return goro::errc::deadline_exceeded; });
    try {
      k.wait();
      CHECK(false);
    } catch (const std::system_error& e) {
      CHECK(e.code() == goro::errc::deadline_exceeded);
      CHECK(std::string(e.what()).find("context deadline exceeded") != std::string::npos);
    }
  });
}

TEST_CASE("errgroup: a coroutine started after a failure still runs, the parent's cancel reaches ctx()") {
  watchdog wd("errgroup after failure");
  goro::run([] {
    goro::errgroup g;
    g.go([] { throw test_error(1); });
    CHECK(done_within(g.ctx()));
    std::atomic<int> ran{0};
    g.go([&ran, &g] { ran.store(g.ctx().is_done() ? 1 : -1); });  // ran: waited below
    CHECK_THROWS_AS(g.wait(), test_error);
    CHECK(ran.load() == 1);

    auto [p, cancel_p] = goro::with_cancel(goro::context::background());
    goro::errgroup h(p);
    h.go([&h]() -> std::error_code { return goro::sleep_for(h.ctx(), 1h); });
    goro::sleep_for(2ms);
    cancel_p();  // the parent's cancel ends the group's sleeper, whose code is the failure
    try {
      h.wait();
      CHECK(false);
    } catch (const std::system_error& e) {
      CHECK(e.code() == goro::errc::canceled);
    }
  });
}

TEST_CASE("errgroup: set_limit bounds the coroutines running at once, go() parks meanwhile") {
  watchdog wd("errgroup limit");
  goro::run(goro::options{.workers = 2}, [] {
    for (int limit : {1, 3}) {
      goro::errgroup g;
      g.set_limit(limit);
      std::atomic<int> running{0}, max_running{0}, ran{0};
      for (int i = 0; i < 40; ++i)
        g.go([&] {  // the atomics outlive the group's coroutines: wait() below
          atomic_max(max_running, running.fetch_add(1) + 1);
          goro::sleep_for(1ms);
          for (int k = 0; k < 10; ++k) goro::yield();
          running.fetch_sub(1);
          ran.fetch_add(1);
        });
      g.wait();
      CHECK(ran.load() == 40);
      CHECK(max_running.load() == limit);
    }

    // go() parks while the limit is reached: the second go() returns only after the first
    // coroutine is released.
    goro::errgroup g;
    g.set_limit(1);
    goro::chan<int> release;
    std::atomic<int> phase{0};
    g.go([release]() mutable { release.recv(); });
    goro::chan<int> second_started(1);
    goro::go([&g, &phase, second_started]() mutable {  // g, phase: waited below
      g.go([] {});
      phase.store(1);
      second_started.send(1);
    });
    let_others_run();
    CHECK(phase.load() == 0);  // still parked in go()
    // Changing the limit while coroutines hold tokens is an error (Go panics).
    CHECK_THROWS_AS(g.set_limit(5), std::logic_error);
    release.send(1);
    second_started.recv();
    CHECK(phase.load() == 1);
    g.wait();
    g.set_limit(-1);  // no limit now
    for (int i = 0; i < 20; ++i) g.go([] {});
    g.wait();
  });
}

TEST_CASE("errgroup: rounds of go() and wait() on one group: each wait() covers its round") {
  // A coroutine of the previous round may still be inside its done() when the next round's go()
  // and wait() run: that stale wake-up must not end the new wait() early.
  watchdog wd("errgroup rounds");
  static constexpr int rounds = scaled(3000);
  std::atomic<int> early{0};
  goro::run(goro::options{.workers = 2}, [&] {
    goro::errgroup g;
    std::atomic<int> ran{0};
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < 2; ++k)
        g.go([&ran, k] {  // ran: waited below
          if (k == 1)
            for (int y = 0; y < 3; ++y) goro::yield();
          ran.fetch_add(1);
        });
      g.wait();
      if (ran.load() != 2 * (r + 1)) early.fetch_add(1);
    }
  });
  CHECK(early.load() == 0);
}

TEST_CASE("errgroup: thousands of coroutines, some failing") {
  watchdog wd("errgroup many");
  static constexpr int n = scaled(20000);
  goro::run(goro::options{.workers = 2}, [] {
    goro::errgroup g;
    std::atomic<int> ran{0};
    for (int i = 0; i < n; ++i)
      g.go([&ran, i]() -> std::error_code {  // ran: waited below
        ran.fetch_add(1);
        if (i % 1000 == 999) return make_error_code(std::errc::io_error);
        if (i % 1000 == 500) throw test_error(i);
        return {};
      });
    bool failed = false;
    try {
      g.wait();
    } catch (const std::system_error& e) {
      failed = e.code() == std::errc::io_error;
    } catch (const test_error& e) {
      failed = e.code % 1000 == 500;
    }
    CHECK(failed);
    CHECK(ran.load() == n);

    goro::errgroup h;
    h.set_limit(8);
    std::atomic<int> ran2{0};
    for (int i = 0; i < n / 4; ++i) h.go([&ran2] { ran2.fetch_add(1); });  // ran2: waited below
    h.wait();
    CHECK(ran2.load() == n / 4);
  });
}

TEST_CASE("errgroup: wait() from a plain thread, a group dropped without wait() lets its coroutines finish") {
  watchdog wd("errgroup threads");
  goro::run([] {
    goro::errgroup g;
    goro::chan<int> go_on;
    g.go([go_on]() mutable {
      go_on.recv();
      throw test_error(9);
    });
    std::atomic<int> thread_saw{0};
    std::thread t([&g, &thread_saw] {
      try {
        g.wait();
        thread_saw.store(-1);
      } catch (const test_error& e) {
        thread_saw.store(e.code);
      }
    });
    go_on.send(1);
    CHECK(eventually([&] { return thread_saw.load() != 0; }));
    t.join();
    CHECK(thread_saw.load() == 9);

    // The group's state lives as long as its coroutines: a failure after the errgroup object is
    // gone is dropped, and the process goes on. `gone` is told when the coroutine's closure
    // (which shares the state) has been destroyed.
    goro::chan<int> gone(1);
    struct notify {
      goro::chan<int> c = nullptr;
      ~notify() { c.try_send(1); }
    };
    goro::chan<int> go_on2;
    {
      goro::errgroup h;
      auto n = std::make_shared<notify>();
      n->c = gone;
      h.go([go_on2, n]() mutable {
        go_on2.recv();
        throw test_error(10);
      });
      n.reset();
    }
    go_on2.send(1);
    CHECK(gone.recv() == std::optional<int>(1));
  });
}
