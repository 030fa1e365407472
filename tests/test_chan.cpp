// Channels: Go's chan semantics, one case per rule. The "every capacity" stories are Go's
// TestChan (runtime/chan_test.go), looping over capacities 0..20 as it does; then FIFO among
// waiters, direct hand-off, close, nil, direction views, move-only payloads, plain threads, MPMC
// stress and the concurrent prime sieve.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "support.hpp"
#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::eventually;
using goro_test::let_others_run;
using goro_test::scaled;
using goro_test::watchdog;

namespace {

// Go's TestChan loops over capacities 0..N; add two larger ones.
std::vector<std::size_t> capacities() {
  std::vector<std::size_t> caps;
  for (std::size_t c = 0; c <= 20; ++c) caps.push_back(c);
  caps.push_back(64);
  caps.push_back(100);
  return caps;
}

// The first n primes by a plain sieve of Eratosthenes: the reference for the concurrent sieve.
std::vector<int> first_primes(std::size_t n) {
  std::vector<int> primes;
  for (int limit = 64;; limit *= 2) {
    std::vector<bool> composite(static_cast<std::size_t>(limit) + 1);
    primes.clear();
    for (int i = 2; i <= limit && primes.size() < n; ++i) {
      if (composite[static_cast<std::size_t>(i)]) continue;
      primes.push_back(i);
      for (long j = static_cast<long>(i) * i; j <= limit; j += i) composite[static_cast<std::size_t>(j)] = true;
    }
    if (primes.size() == n) return primes;
  }
}

// One stage of the sieve: passes on what `prime` does not divide; closes its output at the end.
void sieve_filter(goro::recv_chan<int> in, goro::send_chan<int> out, int prime) {
  for (int v : in)
    if (v % prime != 0) out.send(v);
  out.close();
}

// Direction views: what each one may do (a requires-expression in a concept, so that "has no
// such member" is a false, not a compile error).
template <class C>
concept can_send = requires(C c, int v) { c.send(v); };
template <class C>
concept can_try_send = requires(C c, int v) { c.try_send(v); };
template <class C>
concept can_recv = requires(C c) { c.recv(); };
template <class C>
concept can_try_recv = requires(C c) { c.try_recv(); };
template <class C>
concept can_close = requires(C c) { c.close(); };
template <class C>
concept can_range = requires(C c) {
  c.begin();
  c.end();
};

static_assert(can_send<goro::chan<int>> && can_recv<goro::chan<int>> && can_close<goro::chan<int>>);
static_assert(can_send<goro::send_chan<int>> && can_try_send<goro::send_chan<int>> &&
              can_close<goro::send_chan<int>>);
static_assert(!can_recv<goro::send_chan<int>> && !can_try_recv<goro::send_chan<int>> &&
              !can_range<goro::send_chan<int>>);
static_assert(can_recv<goro::recv_chan<int>> && can_try_recv<goro::recv_chan<int>> &&
              can_range<goro::recv_chan<int>>);
static_assert(!can_send<goro::recv_chan<int>> && !can_try_send<goro::recv_chan<int>>);
static_assert(!can_close<goro::recv_chan<int>>, "Go: cannot close a receive-only channel");
static_assert(std::is_convertible_v<goro::chan<int>, goro::send_chan<int>>);
static_assert(std::is_convertible_v<goro::chan<int>, goro::recv_chan<int>>);
static_assert(!std::is_convertible_v<goro::send_chan<int>, goro::recv_chan<int>>);
static_assert(!std::is_convertible_v<goro::recv_chan<int>, goro::send_chan<int>>);
static_assert(!std::is_convertible_v<goro::recv_chan<int>, goro::chan<int>>);

template <class C>
concept constructible_from_literal_zero = requires { C(0); };

static_assert(std::is_base_of_v<goro::channel_error, goro::closed_channel_error>);
static_assert(std::is_base_of_v<std::logic_error, goro::channel_error>);
static_assert(!std::is_convertible_v<goro::chan<int>, bool>, "operator bool is explicit");
static_assert(std::is_constructible_v<bool, goro::chan<int>>);

int send_all(goro::send_chan<int> out, int n) {
  for (int i = 0; i < n; ++i) out.send(i);
  out.close();
  return n;
}

long sum_all(goro::recv_chan<int> in) {
  long s = 0;
  for (int v : in) s += v;
  return s;
}

}  // namespace

