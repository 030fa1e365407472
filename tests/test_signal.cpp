// goro::signal: real signals raised to this process.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/signal.hpp>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;

namespace {
// Receives from ch, or nullopt after the timeout.
std::optional<int> recv_for(goro::chan<int>& ch, std::chrono::milliseconds d) {
  std::optional<int> got;
  goro::select(goro::on_recv(ch, [&](std::optional<int> v) { got = v; }), goro::on_recv(goro::after(d)));
  return got;
}
}  // namespace

TEST_CASE("signal: notify delivers raised signals to the channel, and stop ends it") {
  watchdog wd("signal notify");
  goro::run([] {
    goro::chan<int> ch(4);
    goro::signal::notify(ch, {SIGUSR1, SIGUSR2});
    ::raise(SIGUSR1);
    CHECK(recv_for(ch, 10s) == SIGUSR1);
    ::kill(::getpid(), SIGUSR2);
    CHECK(recv_for(ch, 10s) == SIGUSR2);
    // a second channel for SIGUSR1 only: both get SIGUSR1
    goro::chan<int> other(1);
    goro::signal::notify(other, {SIGUSR1});
    ::raise(SIGUSR1);
    CHECK(recv_for(ch, 10s) == SIGUSR1);
    CHECK(recv_for(other, 10s) == SIGUSR1);
    goro::signal::stop(ch);
    ::raise(SIGUSR1);
    CHECK(recv_for(other, 10s) == SIGUSR1);
    CHECK(recv_for(ch, 100ms) == std::nullopt);
    goro::signal::stop(other);
    // nobody listens to SIGUSR1 now: its default action is back
    struct sigaction sa {};
    ::sigaction(SIGUSR1, nullptr, &sa);
    const bool is_default = sa.sa_handler == SIG_DFL;
    CHECK(is_default);
  });
}

TEST_CASE("signal: a full channel drops signals instead of blocking") {
  watchdog wd("signal drop");
  goro::run([] {
    goro::chan<int> ch(1);
    goro::signal::notify(ch, {SIGUSR1});
    for (int i = 0; i < 5; ++i) {
      ::raise(SIGUSR1);
      ::usleep(20000);  // let the delivery thread run
    }
    CHECK(recv_for(ch, 10s) == SIGUSR1);
    CHECK(recv_for(ch, 200ms) == std::nullopt);  // the other four were dropped
    goro::signal::stop(ch);
  });
}

TEST_CASE("signal: bad arguments are clear errors") {
  goro::chan<int> ch(1);
  CHECK_THROWS_AS(goro::signal::notify(ch, {SIGKILL}), std::invalid_argument);
  CHECK_THROWS_AS(goro::signal::notify(ch, {0}), std::invalid_argument);
  CHECK_THROWS_AS(goro::signal::notify(goro::chan<int>(nullptr), {SIGUSR1}), std::invalid_argument);
  goro::signal::stop(ch);  // never registered: nothing happens
}

TEST_CASE("signal: notify_context is cancelled by the first signal") {
  watchdog wd("signal notify_context");
  goro::run([] {
    auto [ctx, cancel] = goro::signal::notify_context(goro::context::background(), {SIGUSR2});
    CHECK(!ctx.is_done());
    ::raise(SIGUSR2);
    goro::select(goro::on_recv(ctx.done()), goro::on_recv(goro::after(10s)));
    CHECK(ctx.err() == goro::errc::canceled);
    cancel();
    // cancelled without a signal: the watcher ends and unregisters
    auto [c2, cancel2] = goro::signal::notify_context(goro::context::background(), {SIGUSR2});
    cancel2();
    CHECK(c2.err() == goro::errc::canceled);
    goro_test::let_others_run();
  });
}
