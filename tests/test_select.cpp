// select: exactly one case runs, its index is returned; default; nil cases; closed channels;
// uniform choice among ready cases; parking on all cases and withdrawing the losers; sends and
// receives on the same channel; views, move-only payloads, plain threads; MPMC with select on both
// sides; no waiter leak after a million selects.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::let_others_run;
using goro_test::scaled;
using goro_test::watchdog;

namespace {

// ---- fairness -------------------------------------------------------------------------------
//
// With k cases ready on every call, a uniform choice makes each case's count over n selects
// Binomial(n, 1/k): mean n/k, sd sqrt(n p (1-p)). We allow 6 sd either side; a correct
// implementation falls outside with probability 2e-9 per count (normal tail; n p >= 5000), so about
// 3e-8 for all the counts checked in a run. A biased choice is caught: at n = 100,000 and k = 2 the
// bound is +-949 around 50,000, so a 2% bias already fails.
//
// "Uniformly at random" also rules out a fixed rotation (which would give perfect counts): the
// number of times the same case wins twice in a row is Binomial(n-1, 1/k) for independent uniform
// choices (the indicators are pairwise independent), mean (n-1)/k; a rotation gives 0, "always the
// first ready" gives n-1. Checked with the same 6 sd bound.

struct fairness {
  std::vector<long> counts;
  long repeats = 0;
  long wrong = 0;  // a handler saw the wrong value, or a refill failed
};

void check_uniform(const fairness& f, long n) {
  const double k = static_cast<double>(f.counts.size());
  const double p = 1.0 / k;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  std::string counts;
  for (long c : f.counts) counts += std::to_string(c) + " ";
  INFO("k = " << f.counts.size() << ", n = " << n << ", counts: " << counts << "repeats: " << f.repeats
              << ", allowed: " << n * p << " +- " << 6 * sd);
  CHECK(f.wrong == 0);
  CHECK(std::accumulate(f.counts.begin(), f.counts.end(), 0L) == n);
  for (long c : f.counts) CHECK(std::abs(static_cast<double>(c) - static_cast<double>(n) * p) <= 6 * sd);
  const double sd_r = std::sqrt(static_cast<double>(n - 1) * p * (1 - p));
  CHECK(std::abs(static_cast<double>(f.repeats) - static_cast<double>(n - 1) * p) <= 6 * sd_r);
}

// k buffered channels of capacity 1, each kept non-empty: every select sees k ready recv cases.
template <std::size_t... I>
fairness recv_fairness(long n, std::index_sequence<I...>) {
  constexpr std::size_t k = sizeof...(I);
  std::vector<goro::chan<int>> chs;
  for (std::size_t i = 0; i < k; ++i) {
    chs.emplace_back(1);
    chs.back().send(static_cast<int>(i));
  }
  fairness f;
  f.counts.assign(k, 0);
  std::size_t prev = k;
  for (long t = 0; t < n; ++t) {
    int got = -1;
    const std::size_t i =
        goro::select(goro::on_recv(chs[I], [&got](std::optional<int> v) { got = v.value_or(-1); })...);
    if (i >= k) {
      ++f.wrong;
      continue;
    }
    ++f.counts[i];
    if (got != static_cast<int>(i)) ++f.wrong;
    if (!chs[i].try_send(static_cast<int>(i))) ++f.wrong;
    if (i == prev) ++f.repeats;
    prev = i;
  }
  return f;
}

constexpr long fairness_n = goro_test::sanitized ? 20'000 : 100'000;

}  // namespace

// ---- which case runs ------------------------------------------------------------------------

TEST_CASE("select runs the one ready case, returns its index and calls only its handler") {
  goro::run([] {
    goro::chan<int> a(1), b(1), c(1);
    b.send(7);
    int fa = 0, fc = 0;
    std::optional<int> fb;
    const std::size_t i = goro::select(goro::on_recv(a, [&](std::optional<int>) { ++fa; }),
                                       goro::on_recv(b, [&](std::optional<int> v) { fb = v; }),
                                       goro::on_recv(c, [&](std::optional<int>) { ++fc; }));
    CHECK(i == 1);
    CHECK(fb == 7);
    CHECK(fa == 0);
    CHECK(fc == 0);
    CHECK(b.size() == 0);
    // A ready send case, among recv cases that are not ready.
    bool sent = false;
    CHECK(goro::select(goro::on_recv(a), goro::on_send(c, 3, [&] { sent = true; }), goro::on_recv(b)) == 1);
    CHECK(sent);
    CHECK(c.try_recv() == 3);
  });
}