// ---- handles --------------------------------------------------------------------------------

TEST_CASE("a chan handle is cheap to copy and copies refer to the same channel") {
  goro::run([] {
    goro::chan<int> a(3);
    goro::chan<int> b = a;
    CHECK(a == b);
    CHECK(b.capacity() == 3);
    b.send(1);
    CHECK(a.size() == 1);
    CHECK(a.recv() == 1);
    CHECK(b.size() == 0);
    goro::chan<int> c(3);
    CHECK_FALSE(a == c);
    CHECK(a != c);
    goro::chan<int> d(1);
    d = a;  // copy assignment: now the same channel as a
    CHECK(d == a);
    CHECK(d.capacity() == 3);
    CHECK_FALSE(a.closed());
    a.close();
    CHECK(b.closed());
    CHECK(d.closed());
    CHECK_FALSE(c.closed());
  });
}

TEST_CASE("chan<T>() and chan<T>(0) are unbuffered and not nil") {
  // The literal 0 is also a null pointer constant: chan(std::size_t) and chan(std::nullptr_t)
  // must not make chan<int>(0) ambiguous (checked here, where failing it does not break the build).
  CHECK(constructible_from_literal_zero<goro::chan<int>>);
  goro::run([] {
    goro::chan<int> a;
    goro::chan<int> b(std::size_t{0});
    for (auto* ch : {&a, &b}) {
      CHECK(ch->capacity() == 0);
      CHECK(ch->size() == 0);
      CHECK(static_cast<bool>(*ch));
      CHECK_FALSE(*ch == nullptr);
      CHECK_FALSE(ch->try_send(1));  // no receiver waiting
      CHECK_FALSE(ch->try_recv().has_value());
    }
    CHECK_FALSE(a == b);  // two channels
  });
}

TEST_CASE("nil channels: chan<T>(nullptr), = nullptr, comparison and the try operations") {
  goro::run([] {
    goro::chan<int> n(nullptr);
    CHECK(n == nullptr);
    CHECK_FALSE(static_cast<bool>(n));
    CHECK(n == goro::chan<int>(nullptr));  // nil == nil
    goro::chan<int> a(2);
    goro::chan<int> keep = a;
    CHECK_FALSE(a == nullptr);
    CHECK(static_cast<bool>(a));
    a = nullptr;
    CHECK(a == nullptr);
    CHECK_FALSE(static_cast<bool>(a));
    CHECK_FALSE(keep == nullptr);  // the channel itself lives on in the other handle
    keep.send(5);
    CHECK(keep.recv() == 5);
    // try operations on nil never succeed and never block.
    CHECK_FALSE(n.try_send(1));
    int v = 7;
    CHECK_FALSE(n.try_send(v));
    CHECK_FALSE(n.try_recv().has_value());
    // close of nil is an error, as in Go.
    CHECK_THROWS_WITH_AS(n.close(), "close of nil channel", goro::channel_error);
  });
}

