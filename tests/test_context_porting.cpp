// Porting calls of Go's context package beyond cancellation and deadlines: WithValue/Value,
// WithCancelCause/Cause, WithDeadlineCause/WithTimeoutCause, WithoutCancel.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "chan_support.hpp"
#include "hooks/context_hooks.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;

namespace {

struct user_key {  // a key type of its own, as Go programs use (type ctxKey struct{})
  int id = 0;
  bool operator==(const user_key&) const = default;
};

bool closed_within(const goro::context& c, std::chrono::milliseconds limit = 5000ms) {
  bool done = false;
  goro::select(goro::on_recv(c.done(), [&](std::optional<std::monostate> v) { done = !v.has_value(); }),
               goro::on_recv(goro::after(limit)));
  return done;
}

const std::error_code canceled = goro::errc::canceled;
const std::error_code deadline_exceeded = goro::errc::deadline_exceeded;
const std::error_code my_cause = std::make_error_code(std::errc::connection_aborted);
const std::error_code other_cause = std::make_error_code(std::errc::broken_pipe);

}  // namespace

TEST_CASE("porting: with_value finds the nearest key through every kind of parent") {
  goro::context bg;
  CHECK_FALSE(bg.value<int>("k").has_value());
  goro::context a = goro::with_value(bg, "k", 1);  // a string literal key: compared by content
  CHECK(a.value<int>("k") == 1);
  CHECK(a.value<int>(std::string("k")) == 1);
  CHECK(a.value<int>(std::string_view("k")) == 1);
  CHECK_FALSE(a.value<int>("other").has_value());
  goro::context b = goro::with_value(a, "k", 2);  // shadows a's pair for b and below
  CHECK(b.value<int>("k") == 2);
  CHECK(a.value<int>("k") == 1);  // the parent is untouched

  // Keys of different types never match, even with equal representations.
  goro::context c = goro::with_value(b, 7, std::string("seven"));
  goro::context d = goro::with_value(c, user_key{7}, 3.5);
  CHECK(d.value<std::string>(7) == "seven");
  CHECK(d.value<double>(user_key{7}) == 3.5);
  CHECK_FALSE(d.value<double>(user_key{8}).has_value());
  CHECK_FALSE(d.value<std::string>(7L).has_value());  // long is not int: another key
  CHECK(d.value<int>("k") == 2);                       // walks past both
  // The nearest match holds another type: nullopt (Go's failed `v, ok := ....(T)`).
  CHECK_FALSE(d.value<long>("k").has_value());

  // Values flow through cancellable children, and a value child shares its parent's cancel.
  watchdog wd("with_value");
  goro::run([d] {
    auto [cc, cancel] = goro::with_cancel(d);
    goro::context v = goro::with_value(cc, "inner", std::string("x"));
    CHECK(v.value<int>("k") == 2);
    CHECK(v.value<std::string>("inner") == "x");
    CHECK_FALSE(cc.value<std::string>("inner").has_value());
    auto [tc, tcancel] = goro::with_timeout(v, 1h);
    CHECK(tc.value<std::string>("inner") == "x");
    CHECK(v.deadline() == std::nullopt);
    CHECK_FALSE(v.is_done());
    cancel();
    CHECK(v.is_done());
    CHECK(v.err() == canceled);
    CHECK(closed_within(v));
    CHECK(tc.err() == canceled);
    tcancel();
    // Dropping contexts while others still hold the chain: the copies stay valid.
    goro::context keep = goro::with_value(goro::context(), "z", 9);
    goro::context child = goro::with_value(keep, "y", 8);
    keep = goro::context();
    CHECK(child.value<int>("z") == 9);
  });
}

TEST_CASE("porting: with_value from many coroutines and threads at once") {
  watchdog wd("with_value concurrent");
  goro::run([] {
    goro::context root = goro::with_value(goro::context(), "root", 0);
    constexpr int n = 64;
    goro::wait_group wg;
    std::atomic<int> ok{0};
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&, i] {
        goro::context c = root;
        for (int j = 0; j < 20; ++j) c = goro::with_value(c, j, i * 100 + j);
        bool good = c.value<int>("root") == 0;
        for (int j = 0; j < 20; ++j) good = good && c.value<int>(j) == i * 100 + j;
        if (good) ok.fetch_add(1);
        wg.done();
      });
    std::thread t([&] { CHECK(goro::with_value(root, 1, 2).value<int>(1) == 2); });
    wg.wait();
    t.join();
    CHECK(ok.load() == n);
  });
}

