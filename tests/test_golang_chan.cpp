// Go's own channel and select tests, ported from Go and rewritten by hand for goro (in the spirit
// of crossbeam-channel's tests/golang.rs, "Tests copied from Go and manually rewritten").
//
// Sources (github.com/golang/go):
//   src/runtime/chan_test.go            TestChan ... TestSelectStackAdjust
//   src/runtime/chanbarrier_test.go     TestChanSendBarrier, TestChanSendSelectBarrier
//   src/runtime/race/testdata/chan_test.go  the TestNoRace* programs (memory model: the TSan
//                                       build checks the happens-before edges they rely on) and the
//                                       close races (TestRaceChanSendClose, ...CloseClose, ...)
//   test/chan/doubleselect.go, select.go, select3.go, select6.go, select7.go, select8.go,
//   nonblock.go, fifo.go, sendstmt.go; test/closedchan.go
//
// Every test case is named "golang: <the Go test>" and cites its source above it. The constants are
// Go's own (its full counts, not -short ones) except where a comment says otherwise; they shrink
// only under ThreadSanitizer (`tsan_scaled`), which runs this code 10 to 50 times slower.
//
// Translation rules used throughout:
//   make(chan T, n)        goro::chan<T>(n)            close(c)          c.close()
//   c <- v                 c.send(v)                   v, ok := <-c      std::optional<T> v = c.recv()
//   v := <-c (zero on closed)  c.recv().value_or(0)    nil channel       goro::chan<T>(nullptr)
//   select {...}           goro::select(on_recv/on_send/on_default)
//   go f()                 goro::go(...)               runtime.Gosched() goro::yield()
//   panic (send on closed) goro::closed_channel_error  t.Fatalf          failures::add (+ stop)
//   time.Sleep             goro::sleep_for             sync.WaitGroup    goro::wait_group
// Go's tests do not wait for their goroutines; these do (a wait_group, or a final receive) before
// goro::run returns, so that no coroutine outlives the locals it refers to. The tests never assume
// a worker count: the suite runs them at several (--gomaxprocs).
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <any>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "chan_support.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;