TEST_CASE("send, recv and range on a nil channel, and selects with no live case, block forever (child process)") {
  auto r = goro_test::run_crash_helper({"nil_blocks"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(goro_test::contains(r.err, "nil channel operations returned: 0"));
}

// ---- unbuffered rendezvous ------------------------------------------------------------------

TEST_CASE("unbuffered: send returns only after a receiver has taken the value") {
  watchdog wd("unbuffered send waits for a receiver");
  goro::run([] {
    goro::chan<int> ch;
    auto started = std::make_shared<std::atomic<bool>>(false);
    auto returned = std::make_shared<std::atomic<bool>>(false);
    auto h = goro::spawn([ch, started, returned]() mutable {
      started->store(true);
      ch.send(42);
      returned->store(true);
    });
    REQUIRE(eventually([&] { return started->load(); }));
    CHECK(eventually([&] { return ch.waiting_senders() == 1; }));
    let_others_run();  // the sender has every chance to (wrongly) finish its send
    CHECK_FALSE(returned->load());
    CHECK(ch.size() == 0);  // nothing was parked in a buffer
    CHECK(ch.recv() == 42);
    h.get();
    CHECK(returned->load());
    CHECK(ch.waiting_senders() == 0);
  });
}

TEST_CASE("unbuffered: recv returns only after a sender has sent") {
  watchdog wd("unbuffered recv waits for a sender");
  goro::run([] {
    goro::chan<int> ch;
    auto returned = std::make_shared<std::atomic<bool>>(false);
    auto h = goro::spawn([ch, returned]() mutable {
      auto v = ch.recv();
      returned->store(true);
      return v;
    });
    CHECK(eventually([&] { return ch.waiting_receivers() == 1; }));
    let_others_run();
    CHECK_FALSE(returned->load());
    ch.send(9);
    CHECK(h.get() == 9);
    CHECK(ch.waiting_receivers() == 0);
  });
}

TEST_CASE("unbuffered: try_send succeeds only with a receiver waiting, try_recv only with a sender waiting") {
  watchdog wd("unbuffered try ops");
  goro::run([] {
    goro::chan<int> ch;
    CHECK_FALSE(ch.try_send(1));
    CHECK_FALSE(ch.try_recv().has_value());
    auto r = goro::spawn([ch]() mutable { return ch.recv(); });
    REQUIRE(eventually([&] { return ch.waiting_receivers() == 1; }));
    CHECK(ch.try_send(11));
    CHECK(r.get() == 11);
    auto s = goro::spawn([ch]() mutable { ch.send(12); });
    REQUIRE(eventually([&] { return ch.waiting_senders() == 1; }));
    CHECK(ch.try_recv() == 12);
    s.get();
    CHECK_FALSE(ch.try_recv().has_value());
  });
}

// ---- Go's TestChan, for every capacity ------------------------------------------------------

TEST_CASE("every capacity: a receive from an empty channel blocks, and try_recv does not") {
  watchdog wd("recv from empty channel blocks");
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      auto recv1 = std::make_shared<std::atomic<bool>>(false);
      auto recv2 = std::make_shared<std::atomic<bool>>(false);
      auto h1 = goro::spawn([c, recv1]() mutable {
        auto v = c.recv();
        recv1->store(true);
        return v;
      });
      auto h2 = goro::spawn([c, recv2]() mutable {
        auto v = c.recv();
        recv2->store(true);
        return v;
      });
      CHECK(eventually([&] { return c.waiting_receivers() == 2; }));
      let_others_run(50, 1ms);
      CHECK_FALSE(recv1->load());
      CHECK_FALSE(recv2->load());
      CHECK_FALSE(c.try_recv().has_value());
      c.send(0);
      c.send(0);
      CHECK(h1.get() == 0);
      CHECK(h2.get() == 0);
      CHECK(c.waiting_receivers() == 0);
    });
  }
}

TEST_CASE("every capacity: a send to a full channel blocks, and try_send does not") {
  watchdog wd("send to full channel blocks");
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
      auto sent = std::make_shared<std::atomic<bool>>(false);
      auto h = goro::spawn([c, sent]() mutable {
        c.send(-1);
        sent->store(true);
      });
      CHECK(eventually([&] { return c.waiting_senders() == 1; }));
      let_others_run(50, 1ms);
      CHECK_FALSE(sent->load());
      CHECK_FALSE(c.try_send(-2));
      CHECK(c.size() == cap);
      // FIFO: the buffered values first, then the parked sender's.
      for (std::size_t i = 0; i < cap; ++i) CHECK(c.recv() == static_cast<int>(i));
      CHECK(c.recv() == -1);
      h.get();
      CHECK(sent->load());
      CHECK(c.size() == 0);
    });
  }
}

TEST_CASE("every capacity: values buffered before close are received, then empty") {
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
      c.close();
      CHECK(c.closed());
      CHECK(c.size() == cap);
      for (std::size_t i = 0; i < cap; ++i) {
        CHECK(c.recv() == static_cast<int>(i));
        CHECK(c.size() == cap - i - 1);
      }
      CHECK_FALSE(c.recv().has_value());
      CHECK_FALSE(c.recv().has_value());  // and again: a closed channel stays drained
      CHECK_FALSE(c.try_recv().has_value());
    });
  }
}

TEST_CASE("every capacity: close unblocks a parked receive with empty") {
  watchdog wd("close unblocks receive");
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      auto h = goro::spawn([c]() mutable { return c.recv(); });
      CHECK(eventually([&] { return c.waiting_receivers() == 1; }));
      c.close();
      CHECK_FALSE(h.get().has_value());
      CHECK(c.waiting_receivers() == 0);
    });
  }
}