TEST_CASE("select cases without handlers: on_recv(ch) consumes, on_send(ch, v) delivers") {
  goro::run([] {
    goro::chan<int> a(2);
    CHECK(goro::select(goro::on_send(a, 5)) == 0);
    CHECK(goro::select(goro::on_send(a, 6)) == 0);
    CHECK(a.size() == 2);
    CHECK(goro::select(goro::on_recv(a)) == 0);
    CHECK(a.size() == 1);
    CHECK(a.recv() == 6);  // 5 was the one consumed
  });
}

TEST_CASE("on_send's handler runs after the value was sent") {
  goro::run([] {
    goro::chan<int> a(1);
    std::size_t size_in_handler = 99;
    CHECK(goro::select(goro::on_send(a, 4, [&] { size_in_handler = a.size(); })) == 0);
    CHECK(size_in_handler == 1);
    CHECK(a.recv() == 4);
  });
}

TEST_CASE("select with default runs default when no case is ready, and registers nothing") {
  goro::run([] {
    goro::chan<int> empty, full(1);
    full.send(1);
    bool d = false, r = false, s = false;
    const std::size_t i = goro::select(goro::on_recv(empty, [&](std::optional<int>) { r = true; }),
                                       goro::on_send(full, 2, [&] { s = true; }),
                                       goro::on_default([&] { d = true; }));
    CHECK(i == 2);
    CHECK(d);
    CHECK_FALSE(r);
    CHECK_FALSE(s);
    CHECK(full.size() == 1);
    CHECK(full.recv() == 1);  // the send case did not deliver
    CHECK(empty.waiting_receivers() == 0);
    CHECK(full.waiting_senders() == 0);
    // default alone, and without a handler
    CHECK(goro::select(goro::on_default()) == 0);
    CHECK(goro::select(goro::on_recv(empty), goro::on_default()) == 1);
  });
}

TEST_CASE("select never takes default while a case is ready, wherever default is placed") {
  goro::run([] {
    goro::chan<int> a(1);
    int defaults = 0, wrong_index = 0;
    for (int t = 0; t < 1000; ++t) {
      a.send(t);
      const std::size_t i = goro::select(goro::on_default([&] { ++defaults; }), goro::on_recv(a));
      if (i != 1) ++wrong_index;
    }
    CHECK(defaults == 0);
    CHECK(wrong_index == 0);
    CHECK(goro::select(goro::on_default(), goro::on_recv(a)) == 0);  // now nothing is ready
  });
}

// ---- nil and closed channels ----------------------------------------------------------------

TEST_CASE("nil channel cases never fire") {
  watchdog wd("nil cases");
  goro::run([] {
    goro::chan<int> nil(nullptr), real(1);
    // Nothing but nil cases and a default: the default.
    CHECK(goro::select(goro::on_recv(nil), goro::on_send(nil, 1), goro::on_default()) == 2);
    // A ready real case among nil cases: always the real one.
    int wrong = 0;
    for (int t = 0; t < 1000; ++t) {
      real.send(t);
      if (goro::select(goro::on_recv(nil), goro::on_send(nil, 1), goro::on_recv(real)) != 2) ++wrong;
    }
    CHECK(wrong == 0);
    // Parked with a nil case: only the real case can wake it.
    auto h = goro::spawn([real]() mutable {
      if (!eventually([&] { return real.waiting_receivers() == 1; })) return false;
      real.send(42);
      return true;
    });
    std::optional<int> got;
    CHECK(goro::select(goro::on_recv(nil, [&](std::optional<int>) { got = -1; }),
                       goro::on_recv(real, [&](std::optional<int> v) { got = v; })) == 1);
    CHECK(got == 42);
    CHECK(h.get());
  });
}

TEST_CASE("a handle set to nullptr switches its case off (Go's nil-channel idiom)") {
  goro::run([] {
    goro::chan<int> a(1), b(1);
    a.send(1);
    b.send(2);
    goro::chan<int> x = a;
    x = nullptr;
    // a holds a value, but the case names it through the nil handle x.
    CHECK(goro::select(goro::on_recv(x), goro::on_recv(b)) == 1);
    CHECK(a.size() == 1);
  });
}