namespace {

// Only ThreadSanitizer scales the counts (AddressSanitizer runs these fast enough at Go's counts).
constexpr bool under_tsan = GORO_TSAN != 0;
template <class T>
constexpr T tsan_scaled(T n, T divisor = 10) {
  return under_tsan ? n / divisor : n;
}

// Failures seen on any coroutine, reported by the test's thread after goro::run: doctest's
// assertions are thread-safe, but its context (INFO) is per thread and a coroutine may move
// between threads. The first few messages are kept, the rest counted.
class failures {
 public:
  template <class... A>
  void add(const A&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    std::lock_guard lk(mu_);
    if (msgs_.size() < 8) msgs_.push_back(os.str());
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  bool any() const { return count_.load(std::memory_order_relaxed) != 0; }
  int count() const { return count_.load(std::memory_order_relaxed); }
  std::string text() const {
    std::lock_guard lk(mu_);
    std::string s;
    for (const auto& m : msgs_) s += m + "\n";
    return s;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> msgs_;
  std::atomic<int> count_{0};
};

#define GOLANG_CHECK_NO_FAILURES(f) CHECK_MESSAGE(!(f).any(), (f).count() << " failure(s):\n" << (f).text())

// Go's stackGrowthRecursive (runtime/stack_test.go): i frames of 1 KiB each. noinline and a
// volatile pad so the compiler keeps the frames; the write after the call keeps it from being a
// tail call.
__attribute__((noinline)) void stack_growth_recursive(int i) {
  volatile std::uint64_t pad[128];
  pad[0] = 0;
  if (i != 0 && pad[0] == 0) stack_growth_recursive(i - 1);
  pad[1] = static_cast<std::uint64_t>(i);
}

// Coroutines alive now (the caller included).
std::uint64_t alive() {
  const goro::runtime_stats st = goro::stats();
  return st.spawned - st.finished;
}

// Waits until only `base` coroutines are alive: the ones a test started have not only sent
// their last message but returned, so that none is abandoned mid-exit when goro::run returns
// (LeakSanitizer would report its task). Bounded by eventually()'s limit.
void wait_for_coroutines(std::uint64_t base) {
  if (!goro_test::eventually([base] { return alive() <= base; })) return;
  for (int i = 0; i < 100; i++) goro::yield();
}

// goro::run(body), then waits until every coroutine the body started has returned (Go's tests
// do not wait; goro::run would abandon a coroutine still exiting after its last send).
template <class F>
void golang_run(F&& body) {
  goro::run([&body] {
    const std::uint64_t base = alive();
    body();
    wait_for_coroutines(base);
  });
}

}  // namespace

// ---- src/runtime/chan_test.go ---------------------------------------------------------------

// Go: src/runtime/chan_test.go, TestChan (N = 200 capacities; Go's -short value, 20, under TSan).
// Go runs it with GOMAXPROCS(4); here it runs at whatever count the suite gives.
TEST_CASE("golang: TestChan") {
  watchdog wd("golang: TestChan");
  const int N = under_tsan ? 20 : 200;
  failures f;
  golang_run([&] {
    for (int chanCap = 0; chanCap < N && !f.any(); chanCap++) {
      {
        // Ensure that receive from empty chan blocks.
        goro::chan<int> c(chanCap);
        std::atomic<bool> recv1{false}, recv2{false};
        goro::wait_group wg;
        wg.add(2);
        goro::go([&] {
          (void)c.recv();  // _ = <-c
          recv1 = true;
          wg.done();
        });
        goro::go([&] {
          std::optional<int> v = c.recv();  // _, _ = <-c
          (void)v;
          recv2 = true;
          wg.done();
        });
        goro::sleep_for(1ms);
        if (recv1 || recv2) f.add("chan[", chanCap, "]: receive from empty chan");
        // Ensure that non-blocking receive does not block.
        bool fired = false;
        goro::select(goro::on_recv(c, [&] { fired = true; }), goro::on_default());
        if (fired) f.add("chan[", chanCap, "]: receive from empty chan (select)");
        fired = false;
        goro::select(goro::on_recv(c, [&](std::optional<int>) { fired = true; }), goro::on_default());
        if (fired) f.add("chan[", chanCap, "]: receive from empty chan (select, ok)");
        if (c.try_recv()) f.add("chan[", chanCap, "]: receive from empty chan (try_recv)");
        c.send(0);
        c.send(0);
        wg.wait();
      }

      {
        // Ensure that send to full chan blocks.
        goro::chan<int> c(chanCap);
        for (int i = 0; i < chanCap; i++) c.send(i);
        std::atomic<std::uint32_t> sent{0};
        goro::wait_group wg;
        wg.add(1);
        goro::go([&] {
          c.send(0);
          sent.store(1);
          wg.done();
        });
        goro::sleep_for(1ms);
        if (sent.load() != 0) f.add("chan[", chanCap, "]: send to full chan");
        // Ensure that non-blocking send does not block.
        bool fired = false;
        goro::select(goro::on_send(c, 0, [&] { fired = true; }), goro::on_default());
        if (fired) f.add("chan[", chanCap, "]: send to full chan (select)");
        if (c.try_send(0)) f.add("chan[", chanCap, "]: send to full chan (try_send)");
        (void)c.recv();
        if (fired) (void)c.recv();  // (only after a failure: let the blocked sender finish)
        wg.wait();
      }

      {
        // Ensure that we receive 0 from closed chan.
        goro::chan<int> c(chanCap);
        for (int i = 0; i < chanCap; i++) c.send(i);
        c.close();
        for (int i = 0; i < chanCap; i++) {
          int v = c.recv().value_or(0);
          if (v != i) f.add("chan[", chanCap, "]: received ", v, ", expected ", i);
        }
        if (int v = c.recv().value_or(0); v != 0)
          f.add("chan[", chanCap, "]: received ", v, ", expected 0");
        if (std::optional<int> v = c.recv(); v.value_or(0) != 0 || v.has_value())
          f.add("chan[", chanCap, "]: received ", v.value_or(0), "/", v.has_value(), ", expected 0/false");
      }

      {
        // Ensure that close unblocks receive.
        goro::chan<int> c(chanCap);
        goro::chan<bool> done;
        goro::go([c, done]() mutable {
          std::optional<int> v = c.recv();
          done.send(v.value_or(0) == 0 && !v.has_value());
        });
        goro::sleep_for(1ms);
        c.close();
        if (!done.recv().value_or(false)) f.add("chan[", chanCap, "]: received non zero from closed chan");
      }

      {
        // Send 100 integers,
        // ensure that we receive them non-corrupted in FIFO order.
        goro::chan<int> c(chanCap);
        goro::go([c]() mutable {
          for (int i = 0; i < 100; i++) c.send(i);
        });
        for (int i = 0; i < 100; i++) {
          int v = c.recv().value_or(-1);
          if (v != i) f.add("chan[", chanCap, "]: received ", v, ", expected ", i);
        }

        // Same, but using recv2.
        goro::go([c]() mutable {
          for (int i = 0; i < 100; i++) c.send(i);
        });
        for (int i = 0; i < 100; i++) {
          std::optional<int> v = c.recv();
          if (!v) f.add("chan[", chanCap, "]: receive failed, expected ", i);
          else if (*v != i) f.add("chan[", chanCap, "]: received ", *v, ", expected ", i);
        }

        // Send 1000 integers in 4 goroutines,
        // ensure that we receive what we send.
        constexpr int P = 4;
        constexpr int L = 1000;
        for (int p = 0; p < P; p++) {
          goro::go([c]() mutable {
            for (int i = 0; i < L; i++) c.send(i);
          });
        }
        goro::chan<std::map<int, int>> done;
        for (int p = 0; p < P; p++) {
          goro::go([c, done]() mutable {
            std::map<int, int> recv;
            for (int i = 0; i < L; i++) recv[c.recv().value_or(-1)]++;
            done.send(std::move(recv));
          });
        }
        std::map<int, int> recv;
        for (int p = 0; p < P; p++)
          for (auto [k, v] : done.recv().value_or(std::map<int, int>{})) recv[k] += v;
        if (recv.size() != L) f.add("chan[", chanCap, "]: received ", recv.size(), " values, expected ", L);
        for (auto [k, v] : recv)
          if (v != P) f.add("chan[", chanCap, "]: received ", v, " values, expected ", P);
      }

      {
        // Test len/cap.
        goro::chan<int> c(chanCap);
        if (c.size() != 0 || c.capacity() != static_cast<std::size_t>(chanCap))
          f.add("chan[", chanCap, "]: bad len/cap, expect 0/", chanCap, ", got ", c.size(), "/", c.capacity());
        for (int i = 0; i < chanCap; i++) c.send(i);
        if (c.size() != static_cast<std::size_t>(chanCap) || c.capacity() != static_cast<std::size_t>(chanCap))
          f.add("chan[", chanCap, "]: bad len/cap, expect ", chanCap, "/", chanCap, ", got ", c.size(), "/",
                c.capacity());
      }
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestNonblockRecvRace (n = 10000).
TEST_CASE("golang: TestNonblockRecvRace") {
  watchdog wd("golang: TestNonblockRecvRace");
  const int n = tsan_scaled(10000);
  failures f;
  golang_run([&] {
    goro::wait_group wg;
    for (int i = 0; i < n && !f.any(); i++) {
      goro::chan<int> c(1);
      c.send(1);
      wg.add(1);
      goro::go([c, &f, &wg] {
        bool dflt = false;
        goro::select(goro::on_recv(c), goro::on_default([&] { dflt = true; }));
        if (dflt) f.add("chan is not ready");
        wg.done();
      });
      c.close();
      (void)c.recv();
    }
    wg.wait();
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestNonblockSelectRace (n = 100000). Go's comment: select acts
// on the state of the channels at one moment, not over a smeared time window. From the time the
// second goroutine is created, at least one of c1 and c2 is always ready for receiving, so its
// select must never execute the default case.
TEST_CASE("golang: TestNonblockSelectRace") {
  watchdog wd("golang: TestNonblockSelectRace");
  const int n = tsan_scaled(100000);
  failures f;
  golang_run([&] {
    goro::chan<bool> done(1);
    for (int i = 0; i < n; i++) {
      goro::chan<int> c1(1), c2(1);
      c1.send(1);
      goro::go([c1, c2, done]() mutable {
        bool dflt = false;
        goro::select(goro::on_recv(c1), goro::on_recv(c2), goro::on_default([&] { dflt = true; }));
        done.send(!dflt);
      });
      c2.send(1);
      goro::select(goro::on_recv(c1), goro::on_default());
      if (!done.recv().value_or(false)) {
        f.add("no chan is ready (iteration ", i, ")");
        break;
      }
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestNonblockSelectRace2: the same, but close(c2) replaces c2 <- 1.
TEST_CASE("golang: TestNonblockSelectRace2") {
  watchdog wd("golang: TestNonblockSelectRace2");
  const int n = tsan_scaled(100000);
  failures f;
  golang_run([&] {
    goro::chan<bool> done(1);
    for (int i = 0; i < n; i++) {
      goro::chan<int> c1(1), c2;
      c1.send(1);
      goro::go([c1, c2, done]() mutable {
        bool dflt = false;
        goro::select(goro::on_recv(c1), goro::on_recv(c2), goro::on_default([&] { dflt = true; }));
        done.send(!dflt);
      });
      c2.close();
      goro::select(goro::on_recv(c1), goro::on_default());
      if (!done.recv().value_or(false)) {
        f.add("no chan is ready (iteration ", i, ")");
        break;
      }
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestSelfSelect: send/recv on the same chan in one select does
// not crash nor deadlock, and an unbuffered channel never pairs a select with itself. (Go returns
// from the goroutine at the first self receive, which can leave its partner blocked; this port
// records it and goes on, so that a failure is reported rather than a hang.)
TEST_CASE("golang: TestSelfSelect") {
  watchdog wd("golang: TestSelfSelect");
  failures f;
  golang_run([&] {
    for (int chanCap : {0, 10}) {
      goro::wait_group wg;
      wg.add(2);
      goro::chan<int> c(chanCap);
      for (int p = 0; p < 2; p++) {
        goro::go([&, p] {
          auto check = [&](std::optional<int> v) {
            if (chanCap == 0 && v == p) f.add("self receive (p = ", p, ")");
          };
          for (int i = 0; i < 1000; i++) {
            if (p == 0 || i % 2 == 0)
              goro::select(goro::on_send(c, p), goro::on_recv(c, check));
            else
              goro::select(goro::on_recv(c, check), goro::on_send(c, p));
          }
          wg.done();
        });
      }
      wg.wait();
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestSelectStress (N = 1e5; Go sets GOMAXPROCS(10)). 4 goroutines
// send N values on each of the chans, 4 receive N values on each, 1 sends N values on each in a
// single select, 1 receives N values on each in a single select: all interact chaotically, and the
// whole construct must not deadlock. A channel's case switches off (nil) once its N are done.
TEST_CASE("golang: TestSelectStress") {
  watchdog wd("golang: TestSelectStress");
  const int N = tsan_scaled(100000);
  golang_run([&] {
    std::array<goro::chan<int>, 4> c{goro::chan<int>(0), goro::chan<int>(0), goro::chan<int>(2),
                                     goro::chan<int>(3)};
    goro::wait_group wg;
    wg.add(10);
    for (int k = 0; k < 4; k++) {
      goro::go([&, k] {
        for (int i = 0; i < N; i++) c[k].send(0);
        wg.done();
      });
      goro::go([&, k] {
        for (int i = 0; i < N; i++) (void)c[k].recv();
        wg.done();
      });
    }
    goro::go([&] {
      std::array<int, 4> n{};
      auto c1 = c;
      auto sent = [&](int k) {
        return [&, k] {
          if (++n[k] == N) c1[k] = nullptr;
        };
      };
      for (int i = 0; i < 4 * N; i++)
        goro::select(goro::on_send(c1[3], 0, sent(3)), goro::on_send(c1[2], 0, sent(2)),
                     goro::on_send(c1[0], 0, sent(0)), goro::on_send(c1[1], 0, sent(1)));
      wg.done();
    });
    goro::go([&] {
      std::array<int, 4> n{};
      auto c1 = c;
      auto received = [&](int k) {
        return [&, k] {
          if (++n[k] == N) c1[k] = nullptr;
        };
      };
      for (int i = 0; i < 4 * N; i++)
        goro::select(goro::on_recv(c1[0], received(0)), goro::on_recv(c1[1], received(1)),
                     goro::on_recv(c1[2], received(2)), goro::on_recv(c1[3], received(3)));
      wg.done();
    });
    wg.wait();
  });
}

// Go: src/runtime/chan_test.go, TestSelectFairness (trials = 10000): with c1 and c2 always ready
// (and c3, c4 never), the select takes each about half the time: within 10 sigma.
TEST_CASE("golang: TestSelectFairness") {
  watchdog wd("golang: TestSelectFairness");
  constexpr int trials = 10000;
  failures f;
  int cnt1 = 0, cnt2 = 0;
  golang_run([&] {
    goro::chan<std::uint8_t> c1(trials + 1), c2(trials + 1);
    for (int i = 0; i < trials + 1; i++) {
      c1.send(1);
      c2.send(2);
    }
    goro::chan<std::uint8_t> c3, c4, out, done;
    goro::wait_group wg;
    wg.add(1);
    goro::go([&] {
      for (;;) {
        std::uint8_t b = 0;
        auto take = [&b](std::optional<std::uint8_t> v) { b = v.value_or(0); };
        goro::select(goro::on_recv(c3, take), goro::on_recv(c4, take), goro::on_recv(c1, take),
                     goro::on_recv(c2, take));
        bool quit = false;
        goro::select(goro::on_send(out, b), goro::on_recv(done, [&] { quit = true; }));
        if (quit) break;
      }
      wg.done();
    });
    for (int i = 0; i < trials; i++) {
      switch (std::uint8_t b = out.recv().value_or(0)) {
        case 1: cnt1++; break;
        case 2: cnt2++; break;
        default: f.add("unexpected value ", int{b}, " on channel");
      }
    }
    done.close();
    wg.wait();
  });
  GOLANG_CHECK_NO_FAILURES(f);
  // If the select in the goroutine is fair, cnt1 and cnt2 should be about the same value: no more
  // than 10 sigma away from the expected value.
  constexpr double mean = trials * 0.5;
  constexpr double variance = trials * 0.5 * (1 - 0.5);
  const double stddev = std::sqrt(variance);
  INFO("unfair select: in " << trials << " trials, results were " << cnt1 << ", " << cnt2);
  CHECK(std::abs(cnt1 - mean) <= 10 * stddev);
}

// Go: src/runtime/chan_test.go, TestChanSendInterface: select sends of an interface value
// (chan interface{} is chan<std::any> here) on a full channel take the default.
TEST_CASE("golang: TestChanSendInterface") {
  watchdog wd("golang: TestChanSendInterface");
  struct mt {};
  int defaults = 0;
  golang_run([&] {
    auto m = std::make_shared<mt>();
    goro::chan<std::any> c(1);
    c.send(std::any(m));
    goro::select(goro::on_send(c, m), goro::on_default([&] { defaults++; }));
    goro::select(goro::on_send(c, m), goro::on_send(c, std::make_shared<mt>()),
                 goro::on_default([&] { defaults++; }));
  });
  CHECK(defaults == 2);
}

// Go: src/runtime/chan_test.go, TestPseudoRandomSend (n = 100): a select with two send cases on
// the same channel, c <- 1 and c <- 0, must pick either, pseudo-randomly, both when the channel
// is ready at once (capacity n) and when the select parks and the receiver arrives later
// (capacity 0; the receiver yields before every receive so that the select parks first).
// It failed at capacity 0 (0 zeros of 100, every worker count) until a parked select queued its
// nodes in its random poll order rather than argument order (channels/src/chan.cpp, step 3).
TEST_CASE("golang: TestPseudoRandomSend") {
  watchdog wd("golang: TestPseudoRandomSend");
  constexpr int n = 100;
  failures f;
  golang_run([&] {
    for (int chanCap : {0, n}) {
      goro::chan<int> c(chanCap);
      std::vector<int> l(n);
      goro::mutex m;
      m.lock();
      goro::go([&] {
        for (int i = 0; i < n; i++) {
          goro::yield();
          l[i] = c.recv().value_or(-1);
        }
        m.unlock();
      });
      for (int i = 0; i < n; i++) goro::select(goro::on_send(c, 1), goro::on_send(c, 0));
      m.lock();  // wait
      m.unlock();
      int n0 = 0, n1 = 0;
      for (int i : l) {
        n0 += (i + 1) % 2;
        n1 += i;
      }
      if (n0 <= n / 10 || n1 <= n / 10)
        f.add("Want pseudorandom, got ", n0, " zeros and ", n1, " ones (chan cap ", chanCap, ")");
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestMultiConsumer (nwork = 23, niter = 271828): 23 workers range
// over q and forward to r, some yielding to mess with the FIFO-ish nature of range; the feeder
// closes q, waits for the workers and closes r; every value arrives exactly once.
TEST_CASE("golang: TestMultiConsumer") {
  watchdog wd("golang: TestMultiConsumer");
  constexpr int nwork = 23;
  const int niter = tsan_scaled(271828);
  const std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
  long n = 0, s = 0, expect = 0;
  golang_run([&] {
    goro::chan<int> q(nwork * 3), r(nwork * 3);

    // workers
    goro::wait_group wg;
    for (int i = 0; i < nwork; i++) {
      wg.add(1);
      goro::go(
          [&](int w) {
            for (int v : q) {
              // mess with the fifo-ish nature of range
              if (pn[static_cast<std::size_t>(w) % pn.size()] == v) goro::yield();
              r.send(v);
            }
            wg.done();
          },
          i);
    }

    // feeder & closer
    goro::go([&] {
      for (int i = 0; i < niter; i++) {
        int v = pn[static_cast<std::size_t>(i) % pn.size()];
        expect += v;  // read by the consumer after close(r): ordered by the close
        q.send(v);
      }
      q.close();  // no more work
      wg.wait();  // workers done
      r.close();  // ... so there can be no more results
    });

    // consume & check
    for (int v : r) {
      n++;
      s += v;
    }
  });
  INFO("Expected sum " << expect << " (got " << s << ") from " << niter << " iter (saw " << n << ")");
  CHECK(n == niter);
  CHECK(s == expect);
}

// Go: src/runtime/chan_test.go, TestShrinkStackDuringBlockedSend (n = 10). Go's point is that the
// GC may shrink (move) the stack of a goroutine blocked in a send. goro's stacks never move and
// there is no GC, so that part has no counterpart; what is left still matters: a sender that uses
// a lot of stack (20 KiB) between sends, then blocks again with its value on its (deeper or
// shallower) stack, delivers every value intact and in order.
TEST_CASE("golang: TestShrinkStackDuringBlockedSend") {
  watchdog wd("golang: TestShrinkStackDuringBlockedSend");
  constexpr int n = 10;
  failures f;
  golang_run([&] {
    goro::chan<int> c;
    goro::chan<std::monostate> done;
    goro::go([c, done]() mutable {
      for (int i = 0; i < n; i++) {
        c.send(i);
        // use lots of stack, briefly.
        stack_growth_recursive(20);
      }
      done.send({});
    });
    for (int i = 0; i < n; i++) {
      int x = c.recv().value_or(-1);
      if (x != i) f.add("bad channel read: want ", i, ", got ", x);
      // Waste some time so sender can finish using lots of stack and block in channel send.
      goro::sleep_for(1ms);
      // (Go: runtime.GC(), which would shrink the sender's stack: nothing to do here.)
    }
    (void)done.recv();
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestNoShrinkStackWhileParking (n = 10, n*20 rounds). Go tries to
// make a GC stack scan race with a goroutine that is parking on a channel; goro has no GC and
// never moves stacks, so what remains is its traffic pattern: a sender that grows its stack
// between sends and fully blocks each time, a receiver that sleeps 10 us before each receive.
TEST_CASE("golang: TestNoShrinkStackWhileParking") {
  watchdog wd("golang: TestNoShrinkStackWhileParking");
  constexpr int n = 10;
  failures f;
  golang_run([&] {
    auto send = [](goro::send_chan<int> c, goro::chan<std::monostate> done) {
      for (int i = 0; i < n; i++) {
        c.send(i);
        // Use lots of stack briefly.
        stack_growth_recursive(20);
      }
      done.send({});
    };
    auto recv = [&f](goro::recv_chan<int> c, goro::chan<std::monostate> done) {
      for (int i = 0; i < n; i++) {
        // Sleep here so that the sender always fully blocks.
        goro::sleep_for(10us);
        if (int v = c.recv().value_or(-1); v != i) f.add("received ", v, ", want ", i);
      }
      done.send({});
    };
    for (int i = 0; i < n * 20; i++) {
      goro::chan<int> c;
      goro::chan<std::monostate> done;
      goro::go(recv, c, done);
      goro::go(send, c, done);
      // Wait a little bit before (in Go) triggering the GC.
      goro::sleep_for(50us);
      (void)done.recv();
      (void)done.recv();
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chan_test.go, TestSelectDuplicateChannel: a goroutine can be queued on the same
// channel several times (a select with two cases on c). A wakes through d and dequeues itself
// from c; this used to corrupt c's receive queue, so that the later c <- 8 tried to wake A (already
// running) instead of B.
TEST_CASE("golang: TestSelectDuplicateChannel") {
  watchdog wd("golang: TestSelectDuplicateChannel");
  std::atomic<int> b_got{0};
  golang_run([&] {
    goro::chan<int> c, d, e;

    // goroutine A
    goro::go([c, d, e]() mutable {
      goro::select(goro::on_recv(c), goro::on_recv(c), goro::on_recv(d));
      e.send(9);
    });
    goro::sleep_for(1ms);  // make sure goroutine A gets queued first on c

    // goroutine B
    goro::chan<bool> b_done;
    goro::go([c, b_done, &b_got]() mutable {
      b_got = c.recv().value_or(-1);
      b_done.send(true);
    });
    goro::sleep_for(1ms);  // make sure goroutine B gets queued on c before continuing

    d.send(7);          // wake up A, it dequeues itself from c
    (void)e.recv();     // A tells us it's done
    c.send(8);          // wake up B
    (void)b_done.recv();
  });
  CHECK(b_got == 8);
}

// Go: src/runtime/chan_test.go, TestSelectStackAdjust. Go checks that receive slots pointing into
// a goroutine's stack are adjusted when the GC shrinks that stack while it sits in a select
// (which has duplicate channels when dup is set). goro's stacks never move; the port keeps the
// rest: two goroutines, after growing their stacks to 10 KiB, park in a select that would store
// into a local; close(d) wakes both through d (one of two cases on d when dup), and the local
// pointer and the value it points to are untouched.
TEST_CASE("golang: TestSelectStackAdjust") {
  watchdog wd("golang: TestSelectStackAdjust");
  failures f;
  golang_run([&] {
    const std::uint64_t base = alive();
    goro::chan<int*> c, d;
    goro::chan<bool> ready1, ready2;
    auto fn = [c, d, &f](goro::chan<bool> ready, bool dup) mutable {
      // Temporarily grow the stack to 10K.
      stack_growth_recursive((10 << 10) / (128 * 8));

      // We're ready to trigger GC and stack shrink.
      ready.send(true);

      int val = 42;
      int* cx = &val;

      goro::chan<int*> c2 = nullptr, d2 = nullptr;
      if (dup) {
        c2 = c;
        d2 = d;
      }

      // Receive from d. cx won't be affected.
      goro::select(goro::on_recv(c, [&](std::optional<int*> v) { cx = v.value_or(nullptr); }),
                   goro::on_recv(c2), goro::on_recv(d), goro::on_recv(d2));

      // Check that pointer in cx was adjusted correctly.
      if (cx != &val) {
        f.add("cx no longer points to val");
      } else if (val != 42) {
        f.add("val changed");
      } else {
        *cx = 43;
        if (val != 43) f.add("changing *cx failed to change val");
      }
      ready.send(true);
    };
    goro::go(fn, ready1, false);
    goro::go(fn, ready2, true);

    // Let the goroutines get into the select.
    (void)ready1.recv();
    (void)ready2.recv();
    goro::sleep_for(10ms);

    // Wake selects.
    d.close();
    (void)ready1.recv();
    (void)ready2.recv();
    wait_for_coroutines(base);
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// ---- src/runtime/chanbarrier_test.go ----------------------------------------------------------
//
// doRequest: a goroutine sends a result on an unbuffered channel (plainly, or in a select with a
// second case that never fires); the caller receives it and yields. Go's point was the write
// barrier on the sent pointer; here it is ten million goroutine hand-offs per test, with the
// result's ownership travelling through the channel. Go's full counts (outer = 100, inner =
// 100000; -short: 10 x 1000): about 1 to 2 s each in the Release build. Under both sanitizers
// the -short counts, 10 x 1000: Go's full ones take a minute each under ASan (measured: 50-64 s).

namespace {

struct my_error {};
struct async_result {
  const void* resp = nullptr;
  std::optional<my_error> err;
};

std::optional<my_error> do_request(bool use_select) {
  goro::chan<std::shared_ptr<async_result>> ch(0);
  goro::chan<std::monostate> done(0);

  if (use_select) {
    goro::go([ch, done] {
      goro::select(goro::on_send(ch, std::make_shared<async_result>(async_result{nullptr, my_error{}})),
                   goro::on_recv(done));
    });
  } else {
    goro::go([ch]() mutable { ch.send(std::make_shared<async_result>(async_result{nullptr, my_error{}})); });
  }

  std::shared_ptr<async_result> r = ch.recv().value_or(nullptr);
  goro::yield();
  if (!r) return std::nullopt;
  return r->err;
}

void test_chan_send_barrier(bool use_select, failures& f) {
  goro::wait_group wg;
  std::mutex global_mu;
  std::vector<char> global;
  const int outer = goro_test::sanitized ? 10 : 100;
  const int inner = goro_test::sanitized ? 1000 : 100000;
  for (int i = 0; i < outer; i++) {
    wg.add(1);
    goro::go([&] {
      std::vector<char> garbage;
      for (int j = 0; j < inner; j++) {
        std::optional<my_error> err = do_request(use_select);
        if (!err) {
          f.add("doRequest did not return myError");  // Go: panic(1)
          break;
        }
        garbage.assign(1 << 10, 0);
      }
      {
        std::lock_guard lk(global_mu);
        global = std::move(garbage);
      }
      wg.done();
    });
  }
  wg.wait();
}

}  // namespace

// Go: src/runtime/chanbarrier_test.go, TestChanSendSelectBarrier.
TEST_CASE("golang: TestChanSendSelectBarrier") {
  watchdog wd("golang: TestChanSendSelectBarrier");
  failures f;
  golang_run([&] { test_chan_send_barrier(true, f); });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/chanbarrier_test.go, TestChanSendBarrier.
TEST_CASE("golang: TestChanSendBarrier") {
  watchdog wd("golang: TestChanSendBarrier");
  failures f;
  golang_run([&] { test_chan_send_barrier(false, f); });
  GOLANG_CHECK_NO_FAILURES(f);
}

// ---- test/chan/*.go -------------------------------------------------------------------------

// Go: test/chan/doubleselect.go (iterations = 100000; Go sets GOMAXPROCS(2)): two cases of one
// select must never both run. sender sends a counter to one of four channels in a select; four
// muxes forward to cmux; the receiver checks for duplicates (and, here, that none went missing).
TEST_CASE("golang: doubleselect.go") {
  watchdog wd("golang: doubleselect.go");
  const int iterations = tsan_scaled(100000);
  failures f;
  std::size_t seen_count = 0;
  golang_run([&] {
    goro::chan<int> c1, c2, c3, c4, cmux;
    goro::chan<bool> done;
    // sender sends a counter to one of four different channels. If two cases both end up running
    // in the same iteration, the same value will be sent to two different channels.
    auto sender = [](int n, goro::send_chan<int> c1, goro::send_chan<int> c2, goro::send_chan<int> c3,
                     goro::send_chan<int> c4) {
      for (int i = 0; i < n; i++)
        goro::select(goro::on_send(c1, i), goro::on_send(c2, i), goro::on_send(c3, i), goro::on_send(c4, i));
      // Go's deferred closes, run in reverse order.
      c4.close();
      c3.close();
      c2.close();
      c1.close();
    };
    // mux receives the values from sender and forwards them onto another channel.
    auto mux = [](goro::send_chan<int> out, goro::recv_chan<int> in, goro::send_chan<bool> done) {
      for (int v : in) out.send(v);
      done.send(true);
    };
    goro::go(sender, iterations, c1, c2, c3, c4);
    goro::go(mux, cmux, c1, done);
    goro::go(mux, cmux, c2, done);
    goro::go(mux, cmux, c3, done);
    goro::go(mux, cmux, c4, done);
    goro::go([done, cmux]() mutable {
      for (int i = 0; i < 4; i++) (void)done.recv();
      cmux.close();
    });
    // recver gets a stream of values from the four muxes and checks for duplicates.
    std::vector<bool> seen(static_cast<std::size_t>(iterations));
    for (int v : cmux) {
      if (v < 0 || v >= iterations) {
        f.add("got out-of-range value: ", v);
        continue;
      }
      if (seen[static_cast<std::size_t>(v)]) f.add("got duplicate value: ", v);
      seen[static_cast<std::size_t>(v)] = true;
      seen_count++;
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
  CHECK(seen_count == static_cast<std::size_t>(iterations));
}

// Go: test/chan/select.go: each case's send value is evaluated exactly once per select, also for
// a nil channel's case and when the default runs (counter), and a case switched off by setting its
// channel to nil never fires again.
TEST_CASE("golang: select.go") {
  watchdog wd("golang: select.go");
  unsigned counter = 0, shift = 0;
  auto get_value = [&]() -> unsigned {
    counter++;
    return 1u << shift;
  };
  auto send = [&](goro::chan<unsigned> a, goro::chan<unsigned> b) {
    int i = 0;
    for (bool loop = true; loop;) {
      // Go evaluates the two send values left to right; C++ evaluates arguments in an unspecified
      // order, which does not matter here: both are 1 << shift.
      goro::select(goro::on_send(a, get_value(), [&] { i++; a = nullptr; }),
                   goro::on_send(b, get_value(), [&] { i++; b = nullptr; }),
                   goro::on_default([&] { loop = false; }));
      if (loop) shift++;
    }
    return i;
  };
  golang_run([&] {
    goro::chan<unsigned> a(1), b(1);
    CHECK(send(a, b) == 2);
    unsigned av = a.recv().value_or(0), bv = b.recv().value_or(0);
    CHECK((av | bv) == 3u);
    CHECK(send(a, nullptr) == 1);
    CHECK(counter == 10u);
  });
}

// Go: test/chan/select3.go: the semantics of select for basic empty/non-empty cases. testBlock
// runs f on a goroutine and says whether it finished within 0.1 s; testPanic whether f panicked
// (threw). The claims that something blocks forever on a nil channel, or that an empty select
// blocks, would leave a coroutine parked for good: those run in a child process (the crash
// helper's nil_blocks mode, shared with test_chan.cpp). The other "always blocks" cases block on a
// live channel, which the port releases afterwards.
TEST_CASE("golang: select3.go") {
  watchdog wd("golang: select3.go");
  failures f;
  golang_run([&] {
    goro::chan<int> nilch = nullptr;
    goro::chan<int> closedch;
    closedch.close();
    auto unreachable = [&] { f.add("control flow shouldn't reach here"); };

    // Calls fn on a goroutine: true if it finished within 0.1 s (did not block). `release`
    // unblocks a blocked fn afterwards, so that nothing stays parked.
    auto blocks = [](auto fn, auto release) {
      goro::chan<bool> c(2);
      goro::go([fn, c]() mutable {
        fn();
        c.send(false);  // fn didn't block
      });
      bool blocked = false;
      goro::select(goro::on_recv(c), goro::on_recv(goro::after(100ms), [&] { blocked = true; }));
      if (blocked) {
        release();
        (void)c.recv();
      }
      return blocked;
    };
    auto no_release = [] {};
    auto throws = [](auto fn) {
      try {
        fn();
      } catch (const goro::closed_channel_error&) {
        return true;
      }
      return false;
    };

    // sending/receiving from a nil channel inside a select is never selected
    if (throws([&] { goro::select(goro::on_send(nilch, 7, unreachable), goro::on_default()); }))
      f.add("nil send case panicked");
    if (throws([&] { goro::select(goro::on_recv(nilch, unreachable), goro::on_default()); }))
      f.add("nil recv case panicked");

    // sending to an async channel with free buffer space never blocks
    if (blocks([] { goro::chan<int>(1).send(7); }, no_release)) f.add("send to free buffer blocked");

    // receiving from a closed channel never blocks
    if (blocks(
            [closedch, &f]() mutable {
              for (int i = 0; i < 10; i++) {
                if (closedch.recv().value_or(0) != 0) f.add("expected zero value when reading from closed channel");
                if (auto x = closedch.recv(); x.has_value()) f.add("expected 0, false from closed channel");
              }
            },
            no_release))
      f.add("receive from closed channel blocked");

    // sending to a closed channel panics.
    if (!throws([&] { closedch.send(7); })) f.add("send to closed channel did not panic");

    // receiving from a non-ready channel always blocks
    {
      goro::chan<int> ch;
      if (!blocks([ch]() mutable { (void)ch.recv(); }, [&] { ch.send(0); }))
        f.add("receive from non-ready channel did not block");
    }

    // selects with non-ready non-nil channels always block
    {
      goro::chan<int> ch;
      if (!blocks([ch] { goro::select(goro::on_recv(ch)); }, [&] { ch.send(0); }))
        f.add("select on non-ready channel did not block");
    }

    // selects with default cases don't block
    if (blocks([] { goro::select(goro::on_default()); }, no_release)) f.add("select {default} blocked");
    if (blocks([nilch, unreachable] { goro::select(goro::on_recv(nilch, unreachable), goro::on_default()); },
               no_release))
      f.add("select {<-nil; default} blocked");
    if (blocks([nilch, unreachable] { goro::select(goro::on_send(nilch, 7, unreachable), goro::on_default()); },
               no_release))
      f.add("select {nil <- 7; default} blocked");

    // selects with ready channels don't block
    if (blocks(
            [unreachable] {
              goro::chan<int> ch(1);
              goro::select(goro::on_send(ch, 7), goro::on_default(unreachable));
            },
            no_release))
      f.add("select with ready send blocked");
    if (blocks(
            [unreachable] {
              goro::chan<int> ch(1);
              ch.send(7);
              goro::select(goro::on_recv(ch), goro::on_default(unreachable));
            },
            no_release))
      f.add("select with ready recv blocked");

    // selects with closed channels behave like ordinary operations
    if (blocks([closedch] { goro::select(goro::on_recv(closedch)); }, no_release))
      f.add("select {<-closedch} blocked");
    if (blocks([closedch] { goro::select(goro::on_recv(closedch, [](std::optional<int> x) { (void)x; })); },
               no_release))
      f.add("select {x, ok := <-closedch} blocked");
    if (!throws([&] { goro::select(goro::on_send(closedch, 7)); })) f.add("select {closedch <- 7} did not panic");

    // select should not get confused if it sees itself
    {
      goro::chan<int> c;
      if (!blocks([c] { goro::select(goro::on_send(c, 1), goro::on_recv(c)); }, [&] { (void)c.recv(); }))
        f.add("select {c <- 1; <-c} did not block");
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);

  // sending/receiving from a nil channel blocks; empty selects, and selects with only nil
  // channels, always block: in a child process, which reports and exits.
  auto r = goro_test::run_crash_helper({"nil_blocks"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(goro_test::contains(r.err, "nil channel operations returned: 0"));
}

// Go: test/chan/select4.go: the receive target of a case that does not fire is not evaluated
// (Go: *f() = <-c1 must not call f). In goro the target lives in the handler, which runs only for
// the case that fired.
TEST_CASE("golang: select4.go") {
  watchdog wd("golang: select4.go");
  bool called_f = false;
  struct {
    int a = 0;
  } x;
  golang_run([&] {
    goro::chan<int> c(1), c1;
    c.send(42);
    goro::select(goro::on_recv(c1, [&](std::optional<int>) { called_f = true; }),
                 goro::on_recv(c, [&](std::optional<int> v) { x.a = v.value_or(0); }));
  });
  CHECK_FALSE(called_f);
  CHECK(x.a == 42);
}

// Go: test/chan/select6.go (issue 2075): a bug in select corrupted the queues of failed cases if
// there were several waiters on those channels and the select was the last in the queue; further
// waits on the channel then never woke. c1 is such a channel.
TEST_CASE("golang: select6.go") {
  watchdog wd("golang: select6.go");
  failures f;
  golang_run([&] {
    goro::chan<bool> c1, c2, c3;
    goro::wait_group wg;
    wg.add(3);
    goro::go([&] {
      (void)c1.recv();
      wg.done();
    });
    goro::go([&] {
      goro::select(goro::on_recv(c1, [&] { f.add("dummy"); }), goro::on_recv(c2, [&] { c3.send(true); }));
      (void)c1.recv();
      wg.done();
    });
    goro::go([&] {
      c2.send(true);
      wg.done();
    });
    (void)c3.recv();
    c1.send(true);
    c1.send(true);
    wg.wait();
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: test/chan/select7.go: select when discarding a value: each of three ways to send (plain,
// one-case select, two-case select) meets each of three ways to receive.
TEST_CASE("golang: select7.go") {
  watchdog wd("golang: select7.go");
  int completed = 0;
  golang_run([&] {
    const std::uint64_t base = alive();
    using recv_fn = void (*)(goro::recv_chan<int>);
    recv_fn recv1 = [](goro::recv_chan<int> c) { (void)c.recv(); };
    recv_fn recv2 = [](goro::recv_chan<int> c) { goro::select(goro::on_recv(c)); };
    recv_fn recv3 = [](goro::recv_chan<int> c) {
      goro::chan<int> c2;
      goro::select(goro::on_recv(c), goro::on_recv(c2));
    };
    auto send1 = [&](recv_fn recv) {
      goro::chan<int> c;
      goro::go(recv, c);
      goro::yield();
      c.send(1);
      completed++;
    };
    auto send2 = [&](recv_fn recv) {
      goro::chan<int> c;
      goro::go(recv, c);
      goro::yield();
      goro::select(goro::on_send(c, 1));
      completed++;
    };
    auto send3 = [&](recv_fn recv) {
      goro::chan<int> c;
      goro::go(recv, c);
      goro::yield();
      goro::chan<int> c2;
      goro::select(goro::on_send(c, 1), goro::on_send(c2, 1));
      completed++;
    };
    for (recv_fn r : {recv1, recv2, recv3}) {
      send1(r);
      send2(r);
      send3(r);
    }
    wait_for_coroutines(base);  // the receivers have returned, their c2 destroyed
  });
  CHECK(completed == 9);
}

// Go: test/chan/nonblock.go: non-blocking operations (select with default) with several sizes and
// types of operands, buffered (1) and unbuffered, retried up to maxTries = 10000 times with a
// short sleep (two ticks of a 10 us ticker and three yields) between tries.
namespace {

constexpr int max_tries = 10000;

template <class T>
void nonblock_round(int buffer, T to_receiver, T from_sender, goro::ticker& tick, failures& f, const char* what) {
  auto sleep = [&tick] {
    (void)tick.c().recv();
    (void)tick.c().recv();
    goro::yield();
    goro::yield();
    goro::yield();
  };
  goro::chan<T> c(buffer);
  goro::chan<bool> sync;

  bool got = false;
  goro::select(goro::on_recv(c, [&] { got = true; }), goro::on_default());
  if (got) f.add("blocked ", what, "sender");

  // receiver
  goro::go([c, sync, to_receiver, &f, what]() mutable {
    if (c.recv() != to_receiver) f.add(what, " value");
    sync.send(true);
  });
  for (int attempt = 0;; attempt++) {
    bool sent = false;
    goro::select(goro::on_send(c, to_receiver, [&] { sent = true; }), goro::on_default());
    if (sent) break;
    if (attempt + 1 > max_tries) {
      f.add(what, "receiver buffer=", buffer);
      return;  // (the receiver stays parked: the watchdog-free way out is to fail here)
    }
    sleep();
  }
  (void)sync.recv();

  // sender
  goro::go([c, sync, from_sender]() mutable {
    c.send(from_sender);
    sync.send(true);
  });
  if (buffer > 0) (void)sync.recv();
  std::optional<T> v;
  for (int attempt = 0;; attempt++) {
    goro::select(goro::on_recv(c, [&](std::optional<T> x) { v = std::move(x); }), goro::on_default());
    if (v) break;
    if (attempt + 1 > max_tries) {
      f.add(what, "sender buffer=", buffer);
      return;
    }
    sleep();
  }
  if (*v != from_sender) f.add(what, "sender value");
  if (buffer == 0) (void)sync.recv();
}

}  // namespace

TEST_CASE("golang: nonblock.go") {
  watchdog wd("golang: nonblock.go");
  failures f;
  golang_run([&] {
    goro::ticker tick(10us);
    for (int buffer = 0; buffer < 2 && !f.any(); buffer++) {
      nonblock_round<std::int32_t>(buffer, 123, 234, tick, f, "i32");
      nonblock_round<std::int64_t>(buffer, 123456, 234567, tick, f, "i64");
      nonblock_round<bool>(buffer, true, true, tick, f, "b");
      nonblock_round<std::string>(buffer, "hello", "hello again", tick, f, "s");
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: test/chan/fifo.go: a buffered channel is a FIFO (AsynchFifo), and so are the senders
// queued on an unbuffered one, threaded together as a daisy chain (SynchFifo).
TEST_CASE("golang: fifo.go") {
  watchdog wd("golang: fifo.go");
  constexpr int N = 10;
  failures f;
  golang_run([&] {
    // AsynchFifo
    {
      goro::chan<int> ch(N);
      for (int i = 0; i < N; i++) ch.send(i);
      for (int i = 0; i < N; i++)
        if (ch.recv() != i) f.add("bad receive");
    }
    // SynchFifo: thread together a daisy chain to read the elements in sequence
    {
      auto chain = [&f](goro::recv_chan<int> ch, int val, goro::recv_chan<int> in, goro::send_chan<int> out) {
        (void)in.recv();
        if (ch.recv() != val) f.add("chain ", val, " got another value");
        out.send(1);
      };
      goro::chan<int> ch, in;
      goro::chan<int> start = in;
      for (int i = 0; i < N; i++) {
        goro::chan<int> out;
        goro::go(chain, ch, i, in, out);
        in = out;
      }
      start.send(0);
      for (int i = 0; i < N; i++) ch.send(i);
      (void)in.recv();
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: test/chan/sendstmt.go, chanchan: a send case whose channel is itself received from a
// channel (case <-cc <- 2).
TEST_CASE("golang: sendstmt.go") {
  watchdog wd("golang: sendstmt.go");
  bool nonblock = false;
  golang_run([&] {
    goro::chan<goro::chan<int>> cc(1);
    goro::chan<int> c(1);
    cc.send(c);
    goro::select(goro::on_send(cc.recv().value_or(nullptr), 2), goro::on_default([&] { nonblock = true; }));
    CHECK(c.recv() == 2);
  });
  CHECK_FALSE(nonblock);
}

// Not ported from test/chan: select2.go (memory per select: test_select.cpp's "no waiter leak
// after a million selects" covers it), select5.go (a generator of Go programs), select8.go
// (`break` inside a case: a handler simply returns; the porting guide's trap_break_loop snippet
// shows what a line-by-line port must do instead), the sieves and powser (test_chan.cpp and
// examples/go_classics have the prime sieve), goroutines.go, perm.go (compile errors for channel
// directions: docs/snippets/direction.cpp's would-not-compile claims), zerosize.go
// (chan<std::monostate> is used throughout).

// ---- test/closedchan.go ---------------------------------------------------------------------
//
// close(c) and receives on a closed channel, through three implementations of the same
// operations: direct channel operations (XChan), one-case selects (SChan) and selects with an
// extra case on a channel that is never ready (SSChan). A send on a closed channel "panics":
// throws goro::closed_channel_error, "send on closed channel"; the value is discarded.

namespace {

class chan_ops {
 public:
  explicit chan_ops(goro::chan<int> c) : c_(std::move(c)) {}
  virtual ~chan_ops() = default;
  virtual void send(int x) = 0;
  virtual bool nbsend(int x) = 0;
  virtual int recv() = 0;                          // v := <-c
  virtual std::pair<int, bool> nbrecv() = 0;       // value, selected
  virtual std::pair<int, bool> recv2() = 0;        // v, ok := <-c
  virtual std::tuple<int, bool, bool> nbrecv2() = 0;  // value, ok, selected
  void close() { c_.close(); }
  virtual const char* impl() const = 0;

 protected:
  goro::chan<int> c_;
};

// direct channel operations when possible
class xchan final : public chan_ops {
 public:
  using chan_ops::chan_ops;
  void send(int x) override { c_.send(x); }
  bool nbsend(int x) override { return c_.try_send(x); }
  int recv() override { return c_.recv().value_or(0); }
  std::pair<int, bool> nbrecv() override {
    bool selected = false;
    int x = 0;
    goro::select(goro::on_recv(c_, [&](std::optional<int> v) { x = v.value_or(0), selected = true; }),
                 goro::on_default());
    return {x, selected};
  }
  std::pair<int, bool> recv2() override {
    std::optional<int> v = c_.recv();
    return {v.value_or(0), v.has_value()};
  }
  std::tuple<int, bool, bool> nbrecv2() override {
    std::tuple<int, bool, bool> r{0, false, false};
    goro::select(goro::on_recv(c_, [&](std::optional<int> v) { r = {v.value_or(0), v.has_value(), true}; }),
                 goro::on_default());
    return r;
  }
  const char* impl() const override { return "(<- operator)"; }
};

// indirect operations via select (Extra = false), or via larger selects (Extra = true: a case on
// `dummy`, never ready, beside each one)
template <bool Extra>
class schan final : public chan_ops {
 public:
  using chan_ops::chan_ops;
  template <class... Cases>
  std::size_t sel(Cases&&... cases) {
    if constexpr (Extra)
      return goro::select(goro::on_recv(dummy_), std::forward<Cases>(cases)...);
    else
      return goro::select(std::forward<Cases>(cases)...);
  }
  void send(int x) override { sel(goro::on_send(c_, x)); }
  bool nbsend(int x) override {
    bool sent = false;
    sel(goro::on_default(), goro::on_send(c_, x, [&] { sent = true; }));
    return sent;
  }
  int recv() override {
    int x = -1;
    sel(goro::on_recv(c_, [&](std::optional<int> v) { x = v.value_or(0); }));
    return x;
  }
  std::pair<int, bool> nbrecv() override {
    std::pair<int, bool> r{0, false};
    sel(goro::on_default(), goro::on_recv(c_, [&](std::optional<int> v) { r = {v.value_or(0), true}; }));
    return r;
  }
  std::pair<int, bool> recv2() override {
    std::pair<int, bool> r{-1, true};
    sel(goro::on_recv(c_, [&](std::optional<int> v) { r = {v.value_or(0), v.has_value()}; }));
    return r;
  }
  std::tuple<int, bool, bool> nbrecv2() override {
    std::tuple<int, bool, bool> r{0, false, false};
    sel(goro::on_default(),
        goro::on_recv(c_, [&](std::optional<int> v) { r = {v.value_or(0), v.has_value(), true}; }));
    return r;
  }
  const char* impl() const override { return Extra ? "(larger select)" : "(select)"; }

 private:
  goro::chan<bool> dummy_;
};

// Go's shouldPanic, for the panic a send on a closed channel is.
template <class F>
void should_panic(failures& f, const char* what, F&& fn) {
  try {
    fn();
    f.add(what, ": did not panic");
  } catch (const goro::closed_channel_error& e) {
    if (std::string(e.what()) != "send on closed channel" && std::string(e.what()) != "close of closed channel")
      f.add(what, ": unexpected message: ", e.what());
  }
}

void closed_test1(chan_ops& c, failures& f) {
  for (int i = 0; i < 3; i++) {
    // recv a close signal (a zero value)
    if (int x = c.recv(); x != 0) f.add("test1: recv on closed: ", x, " ", c.impl());
    if (auto [x, ok] = c.recv2(); x != 0 || ok) f.add("test1: recv2 on closed: ", x, " ", ok, " ", c.impl());

    // should work with select: received a value without blocking, so selected == true.
    if (auto [x, selected] = c.nbrecv(); x != 0 || !selected)
      f.add("test1: recv on closed nb: ", x, " ", selected, " ", c.impl());
    if (auto [x, ok, selected] = c.nbrecv2(); x != 0 || ok || !selected)
      f.add("test1: recv2 on closed nb: ", x, " ", ok, " ", selected, " ", c.impl());
  }

  // send should work with ,ok too: sent a value without blocking, so ok == true.
  should_panic(f, "test1: Nbsend on closed", [&] { c.nbsend(1); });

  // the value should have been discarded.
  if (int x = c.recv(); x != 0) f.add("test1: recv on closed got non-zero after send on closed: ", x, " ", c.impl());

  // similarly Send.
  should_panic(f, "test1: Send on closed", [&] { c.send(2); });
  if (int x = c.recv(); x != 0) f.add("test1: recv on closed got non-zero after send on closed: ", x, " ", c.impl());
}

goro::chan<int> closedsync() {
  goro::chan<int> c;
  c.close();
  return c;
}

goro::chan<int> closedasync() {
  goro::chan<int> c(2);
  c.send(1);
  c.close();
  return c;
}

std::unique_ptr<chan_ops> make_ops(int kind, goro::chan<int> c) {
  if (kind == 0) return std::make_unique<xchan>(std::move(c));
  if (kind == 1) return std::make_unique<schan<false>>(std::move(c));
  return std::make_unique<schan<true>>(std::move(c));
}

}  // namespace

// Go: test/closedchan.go (main: test1 on closed unbuffered channels, testasync1..4 on a closed
// buffered channel still holding 1, then close of nil and close of closed panic).
TEST_CASE("golang: closedchan.go") {
  watchdog wd("golang: closedchan.go");
  failures f;
  golang_run([&] {
    for (int kind = 0; kind < 3; kind++) closed_test1(*make_ops(kind, closedsync()), f);

    for (int which = 1; which <= 4; which++) {
      for (int kind = 0; kind < 3; kind++) {
        auto c = make_ops(kind, closedasync());
        switch (which) {
          case 1:  // should be able to get the last value via Recv
            if (int x = c->recv(); x != 1) f.add("testasync1: Recv did not get 1: ", x, " ", c->impl());
            break;
          case 2:  // should be able to get the last value via Recv2
            if (auto [x, ok] = c->recv2(); x != 1 || !ok)
              f.add("testasync2: Recv2 did not get 1, true: ", x, " ", ok, " ", c->impl());
            break;
          case 3:  // should be able to get the last value via Nbrecv
            if (auto [x, selected] = c->nbrecv(); x != 1 || !selected)
              f.add("testasync3: Nbrecv did not get 1, true: ", x, " ", selected, " ", c->impl());
            break;
          case 4:  // should be able to get the last value via Nbrecv2
            if (auto [x, ok, selected] = c->nbrecv2(); x != 1 || !ok || !selected)
              f.add("testasync4: Nbrecv2 did not get 1, true, true: ", x, " ", ok, " ", selected, " ", c->impl());
            break;
        }
        closed_test1(*c, f);
      }
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);

  // close of a nil channel and close of a closed channel panic.
  goro::chan<int> ch = nullptr;
  CHECK_THROWS_WITH_AS(ch.close(), "close of nil channel", goro::channel_error);
  ch = goro::chan<int>();
  ch.close();
  CHECK_THROWS_WITH_AS(ch.close(), "close of closed channel", goro::closed_channel_error);
}

// ---- close races ----------------------------------------------------------------------------

// Go: src/runtime/chan.go, closechan ("release all readers", "release all writers (they will
// panic)"); test/closedchan.go leaves this as a TODO ("Doesn't check behavior of close(c) when
// there are blocked senders/receivers"). Closing a channel while coroutines are blocked on it:
// every blocked receiver wakes with (zero, false), every blocked sender (plain, or in a select)
// panics with "send on closed channel"; buffered values are still delivered first.
TEST_CASE("golang: closechan releases blocked receivers and senders") {
  watchdog wd("golang: closechan releases blocked receivers and senders");
  constexpr int waiters = 16;
  std::atomic<int> receivers_released{0}, senders_panicked{0}, select_senders_panicked{0}, bad{0};
  golang_run([&] {
    for (int chanCap : {0, 1, 4}) {
      // Receivers blocked on an empty channel.
      goro::chan<int> rc(chanCap);
      goro::wait_group wg;
      wg.add(waiters);
      for (int i = 0; i < waiters; i++) {
        goro::go([&] {
          if (rc.recv().has_value()) bad++;
          else receivers_released++;
          wg.done();
        });
      }
      // Senders blocked on a full channel: plain sends and select sends.
      goro::chan<int> sc(chanCap);
      for (int i = 0; i < chanCap; i++) sc.send(100 + i);
      wg.add(2 * waiters);
      for (int i = 0; i < waiters; i++) {
        goro::go([&, i] {
          try {
            sc.send(i);
            bad++;  // nobody receives before the close: the send cannot have completed
          } catch (const goro::closed_channel_error& e) {
            if (std::string(e.what()) == "send on closed channel") senders_panicked++;
            else bad++;
          }
          wg.done();
        });
        goro::go([&, i] {
          goro::chan<int> never;
          try {
            goro::select(goro::on_send(sc, i), goro::on_recv(never));
            bad++;
          } catch (const goro::closed_channel_error& e) {
            if (std::string(e.what()) == "send on closed channel") select_senders_panicked++;
            else bad++;
          }
          wg.done();
        });
      }
      // Wait until they are all queued, then close both.
      CHECK(goro_test::eventually([&] {
        return rc.waiting_receivers() == waiters && sc.waiting_senders() == 2 * waiters;
      }));
      rc.close();
      sc.close();
      wg.wait();
      // What was buffered before the close is still there, in order.
      for (int i = 0; i < chanCap; i++) CHECK(sc.recv() == 100 + i);
      CHECK_FALSE(sc.recv().has_value());
    }
  });
  CHECK(bad == 0);
  CHECK(receivers_released == 3 * waiters);
  CHECK(senders_panicked == 3 * waiters);
  CHECK(select_senders_panicked == 3 * waiters);
}

// Go: src/runtime/race/testdata/chan_test.go, TestRaceChanSendClose and
// TestRaceChanSendSelectClose (the outcome, not the race report): a send, plain or in a select,
// racing with close either completes or panics with "send on closed channel", never anything else;
// and TestRaceChanCloseClose: of two racing closes exactly one panics ("close of closed channel").
TEST_CASE("golang: TestRaceChanSendClose + TestRaceChanSendSelectClose + TestRaceChanCloseClose") {
  watchdog wd("golang: close races");
  const int rounds = tsan_scaled(2000);
  std::atomic<int> completed{0}, panicked{0}, bad{0}, close_panics{0};
  golang_run([&] {
    for (int r = 0; r < rounds; r++) {
      goro::chan<bool> compl_(3);
      goro::chan<int> c(1), c1;
      goro::go([=, &completed, &panicked, &bad]() mutable {
        try {
          c.send(1);
          completed++;
        } catch (const goro::closed_channel_error& e) {
          (std::string(e.what()) == "send on closed channel" ? panicked : bad)++;
        }
        compl_.send(true);
      });
      goro::go([=, &completed, &panicked, &bad]() mutable {
        try {
          goro::select(goro::on_send(c, 2), goro::on_recv(c1));
          completed++;
        } catch (const goro::closed_channel_error& e) {
          (std::string(e.what()) == "send on closed channel" ? panicked : bad)++;
        }
        compl_.send(true);
      });
      goro::go([=]() mutable {
        if (r % 2) goro::yield();
        c.close();
        compl_.send(true);
      });
      for (int i = 0; i < 3; i++) (void)compl_.recv();
      // At most one of the two sends fit in the buffer (capacity 1, nobody receives): the other
      // one panicked or, had it been blocked, was released by close with a panic.
      std::size_t left = 0;
      while (c.recv()) left++;
      if (left > 1) bad++;

      // CloseClose
      goro::chan<int> cc;
      goro::chan<bool> done(2);
      for (int k = 0; k < 2; k++) {
        goro::go([=, &close_panics, &bad]() mutable {
          try {
            cc.close();
          } catch (const goro::closed_channel_error& e) {
            (std::string(e.what()) == "close of closed channel" ? close_panics : bad)++;
          }
          done.send(true);
        });
      }
      (void)done.recv();
      (void)done.recv();
    }
  });
  CHECK(bad == 0);
  CHECK(completed + panicked == 2 * rounds);
  CHECK(completed <= rounds);  // never both sends of a round: the buffer holds one
  CHECK(close_panics == rounds);
}

// ---- src/runtime/race/testdata/chan_test.go: the memory model ---------------------------------
//
// Go's race detector must stay silent on these programs: each relies on a happens-before edge
// of the Go memory model ("The Go Memory Model", Channel communication): a send happens before
// the corresponding receive completes; the close of a channel happens before a receive that
// returns because of it; a receive from an unbuffered channel happens before the send on it
// completes; the k-th receive on a channel of capacity C happens before the (k+C)-th send
// completes. The plain (non-atomic) int each one writes on both sides would be a data race without
// that edge: the TSan build reports it, the other builds check the values.

namespace {
// Runs body as a goro::run main several times (each run is a fresh chance for a bad ordering).
template <class F>
void memory_model_rounds(F body) {
  const int rounds = tsan_scaled(50);
  for (int i = 0; i < rounds; i++)
    goro::run([&body] {
      const std::uint64_t base = alive();
      body();
      wait_for_coroutines(base);
    });
}
}  // namespace

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceChanSync, TestNoRaceChanSyncRev,
// TestNoRaceChanAsync.
TEST_CASE("golang: TestNoRaceChanSync + TestNoRaceChanSyncRev + TestNoRaceChanAsync") {
  watchdog wd("golang: TestNoRaceChanSync");
  failures f;
  memory_model_rounds([&] {
    for (int chanCap : {0, 10}) {  // Sync, Async: a send happens before its receive completes
      int v = 0;
      goro::chan<int> c(chanCap);
      goro::chan<bool> finished(1);
      goro::go([&] {
        v = 1;
        c.send(0);
        finished.send(true);
      });
      (void)c.recv();
      if (v != 1) f.add("v = ", v, " after the receive");
      v = 2;
      (void)finished.recv();
    }
    {  // SyncRev: an unbuffered receive happens before the send completes
      int v = 0;
      goro::chan<int> c;
      goro::chan<bool> finished(1);
      goro::go([&] {
        c.send(0);
        v = 2;
        finished.send(true);
      });
      v = 1;
      (void)c.recv();
      (void)finished.recv();
      if (v != 2) f.add("v = ", v, " after the sender's write");
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceChanAsyncCloseRecv2/3,
// TestNoRaceChanSyncCloseRecv2/3: the close happens before the receive (or the end of a range)
// that it causes.
TEST_CASE("golang: TestNoRaceChanAsyncCloseRecv + TestNoRaceChanSyncCloseRecv") {
  watchdog wd("golang: TestNoRaceChanCloseRecv");
  failures f;
  memory_model_rounds([&] {
    for (int chanCap : {0, 10}) {
      for (bool use_range : {false, true}) {
        int v = 0;
        goro::chan<int> c(chanCap);
        goro::go([&v, c]() mutable {
          v = 1;
          c.close();
        });
        if (use_range) {
          for (int x : c) (void)x;
        } else {
          (void)c.recv();
        }
        if (v != 1) f.add("v = ", v, " after the close was seen");
        v = 2;
      }
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceChanPtr, TestNoRaceChanReadWriteAsync,
// TestNoRaceProducerConsumerUnbuffered: what a message points to, and what its sender wrote
// before sending, belong to the receiver.
TEST_CASE("golang: TestNoRaceChanPtr + TestNoRaceChanReadWriteAsync + TestNoRaceProducerConsumerUnbuffered") {
  watchdog wd("golang: TestNoRaceChanPtr");
  failures f;
  memory_model_rounds([&] {
    {  // ChanPtr
      struct msg {
        int x;
      };
      goro::chan<msg*> c;
      goro::go([c]() mutable { c.send(new msg{1}); });
      msg* m = c.recv().value_or(nullptr);
      if (!m || m->x != 1) f.add("message lost or changed");
      if (m) m->x = 2;
      delete m;
    }
    {  // ChanReadWriteAsync: the read of x (the send's operand) happens before the receive writes x
      goro::chan<bool> done;
      goro::chan<int> c1(10);
      int x = 0;
      goro::go([&] {
        c1.send(x);  // read of x does not race with...
        done.send(true);
      });
      x = c1.recv().value_or(-1);  // ... write to x here
      (void)done.recv();
      if (x != 0) f.add("x = ", x);
    }
    {  // ProducerConsumerUnbuffered
      struct task {
        std::function<void()> fn;
        goro::chan<bool> done;
      };
      goro::chan<task> queue;
      goro::go([queue]() mutable {
        task t = queue.recv().value_or(task{});
        if (t.fn) t.fn();
        if (t.done) t.done.send(true);
      });
      auto doit = [&](std::function<void()> fn) {
        goro::chan<bool> done(1);
        queue.send(task{std::move(fn), done});
        (void)done.recv();
      };
      int x = 0;
      doit([&x] { x = 1; });
      if (x != 1) f.add("x = ", x, " after doit");
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceSelectReadWriteAsync: the same through
// select cases on unbuffered channels.
TEST_CASE("golang: TestNoRaceSelectReadWriteAsync") {
  watchdog wd("golang: TestNoRaceSelectReadWriteAsync");
  failures f;
  memory_model_rounds([&] {
    goro::chan<bool> done;
    int x = 0;
    goro::chan<int> c1, c2;
    goro::go([&] {
      goro::select(goro::on_send(c1, x), goro::on_send(c2, 1));  // read of x does not race with...
      done.send(true);
    });
    goro::select(goro::on_recv(c1, [&](std::optional<int> v) { x = v.value_or(-1); }),  // ... write to x here
                 goro::on_send(c2, 1));
    (void)done.recv();
    if (x != 0) f.add("x = ", x);
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceChanMutex and TestNoRaceSelectMutex: a
// channel of capacity 1 used as a mutex (send to lock, receive to unlock), directly and through
// selects with a second case that never fires.
TEST_CASE("golang: TestNoRaceChanMutex + TestNoRaceSelectMutex") {
  watchdog wd("golang: TestNoRaceChanMutex");
  failures f;
  memory_model_rounds([&] {
    for (bool use_select : {false, true}) {
      goro::chan<std::monostate> done;
      goro::chan<std::monostate> mtx(1);
      goro::chan<bool> aux;
      int data = 0;
      auto lock = [&] {
        if (use_select) goro::select(goro::on_send(mtx, std::monostate{}), goro::on_recv(aux));
        else mtx.send({});
      };
      auto unlock = [&] {
        if (use_select) goro::select(goro::on_recv(mtx), goro::on_recv(aux));
        else (void)mtx.recv();
      };
      goro::go([&] {
        lock();
        data = 42;
        unlock();
        done.send({});
      });
      lock();
      data = 43;
      unlock();
      (void)done.recv();
      if (data != 42 && data != 43) f.add("data = ", data);
    }
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceChanWaitGroup: a channel of capacity
// N/2 as a wait group: the k-th receive happens before the (k+C)-th send completes, so after C
// more sends every goroutine's write is visible.
TEST_CASE("golang: TestNoRaceChanWaitGroup") {
  watchdog wd("golang: TestNoRaceChanWaitGroup");
  failures f;
  memory_model_rounds([&] {
    constexpr int N = 10;
    goro::chan<bool> chan_wg(N / 2);
    std::vector<int> data(N);
    for (int i = 0; i < N; i++) {
      chan_wg.send(true);
      goro::go([&data, chan_wg](int i) mutable {
        data[static_cast<std::size_t>(i)] = 42;
        (void)chan_wg.recv();
      }, i);
    }
    for (std::size_t i = 0; i < chan_wg.capacity(); i++) chan_wg.send(true);
    for (int i = 0; i < N; i++)
      if (data[static_cast<std::size_t>(i)] != 42) f.add("data[", i, "] = ", data[static_cast<std::size_t>(i)]);
  });
  GOLANG_CHECK_NO_FAILURES(f);
}

// Go: src/runtime/race/testdata/chan_test.go, TestNoRaceBlockedSendSync and
// TestNoRaceBlockedSelectSendSync: a sender synchronizes with its receiver even if the sender was
// blocked (the buffer was full) when the receive happened, also when the receive is a select case.
TEST_CASE("golang: TestNoRaceBlockedSendSync + TestNoRaceBlockedSelectSendSync") {
  watchdog wd("golang: TestNoRaceBlockedSendSync");
  failures f;
  const int rounds = tsan_scaled(20, 2);
  golang_run([&] {
    const std::uint64_t base = alive();
    for (int r = 0; r < rounds; r++) {
      for (bool use_select : {false, true}) {
        goro::chan<std::shared_ptr<int>> c(1);
        c.send(nullptr);
        goro::go([c]() mutable {
          auto i = std::make_shared<int>(0);
          *i = 42;
          c.send(i);
        });
        // Give the sender time to actually block (optional for correctness).
        goro::sleep_for(1ms);  // Go: 10 ms, once
        (void)c.recv();
        std::shared_ptr<int> p;
        if (use_select)
          goro::select(goro::on_recv(c, [&](std::optional<std::shared_ptr<int>> v) { p = v.value_or(nullptr); }),
                       goro::on_recv(goro::chan<int>()));
        else
          p = c.recv().value_or(nullptr);
        if (!p || *p != 42) f.add("the blocked sender's value was not seen");
      }
    }
    wait_for_coroutines(base);
  });
  GOLANG_CHECK_NO_FAILURES(f);
}