TEST_CASE("every capacity: 100 values arrive uncorrupted in FIFO order") {
  watchdog wd("FIFO 100 values");
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      auto h = goro::spawn([c]() mutable {
        for (int i = 0; i < 100; ++i) c.send(i);
      });
      int bad = 0;
      for (int i = 0; i < 100; ++i) {
        auto v = c.recv();
        if (!v || *v != i) ++bad;
      }
      CHECK(bad == 0);
      h.get();
      // The same with try_recv in a yield loop on the receiving side.
      auto h2 = goro::spawn([c]() mutable {
        for (int i = 0; i < 100; ++i) c.send(i);
      });
      for (int i = 0; i < 100; ++i) {
        std::optional<int> v;
        REQUIRE(eventually([&] { return (v = c.try_recv()).has_value(); }));
        if (*v != i) ++bad;
      }
      CHECK(bad == 0);
      h2.get();
    });
  }
}

TEST_CASE("every capacity: 4 senders and 4 receivers exchange 4x1000 values, each received once") {
  watchdog wd("4 senders 4 receivers");
  static constexpr int P = 4, L = 1000;
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      std::vector<goro::join_handle<void>> senders;
      for (int p = 0; p < P; ++p)
        senders.push_back(goro::spawn([c]() mutable {
          for (int i = 0; i < L; ++i) c.send(i);
        }));
      std::vector<goro::join_handle<std::vector<int>>> receivers;
      for (int p = 0; p < P; ++p)
        receivers.push_back(goro::spawn([c]() mutable {
          std::vector<int> count(L);
          for (int i = 0; i < L; ++i) {
            auto v = c.recv();
            if (v && *v >= 0 && *v < L) ++count[static_cast<std::size_t>(*v)];
          }
          return count;
        }));
      std::vector<int> total(L);
      for (auto& r : receivers) {
        auto part = r.get();
        for (int i = 0; i < L; ++i) total[static_cast<std::size_t>(i)] += part[static_cast<std::size_t>(i)];
      }
      for (auto& s : senders) s.get();
      CHECK(std::count(total.begin(), total.end(), P) == L);
    });
  }
}

TEST_CASE("every capacity: size and capacity") {
  for (std::size_t cap : capacities()) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      CHECK(c.size() == 0);
      CHECK(c.capacity() == cap);
      for (std::size_t i = 0; i < cap; ++i) c.send(static_cast<int>(i));
      CHECK(c.size() == cap);
      CHECK(c.capacity() == cap);
    });
  }
}

// ---- buffered -------------------------------------------------------------------------------

TEST_CASE("buffered: try_send fails exactly at capacity and values come out in FIFO order") {
  for (std::size_t cap = 1; cap <= 16; ++cap) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> c(cap);
      for (std::size_t i = 0; i < cap; ++i) {
        CHECK(c.try_send(static_cast<int>(i) * 3));
        CHECK(c.size() == i + 1);
      }
      CHECK_FALSE(c.try_send(-1));
      CHECK_FALSE(c.try_send(-2));
      CHECK(c.size() == cap);
      // Take one, and exactly one slot opens.
      CHECK(c.try_recv() == 0);
      CHECK(c.try_send(1000));
      CHECK_FALSE(c.try_send(-3));
      for (std::size_t i = 1; i < cap; ++i) CHECK(c.try_recv() == static_cast<int>(i) * 3);
      CHECK(c.try_recv() == 1000);
      CHECK_FALSE(c.try_recv().has_value());
    });
  }
}

TEST_CASE("a try_send that fails does not move from its argument") {
  goro::run([] {
    goro::chan<std::unique_ptr<int>> full(1);
    CHECK(full.try_send(std::make_unique<int>(1)));
    auto p = std::make_unique<int>(2);
    CHECK_FALSE(full.try_send(std::move(p)));
    REQUIRE(p != nullptr);
    CHECK(*p == 2);
    goro::chan<std::unique_ptr<int>> unbuffered;  // no receiver
    CHECK_FALSE(unbuffered.try_send(std::move(p)));
    REQUIRE(p != nullptr);
    CHECK(*p == 2);
    goro::chan<std::string> s;
    std::string text = "a string long enough to live on the heap, not in the SSO buffer";
    CHECK_FALSE(s.try_send(std::move(text)));
    CHECK(text == "a string long enough to live on the heap, not in the SSO buffer");
  });
}