TEST_CASE("a recv case on a closed channel fires with empty") {
  goro::run([] {
    goro::chan<int> open, closed;
    closed.close();
    bool called = false;
    std::optional<int> got = 5;
    CHECK(goro::select(goro::on_recv(open),
                       goro::on_recv(closed, [&](std::optional<int> v) { called = true; got = v; })) == 1);
    CHECK(called);
    CHECK_FALSE(got.has_value());
    // Buffered values first, then empty.
    goro::chan<int> buf(2);
    buf.send(8);
    buf.close();
    CHECK(goro::select(goro::on_recv(buf, [&](std::optional<int> v) { got = v; })) == 0);
    CHECK(got == 8);
    CHECK(goro::select(goro::on_recv(buf, [&](std::optional<int> v) { got = v; }), goro::on_default()) == 0);
    CHECK_FALSE(got.has_value());
  });
}

TEST_CASE("a send case on a closed channel makes select throw closed_channel_error") {
  goro::run([] {
    goro::chan<int> closed(1), other;
    closed.close();
    CHECK_THROWS_WITH_AS(goro::select(goro::on_send(closed, 1), goro::on_recv(other)), "send on closed channel",
                         goro::closed_channel_error);
    // As in Go, even with a default: a closed channel is "ready", and sending on it is the error.
    CHECK_THROWS_AS(goro::select(goro::on_send(closed, 1), goro::on_default()), goro::closed_channel_error);
    CHECK(other.waiting_receivers() == 0);
  });
}

// ---- parking on several channels ----------------------------------------------------------------

TEST_CASE("a parked select: the first case to become ready wins and the others are withdrawn") {
  watchdog wd("parked select withdraws");
  goro::run([] {
    goro::chan<int> a, b, c;
    auto h = goro::spawn([a, b, c]() mutable {
      const bool registered = eventually(
          [&] { return a.waiting_receivers() == 1 && b.waiting_receivers() == 1 && c.waiting_receivers() == 1; });
      b.send(7);
      return registered;
    });
    std::optional<int> got;
    int others = 0;
    const std::size_t i = goro::select(goro::on_recv(a, [&](std::optional<int>) { ++others; }),
                                       goro::on_recv(b, [&](std::optional<int> v) { got = v; }),
                                       goro::on_recv(c, [&](std::optional<int>) { ++others; }));
    CHECK(h.get());  // the select was queued on all three channels at once
    CHECK(i == 1);
    CHECK(got == 7);
    CHECK(others == 0);
    CHECK(a.waiting_receivers() == 0);
    CHECK(b.waiting_receivers() == 0);
    CHECK(c.waiting_receivers() == 0);
    // A withdrawn registration must not take a value any more.
    CHECK_FALSE(a.try_send(1));
    CHECK_FALSE(c.try_send(1));
  });
}

TEST_CASE("a parked select on send cases: the receiver that comes takes its value, the other is withdrawn") {
  watchdog wd("parked select send cases");
  goro::run([] {
    goro::chan<int> a, b;
    auto h = goro::spawn([a, b]() mutable {
      if (!eventually([&] { return a.waiting_senders() == 1 && b.waiting_senders() == 1; })) return -1;
      return b.recv().value_or(-2);
    });
    bool sa = false, sb = false;
    const std::size_t i =
        goro::select(goro::on_send(a, 1, [&] { sa = true; }), goro::on_send(b, 2, [&] { sb = true; }));
    CHECK(i == 1);
    CHECK(h.get() == 2);
    CHECK(sb);
    CHECK_FALSE(sa);
    CHECK(a.waiting_senders() == 0);
    CHECK(b.waiting_senders() == 0);
    CHECK_FALSE(a.try_recv().has_value());
  });
}

TEST_CASE("closing a channel wakes a select parked on it: recv fires with empty") {
  watchdog wd("close wakes select recv");
  goro::run([] {
    goro::chan<int> a, b;
    auto closer = goro::spawn([a, b]() mutable {
      const bool registered = eventually([&] { return a.waiting_receivers() == 1 && b.waiting_receivers() == 1; });
      b.close();
      return registered;
    });
    bool called = false;
    std::optional<int> got = 5;
    const std::size_t i = goro::select(goro::on_recv(a), goro::on_recv(b, [&](std::optional<int> v) {
                                         called = true;
                                         got = v;
                                       }));
    CHECK(closer.get());
    CHECK(i == 1);
    CHECK(called);
    CHECK_FALSE(got.has_value());
    CHECK(a.waiting_receivers() == 0);
  });
}