TEST_CASE("porting: with_cancel_cause and cause follow Go") {
  watchdog wd("cause");
  goro::run([] {
    // Live: no cause. Background: none ever.
    CHECK_FALSE(goro::cause(goro::context()));
    auto [c, cancel] = goro::with_cancel_cause(goro::context());
    CHECK_FALSE(goro::cause(c));
    auto [child, child_cancel] = goro::with_cancel(c);
    goro::context val = goro::with_value(child, "k", 1);
    cancel(my_cause);
    CHECK(c.err() == canceled);                // err() is still canceled
    CHECK(goro::cause(c) == my_cause);
    CHECK(goro::cause(child) == my_cause);     // a descendant gets the parent's cause
    CHECK(goro::cause(val) == my_cause);       // through a value context too
    CHECK(closed_within(child));
    cancel(other_cause);                       // the first cancel wins
    CHECK(goro::cause(c) == my_cause);
    child_cancel();
    CHECK(goro::cause(child) == my_cause);

    // cancel() / cancel({}) record canceled.
    auto [c2, cancel2] = goro::with_cancel_cause(goro::context());
    cancel2();
    CHECK(goro::cause(c2) == canceled);
    // A plain with_cancel: cause is err().
    auto [c3, cancel3] = goro::with_cancel(goro::context());
    cancel3();
    CHECK(goro::cause(c3) == canceled);
    // A child cancelled on its own keeps its own cause; the parent stays live.
    auto [p, pcancel] = goro::with_cancel_cause(goro::context());
    auto [k, kcancel] = goro::with_cancel_cause(p);
    kcancel(other_cause);
    CHECK(goro::cause(k) == other_cause);
    CHECK_FALSE(goro::cause(p));
    pcancel(my_cause);
    CHECK(goro::cause(k) == other_cause);
    // A child made under a parent already cancelled with a cause has that cause at once.
    auto [late, late_cancel] = goro::with_cancel(p);
    CHECK(late.is_done());
    CHECK(goro::cause(late) == my_cause);
    late_cancel();

    // A deadline: deadline_exceeded as err and cause, or the given cause.
    auto [d, dcancel] = goro::with_timeout(goro::context(), 1ms);
    CHECK(closed_within(d));
    CHECK(goro::cause(d) == deadline_exceeded);
    auto [dc, dccancel] = goro::with_timeout_cause(goro::context(), 1ms, my_cause);
    CHECK(closed_within(dc));
    CHECK(dc.err() == deadline_exceeded);
    CHECK(goro::cause(dc) == my_cause);
    auto [past, pastcancel] = goro::with_deadline_cause(goro::context(), std::chrono::steady_clock::now() - 1s,
                                                        other_cause);
    CHECK(past.is_done());
    CHECK(goro::cause(past) == other_cause);
    // Cancelled before the deadline: canceled wins.
    auto [e, ecancel] = goro::with_timeout_cause(goro::context(), 1h, my_cause);
    ecancel();
    CHECK(goro::cause(e) == canceled);
    dcancel();
    dccancel();
    pastcancel();
    cancel3();
  });
}

TEST_CASE("porting: cancel_cause_func from a plain thread wakes a coroutine") {
  watchdog wd("cause thread");
  goro::run([] {
    auto [c, cancel] = goro::with_cancel_cause(goro::context());
    std::thread t([cancel = cancel] {
      std::this_thread::sleep_for(5ms);
      cancel(my_cause);
    });
    CHECK(closed_within(c));
    CHECK(goro::cause(c) == my_cause);
    t.join();
  });
}

TEST_CASE("porting: without_cancel keeps values and is never done") {
  watchdog wd("without_cancel");
  goro::run([] {
    auto [c, cancel] = goro::with_timeout(goro::with_value(goro::context(), "k", 5), 1h);
    goro::context w = goro::without_cancel(c);
    CHECK(w.value<int>("k") == 5);
    CHECK_FALSE(w.deadline().has_value());
    CHECK_FALSE(static_cast<bool>(w.done()));  // the nil channel, as background's
    cancel();
    CHECK(c.is_done());
    CHECK_FALSE(w.is_done());
    CHECK_FALSE(w.err());
    CHECK_FALSE(goro::cause(w));
    // Its children are cancellable on their own and keep the values.
    auto [wc, wcancel] = goro::with_cancel(w);
    CHECK_FALSE(wc.is_done());
    CHECK(wc.value<int>("k") == 5);
    wcancel();
    CHECK(wc.is_done());
    CHECK(goro::detail::context_child_count(c) == 0);
  });
}