TEST_CASE("a waiting receiver gets the value handed over directly, not through the buffer") {
  // One worker, and no yield between send() and the checks: the receiver cannot have run in
  // between, so a value put in the buffer would still be counted by size().
  watchdog wd("direct hand-off");
  goro::run(goro::options{.workers = 1}, [] {
    goro::chan<int> ch(1);
    auto h = goro::spawn([ch]() mutable { return ch.recv(); });
    REQUIRE(eventually([&] { return ch.waiting_receivers() == 1; }));
    ch.send(1);
    CHECK(ch.size() == 0);
    CHECK(ch.waiting_receivers() == 0);
    CHECK(ch.try_send(2));  // the slot is still free
    CHECK_FALSE(ch.try_send(3));
    CHECK(h.get() == 1);
    CHECK(ch.recv() == 2);
  });
}

// ---- FIFO among waiters ---------------------------------------------------------------------

TEST_CASE("parked receivers are served in FIFO order (capacities 0 and 2)") {
  // Each receiver is started only once the previous one is queued: the queue order is known
  // whatever the worker count.
  watchdog wd("receivers FIFO");
  for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> ch(cap);
      std::vector<goro::join_handle<std::optional<int>>> hs;
      for (std::size_t i = 0; i < 4; ++i) {
        hs.push_back(goro::spawn([ch]() mutable { return ch.recv(); }));
        REQUIRE(eventually([&] { return ch.waiting_receivers() == i + 1; }));
      }
      for (int i = 0; i < 4; ++i) ch.send(i * 10);
      for (int i = 0; i < 4; ++i) CHECK(hs[static_cast<std::size_t>(i)].get() == i * 10);
    });
  }
}

TEST_CASE("parked senders on an unbuffered channel are served in FIFO order") {
  watchdog wd("senders FIFO");
  goro::run([] {
    goro::chan<int> ch;
    std::vector<goro::join_handle<void>> hs;
    for (std::size_t i = 0; i < 4; ++i) {
      hs.push_back(goro::spawn([ch, i]() mutable { ch.send(static_cast<int>(i)); }));
      REQUIRE(eventually([&] { return ch.waiting_senders() == i + 1; }));
    }
    for (int i = 0; i < 4; ++i) CHECK(ch.recv() == i);
    for (auto& h : hs) h.get();
    CHECK(ch.waiting_senders() == 0);
  });
}

TEST_CASE("parked senders on a full buffer queue behind it in FIFO order, ahead of later senders") {
  // Go: a receive from a full buffer with a sender waiting takes the head and moves that sender's
  // value to the tail; the buffer stays full, so a newcomer's try_send cannot jump the queue.
  watchdog wd("full buffer senders FIFO");
  goro::run([] {
    goro::chan<int> ch(2);
    ch.send(100);
    ch.send(101);
    std::vector<goro::join_handle<void>> hs;
    for (std::size_t i = 0; i < 3; ++i) {
      hs.push_back(goro::spawn([ch, i]() mutable { ch.send(static_cast<int>(i)); }));
      REQUIRE(eventually([&] { return ch.waiting_senders() == i + 1; }));
    }
    CHECK(ch.recv() == 100);
    CHECK(ch.size() == 2);
    CHECK(ch.waiting_senders() == 2);
    CHECK_FALSE(ch.try_send(999));
    std::vector<int> rest;
    for (int i = 0; i < 4; ++i) rest.push_back(ch.recv().value_or(-1));
    CHECK(rest == std::vector<int>{101, 0, 1, 2});
    for (auto& h : hs) h.get();
    CHECK(ch.size() == 0);
    CHECK(ch.waiting_senders() == 0);
  });
}

// ---- close ----------------------------------------------------------------------------------

TEST_CASE("close wakes every parked receiver with empty") {
  watchdog wd("close wakes receivers");
  for (std::size_t cap : {std::size_t{0}, std::size_t{4}}) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> ch(cap);
      std::vector<goro::join_handle<std::optional<int>>> hs;
      for (int i = 0; i < 3; ++i) hs.push_back(goro::spawn([ch]() mutable { return ch.recv(); }));
      REQUIRE(eventually([&] { return ch.waiting_receivers() == 3; }));
      ch.close();
      for (auto& h : hs) CHECK_FALSE(h.get().has_value());
      CHECK(ch.waiting_receivers() == 0);
    });
  }
}