TEST_CASE("closing a channel wakes a select parked sending on it: select throws") {
  watchdog wd("close wakes select send");
  goro::run([] {
    goro::chan<int> a, b;
    auto closer = goro::spawn([a, b]() mutable {
      const bool registered = eventually([&] { return a.waiting_senders() == 1 && b.waiting_receivers() == 1; });
      a.close();
      return registered;
    });
    CHECK_THROWS_WITH_AS(goro::select(goro::on_send(a, 1), goro::on_recv(b)), "send on closed channel",
                         goro::closed_channel_error);
    CHECK(closer.get());
    CHECK(b.waiting_receivers() == 0);
    CHECK(a.waiting_senders() == 0);
  });
}

TEST_CASE("a select with two cases on the same channel takes one value") {
  watchdog wd("duplicate channel in select");
  goro::run([] {
    goro::chan<int> a(2);
    a.send(1);
    a.send(2);
    int calls = 0;
    auto f = [&](std::optional<int>) { ++calls; };
    const std::size_t i = goro::select(goro::on_recv(a, f), goro::on_recv(a, f));
    CHECK(i < 2);
    CHECK(calls == 1);
    CHECK(a.size() == 1);
    // Parked on the same channel twice: one sender wakes it once, and nothing stays queued.
    goro::chan<int> u;
    auto h = goro::spawn([u]() mutable {
      if (!eventually([&] { return u.waiting_receivers() >= 1; })) return false;
      u.send(3);
      return true;
    });
    calls = 0;
    CHECK(goro::select(goro::on_recv(u, f), goro::on_recv(u, f)) < 2);
    CHECK(h.get());
    CHECK(calls == 1);
    CHECK(u.waiting_receivers() == 0);
  });
}

// Parked with two cases on one channel, the select's nodes are queued in its random poll order,
// so the sender that arrives serves either case with probability 1/2. Queued in argument order,
// the first case won 400 of 400 (measured before the fix). Binomial(400, 1/2): sd 10, 6 sd = 60.
TEST_CASE("a parked select with two cases on the same channel: each case wins about half") {
  watchdog wd("duplicate channel fairness");
  goro::run([] {
    constexpr int rounds = 400;
    goro::chan<int> u;
    auto h = goro::spawn([u]() mutable {
      for (int r = 0; r < rounds; ++r) {
        if (!eventually([&] { return u.waiting_receivers() >= 2; })) return false;
        u.send(r);
      }
      return true;
    });
    int wins[2] = {0, 0};
    for (int r = 0; r < rounds; ++r) {
      const std::size_t i = goro::select(goro::on_recv(u), goro::on_recv(u));
      REQUIRE(i < 2);
      ++wins[i];
    }
    CHECK(h.get());
    CHECK(wins[0] + wins[1] == rounds);
    CHECK(wins[0] >= rounds / 2 - 60);
    CHECK(wins[1] >= rounds / 2 - 60);
  });
}

TEST_CASE("select with a send and a receive case on the same channel") {
  watchdog wd("send and recv on the same channel");
  goro::run([] {
    // Buffered: whichever is possible.
    goro::chan<int> c(1);
    std::optional<int> got;
    auto on_got = [&](std::optional<int> v) { got = v; };
    CHECK(goro::select(goro::on_send(c, 1), goro::on_recv(c, on_got)) == 0);  // empty: only send
    CHECK(c.size() == 1);
    CHECK(goro::select(goro::on_send(c, 2), goro::on_recv(c, on_got)) == 1);  // full: only recv
    CHECK(got == 1);
    CHECK(c.size() == 0);
  });
  // Go's TestSelfSelect: two coroutines select on sending and receiving on one channel; neither may
  // deadlock, and on an unbuffered channel a select never receives its own value.
  for (std::size_t cap : {std::size_t{0}, std::size_t{10}}) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      auto self_receives = std::make_shared<std::atomic<int>>(0);
      std::vector<goro::join_handle<void>> hs;
      for (int p = 0; p < 2; ++p)
        hs.push_back(goro::spawn([c, p, cap, self_receives]() mutable {
          auto check = [&](std::optional<int> v) {
            if (cap == 0 && v == p) self_receives->fetch_add(1);
          };
          for (int i = 0; i < 1000; ++i) {
            if (p == 0 || i % 2 == 0)
              goro::select(goro::on_send(c, p), goro::on_recv(c, check));
            else
              goro::select(goro::on_recv(c, check), goro::on_send(c, p));
          }
        }));
      for (auto& h : hs) h.get();
      CHECK(self_receives->load() == 0);
    });
  }
}