TEST_CASE("close wakes every parked sender and each throws closed_channel_error") {
  watchdog wd("close wakes senders");
  for (std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> ch(cap);
      for (std::size_t i = 0; i < cap; ++i) ch.send(100 + static_cast<int>(i));
      std::vector<goro::join_handle<std::string>> hs;
      for (int i = 0; i < 3; ++i)
        hs.push_back(goro::spawn([ch, i]() mutable -> std::string {
          try {
            ch.send(i);
          } catch (const goro::closed_channel_error& e) {
            return e.what();
          }
          return "send returned";
        }));
      REQUIRE(eventually([&] { return ch.waiting_senders() == 3; }));
      ch.close();
      for (auto& h : hs) CHECK(h.get() == "send on closed channel");
      CHECK(ch.waiting_senders() == 0);
      // What was buffered before the close is still there; the failed sends added nothing.
      for (std::size_t i = 0; i < cap; ++i) CHECK(ch.recv() == 100 + static_cast<int>(i));
      CHECK_FALSE(ch.recv().has_value());
    });
  }
}

TEST_CASE("send and try_send on a closed channel throw 'send on closed channel'") {
  goro::run([] {
    for (std::size_t cap : {std::size_t{0}, std::size_t{3}}) {
      goro::chan<int> ch(cap);
      ch.close();
      CHECK_THROWS_WITH_AS(ch.send(1), "send on closed channel", goro::closed_channel_error);
      int v = 2;
      CHECK_THROWS_WITH_AS(ch.send(v), "send on closed channel", goro::closed_channel_error);
      CHECK_THROWS_WITH_AS(ch.try_send(3), "send on closed channel", goro::closed_channel_error);
      CHECK_THROWS_AS(ch.try_send(v), goro::channel_error);
      CHECK_THROWS_AS(ch.send(4), std::logic_error);
      CHECK(ch.size() == 0);
    }
  });
}

TEST_CASE("closing a closed channel throws 'close of closed channel'") {
  goro::run([] {
    goro::chan<int> ch(1);
    ch.send(1);
    ch.close();
    CHECK_THROWS_WITH_AS(ch.close(), "close of closed channel", goro::closed_channel_error);
    goro::chan<int> copy = ch;
    CHECK_THROWS_AS(copy.close(), goro::closed_channel_error);
    CHECK(ch.recv() == 1);  // the failed close did not disturb the buffer
  });
}

// ---- range, views -----------------------------------------------------------------------------

TEST_CASE("range-for receives every value until the channel is closed and drained") {
  watchdog wd("range-for");
  goro::run([] {
    // (No CAPTURE in here: doctest keeps it per thread, and this coroutine may change threads.)
    for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{8}, std::size_t{200}}) {
      goro::chan<int> ch(cap);
      auto h = goro::spawn([ch]() mutable {
        for (int i = 0; i < 100; ++i) ch.send(i);
        ch.close();
      });
      std::vector<int> got;
      for (int v : ch) got.push_back(v);
      std::vector<int> want(100);
      std::iota(want.begin(), want.end(), 0);
      CHECK_MESSAGE(got == want, "capacity " << cap);
      h.get();
    }
    // An already closed, empty channel: the loop body never runs.
    goro::chan<int> done;
    done.close();
    int n = 0;
    for (int v : done) n += 1 + v;
    CHECK(n == 0);
  });
}

TEST_CASE("direction views: functions taking send_chan and recv_chan accept a chan") {
  watchdog wd("direction views");
  goro::run([] {
    goro::chan<int> ch(4);
    goro::send_chan<int> s = ch;
    goro::recv_chan<int> r = ch;
    CHECK(s.capacity() == 4);
    CHECK(r.capacity() == 4);
    CHECK(s.try_send(1));
    CHECK(r.size() == 1);
    CHECK(s.size() == 1);
    CHECK(r.try_recv() == 1);
    auto producer = goro::spawn(send_all, ch, 1000);  // chan<int> -> send_chan<int>
    CHECK(sum_all(ch) == 999L * 1000 / 2);            // chan<int> -> recv_chan<int>
    CHECK(producer.get() == 1000);
    CHECK(ch.closed());
    CHECK_FALSE(r.recv().has_value());
  });
}

// ---- payloads and callers -------------------------------------------------------------------