// ---- fairness -------------------------------------------------------------------------------

TEST_CASE("with several cases ready, select picks uniformly at random (k = 2, 3, 4 recv cases)") {
  goro::run([] {
    check_uniform(recv_fairness(fairness_n, std::make_index_sequence<2>{}), fairness_n);
    check_uniform(recv_fairness(fairness_n, std::make_index_sequence<3>{}), fairness_n);
    check_uniform(recv_fairness(fairness_n, std::make_index_sequence<4>{}), fairness_n);
  });
}

TEST_CASE("with a send and a recv case ready, select picks each half the time") {
  goro::run([] {
    goro::chan<int> in(1), out(1);
    in.send(0);
    fairness f;
    f.counts.assign(2, 0);
    std::size_t prev = 2;
    for (long t = 0; t < fairness_n; ++t) {
      const std::size_t i = goro::select(goro::on_recv(in), goro::on_send(out, 1));
      if (i > 1) {
        ++f.wrong;
        continue;
      }
      ++f.counts[i];
      if (i == 0 && !in.try_send(0)) ++f.wrong;  // keep `in` non-empty
      if (i == 1 && !out.try_recv()) ++f.wrong;  // keep `out` empty
      if (i == prev) ++f.repeats;
      prev = i;
    }
    check_uniform(f, fairness_n);
  });
}

// ---- views, payloads, callers ---------------------------------------------------------------

TEST_CASE("select accepts recv_chan in on_recv and send_chan in on_send") {
  goro::run([] {
    goro::chan<int> a(1), b(1);
    goro::recv_chan<int> r = a;
    goro::send_chan<int> s = b;
    a.send(1);
    std::optional<int> got;
    CHECK(goro::select(goro::on_recv(r, [&](std::optional<int> v) { got = v; })) == 0);
    CHECK(got == 1);
    CHECK(goro::select(goro::on_recv(r), goro::on_send(s, 2)) == 1);
    CHECK(b.recv() == 2);
  });
}

TEST_CASE("select with move-only payloads") {
  watchdog wd("select move-only");
  goro::run([] {
    goro::chan<std::unique_ptr<int>> ch(1);
    CHECK(goro::select(goro::on_send(ch, std::make_unique<int>(5))) == 0);
    std::unique_ptr<int> got;
    CHECK(goro::select(goro::on_recv(ch, [&](std::optional<std::unique_ptr<int>> v) {
            if (v) got = std::move(*v);
          })) == 0);
    REQUIRE(got != nullptr);
    CHECK(*got == 5);
    // Unbuffered, parked, with a partner coroutine.
    goro::chan<std::unique_ptr<int>> u, never;
    auto h = goro::spawn([u]() mutable {
      auto v = u.recv();
      return v && *v ? **v : -1;
    });
    CHECK(goro::select(goro::on_send(u, std::make_unique<int>(6)), goro::on_send(never, std::make_unique<int>(7))) ==
          0);
    CHECK(h.get() == 6);
    CHECK(never.waiting_senders() == 0);
  });
}

TEST_CASE("select from a plain thread blocks the thread until a coroutine makes a case ready") {
  watchdog wd("select on a plain thread");
  goro::run([] {
    goro::chan<int> a, b;
    goro::chan<long> result(1);
    std::thread t([a, b, result]() mutable {
      long got = -1;
      const std::size_t i = goro::select(goro::on_recv(a), goro::on_recv(b, [&](std::optional<int> v) {
                                           got = v.value_or(-2);
                                         }));
      result.send(i == 1 ? got : -3);
      // And a send case, parked, on the thread.
      const std::size_t j = goro::select(goro::on_send(a, 10), goro::on_recv(b));
      result.send(static_cast<long>(j));
    });
    CHECK(eventually([&] { return a.waiting_receivers() == 1 && b.waiting_receivers() == 1; }));
    b.send(9);
    CHECK(result.recv() == 9);
    CHECK(a.recv() == 10);
    CHECK(result.recv() == 0);
    t.join();
    CHECK(b.waiting_receivers() == 0);
  });
}