TEST_CASE("move-only payloads: unique_ptr through buffered and unbuffered channels") {
  watchdog wd("move-only payloads");
  goro::run([] {
    goro::chan<std::unique_ptr<int>> b(2);
    b.send(std::make_unique<int>(1));
    auto p = std::make_unique<int>(2);
    CHECK(b.try_send(std::move(p)));
    CHECK(p == nullptr);
    auto r1 = b.recv();
    REQUIRE(r1.has_value());
    REQUIRE(*r1 != nullptr);
    CHECK(**r1 == 1);
    auto r2 = b.try_recv();
    REQUIRE(r2.has_value());
    REQUIRE(*r2 != nullptr);
    CHECK(**r2 == 2);

    goro::chan<std::unique_ptr<int>> u;
    auto h = goro::spawn([u]() mutable {
      for (int i = 0; i < 100; ++i) u.send(std::make_unique<int>(i));
      u.close();
    });
    int i = 0, bad = 0;
    while (auto v = u.recv()) {
      if (!*v || **v != i) ++bad;
      ++i;
    }
    CHECK(i == 100);
    CHECK(bad == 0);
    h.get();
  });
}

TEST_CASE("a plain thread sends and a coroutine receives (capacities 0, 1, 16)") {
  watchdog wd("thread -> coroutine");
  static constexpr int n = scaled(5000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> ch(cap);
      std::thread t([ch]() mutable {
        for (int i = 0; i < n; ++i) ch.send(i);
        ch.close();
      });
      int expect = 0, bad = 0;
      for (int v : ch) {
        if (v != expect) ++bad;
        ++expect;
      }
      CHECK(expect == n);
      CHECK(bad == 0);
      t.join();
    });
  }
}

TEST_CASE("a coroutine sends and a plain thread receives (capacities 0, 1, 16)") {
  watchdog wd("coroutine -> thread");
  static constexpr int n = scaled(5000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{16}}) {
    CAPTURE(cap);
    goro::run([cap] {
      goro::chan<int> ch(cap);
      goro::chan<long> result(1);
      std::thread t([ch, result]() mutable {
        long bad = 0, count = 0;
        for (int v : ch) {
          if (v != count) ++bad;
          ++count;
        }
        result.send(bad == 0 ? count : -1);
      });
      auto producer = goro::spawn([ch]() mutable {
        for (int i = 0; i < n; ++i) ch.send(i);
        ch.close();
      });
      CHECK(result.recv() == long{n});  // parks main: the producer may need this worker
      producer.get();
      t.join();
    });
  }
}

TEST_CASE("ping-pong over unbuffered channels between a plain thread and a coroutine") {
  watchdog wd("thread/coroutine ping-pong");
  static constexpr int n = scaled(5000);
  goro::run([] {
    goro::chan<int> ping, pong;
    goro::chan<int> result(1);
    auto echo = goro::spawn([ping, pong]() mutable {
      for (int v : ping) pong.send(v + 1);
      pong.close();
    });
    std::thread t([ping, pong, result]() mutable {
      int bad = 0;
      for (int i = 0; i < n; ++i) {
        ping.send(i);
        auto v = pong.recv();
        if (!v || *v != i + 1) ++bad;
      }
      ping.close();
      if (pong.recv().has_value()) ++bad;  // the echo closed it after ping closed
      result.send(bad);
    });
    CHECK(result.recv() == 0);
    echo.get();
    t.join();
  });
}

TEST_CASE("two plain threads exchange values through an unbuffered channel while the runtime runs") {
  watchdog wd("thread <-> thread");
  static constexpr int n = scaled(5000);
  goro::run([] {
    goro::chan<int> ch;
    goro::chan<long> result(1);
    std::thread producer([ch]() mutable {
      for (int i = 0; i < n; ++i) ch.send(i);
      ch.close();
    });
    std::thread consumer([ch, result]() mutable {
      long sum = 0;
      for (int v : ch) sum += v;
      result.send(sum);
    });
    CHECK(result.recv() == static_cast<long>(n) * (n - 1) / 2);
    producer.join();
    consumer.join();
  });
}

// ---- stress ---------------------------------------------------------------------------------