// ---- stress ---------------------------------------------------------------------------------

TEST_CASE("MPMC with select on both sides on two workers: every value received exactly once") {
  // Producers offer each value on two channels at once; consumers take from either, and switch a
  // case off (nil handle) once its channel is closed and drained.
  watchdog wd("MPMC select");
  constexpr int P = 4, C = 4;
  static constexpr int per = scaled(25000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{8}}) {
    CAPTURE(cap);
    std::vector<int> all;
    goro::run(goro::options{.workers = 2}, [&] {
      goro::chan<int> c1(cap), c2(cap);
      std::vector<goro::join_handle<void>> producers;
      for (int p = 0; p < P; ++p)
        producers.push_back(goro::spawn([c1, c2, p]() mutable {
          for (int i = 0; i < per; ++i) goro::select(goro::on_send(c1, p * per + i), goro::on_send(c2, p * per + i));
        }));
      std::vector<goro::join_handle<std::vector<int>>> consumers;
      for (int c = 0; c < C; ++c)
        consumers.push_back(goro::spawn([c1, c2]() mutable {
          std::vector<int> got;
          goro::chan<int> x = c1, y = c2;
          while (x || y) {
            bool x_done = false, y_done = false;
            goro::select(goro::on_recv(x,
                                       [&](std::optional<int> v) {
                                         if (v)
                                           got.push_back(*v);
                                         else
                                           x_done = true;
                                       }),
                         goro::on_recv(y, [&](std::optional<int> v) {
                           if (v)
                             got.push_back(*v);
                           else
                             y_done = true;
                         }));
            if (x_done) x = nullptr;
            if (y_done) y = nullptr;
          }
          return got;
        }));
      for (auto& h : producers) h.get();
      c1.close();
      c2.close();
      for (auto& h : consumers) {
        auto got = h.get();
        all.insert(all.end(), got.begin(), got.end());
      }
      CHECK(c1.waiting_senders() + c1.waiting_receivers() + c2.waiting_senders() + c2.waiting_receivers() == 0);
    });
    std::sort(all.begin(), all.end());
    std::vector<int> want(static_cast<std::size_t>(P * per));
    std::iota(want.begin(), want.end(), 0);
    CHECK(all.size() == want.size());
    CHECK(all == want);
  }
}

TEST_CASE("no waiter leak: after a million selects on two channels, nothing is left queued") {
  // Each select parks on two unbuffered channels (whenever the producer has not got there first)
  // and exactly one fires; the registration on the other must be withdrawn every time. The
  // producer sends on `b` only once in 1000 messages, so registrations left behind on `b` would
  // pile up between its turns: the producer checks now and then that each channel has at most
  // the one registration of the select in progress, and at the end (the last 499 messages go to
  // `a`) nothing may be left.
  watchdog wd("a million selects");
  static constexpr long n = goro_test::sanitized ? 100'000 : 1'000'000;
  goro::run([] {
    goro::chan<int> a, b;
    auto producer = goro::spawn([a, b]() mutable {
      long to_a = 0, piled_up = 0;
      for (long i = 0; i < n; ++i) {
        if (i % 100 == 0 && (a.waiting_receivers() > 1 || b.waiting_receivers() > 1)) ++piled_up;
        if (i % 1000 != 500) {
          a.send(1);
          ++to_a;
        } else {
          b.send(2);
        }
      }
      return std::pair{to_a, piled_up};
    });
    long got_a = 0, got_b = 0, bad = 0;
    for (long i = 0; i < n; ++i)
      goro::select(goro::on_recv(a, [&](std::optional<int> v) { v == 1 ? ++got_a : ++bad; }),
                   goro::on_recv(b, [&](std::optional<int> v) { v == 2 ? ++got_b : ++bad; }));
    const auto [to_a, piled_up] = producer.get();
    CHECK(bad == 0);
    CHECK(piled_up == 0);
    CHECK(got_a == to_a);
    CHECK(got_a + got_b == n);
    CHECK(a.waiting_receivers() == 0);
    CHECK(b.waiting_receivers() == 0);
    CHECK(a.waiting_senders() == 0);
    CHECK(b.waiting_senders() == 0);
  });
}