TEST_CASE("MPMC stress on two workers: every value is received exactly once (capacities 0, 1, 64)") {
  // 4 producers and 4 consumers. Besides the multiset check: a consumer sees each producer's
  // values in increasing order (a producer's sends are sequential, and the channel is FIFO).
  watchdog wd("MPMC stress");
  constexpr int P = 4, C = 4;
  static constexpr int per = scaled(50000);
  for (std::size_t cap : {std::size_t{0}, std::size_t{1}, std::size_t{64}}) {
    CAPTURE(cap);
    std::vector<int> all;
    int order_violations = 0;
    goro::run(goro::options{.workers = 2}, [&] {
      goro::chan<int> ch(cap);
      std::vector<goro::join_handle<void>> producers;
      for (int p = 0; p < P; ++p)
        producers.push_back(goro::spawn([ch, p]() mutable {
          for (int i = 0; i < per; ++i) ch.send(p * per + i);
        }));
      std::vector<goro::join_handle<std::vector<int>>> consumers;
      for (int c = 0; c < C; ++c)
        consumers.push_back(goro::spawn([ch]() mutable {
          std::vector<int> got;
          for (int v : ch) got.push_back(v);
          return got;
        }));
      for (auto& h : producers) h.get();
      ch.close();
      for (auto& h : consumers) {
        auto got = h.get();
        std::array<int, P> last;
        last.fill(-1);
        for (int v : got) {
          int p = v / per;
          if (p < 0 || p >= P) continue;  // caught by the multiset check
          if (v <= last[static_cast<std::size_t>(p)]) ++order_violations;
          last[static_cast<std::size_t>(p)] = v;
        }
        all.insert(all.end(), got.begin(), got.end());
      }
    });
    std::sort(all.begin(), all.end());
    std::vector<int> want(static_cast<std::size_t>(P * per));
    std::iota(want.begin(), want.end(), 0);
    CHECK(all.size() == want.size());
    CHECK(all == want);
    CHECK(order_violations == 0);
  }
}

TEST_CASE("the concurrent prime sieve finds the first primes (a chain of unbuffered channels)") {
  // Go's classic sieve: a generator feeds 2..limit into a chain of filters, one coroutine per prime
  // found. The generator stops at the last expected prime and the closes cascade down the chain,
  // so every coroutine ends and is joined.
  watchdog wd("prime sieve");
  const std::size_t n = goro_test::sanitized ? 300 : 1000;
  const std::vector<int> want = first_primes(n);
  const int limit = want.back();
  std::vector<int> got;
  goro::run([&] {
    goro::chan<int> ch;
    std::vector<goro::join_handle<void>> stages;
    stages.push_back(goro::spawn([ch, limit]() mutable {
      for (int i = 2; i <= limit; ++i) ch.send(i);
      ch.close();
    }));
    for (std::size_t i = 0; i < n; ++i) {
      auto p = ch.recv();
      REQUIRE(p.has_value());
      got.push_back(*p);
      goro::chan<int> next;
      stages.push_back(goro::spawn(sieve_filter, ch, next, *p));
      ch = next;
    }
    CHECK_FALSE(ch.recv().has_value());
    for (auto& s : stages) s.get();
  });
  CHECK(got == want);
}

// A receiver on an otherwise idle worker polls an empty buffered channel briefly before parking
// (chan_state.hpp, "Polling before parking"). Whatever arrives while it polls or after it parks,
// every value comes once and in order, and a close seen while polling ends the receive.
TEST_CASE("buffered: a receiver polling before it parks gets every value in order, and sees close") {
  goro::run(goro::options{.workers = 2}, [] {
    for (int round = 0; round < 50; ++round) {
      goro::chan<int> ch(4);
      constexpr int n = 2000;
      auto consumer = goro::spawn([ch]() mutable {
        int expect = 0;
        bool ok = true;
        while (std::optional<int> v = ch.recv()) ok = ok && *v == expect++;
        return ok ? expect : -1;
      });
      auto producer = goro::spawn([ch, round]() mutable {
        for (int i = 0; i < n; ++i) {
          ch.send(i);
          // Gaps of a few hundred ns to tens of us: some land while the receiver polls, some after
          // it has parked.
          const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds((i * 7919 + round * 31) % 20000);
          while (std::chrono::steady_clock::now() < until) {
          }
        }
        ch.close();  // may land while the receiver polls
      });
      producer.get();
      CHECK(consumer.get() == n);
    }
    // Close with nothing sent: the receive ends empty whether it was polling or parked.
    for (int round = 0; round < 200; ++round) {
      goro::chan<int> ch(1);
      auto r = goro::spawn([ch]() mutable { return ch.recv().has_value(); });
      const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(round * 50);
      while (std::chrono::steady_clock::now() < until) {
      }
      ch.close();
      CHECK_FALSE(r.get());
    }
    return 0;
  });
}
