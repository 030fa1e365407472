// pipeline_cancel: pipelines with explicit cancellation through a context, ported line by line
// from pipeline_cancel.go.
//
// Porting notes:
//   - context.Context is goro::context (a cheap handle: pass it by value), ctx.Done() is
//     ctx.done(), a recv_chan<std::monostate> closed on cancel; ctx.Err() is a std::error_code
//     ({} while live, then goro::errc::canceled, whose message is Go's "context canceled").
//     fmt prints a nil error as <nil>: errString below does the same.
//   - `defer stages.Done(); defer close(out)` is two scope guards, declared in the same order:
//     C++ destroys them in reverse, so out is closed first, then Done, as Go runs defers.
//   - `return` from inside a select case becomes a test of the index select returns.
//   - merge's own WaitGroup is used by goroutines that outlive merge: a shared_ptr (Go's garbage
//     collector keeps it alive; C++ needs an owner). The stages WaitGroup lives in main, which
//     waits on it before it goes out of scope, so a plain pointer is enough, as in Go.
#include <goro/goro.hpp>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

// Go's defer for one call: runs f when the enclosing scope ends.
template <class F>
struct defer {
  F f;
  ~defer() { f(); }
};
template <class F>
defer(F) -> defer<F>;  // clang 14 has no deduction for aggregates

// fmt's %v of an error: "<nil>" for none.
static std::string errString(std::error_code err) { return err ? err.message() : "<nil>"; }

// gen sends from, from+1, ... up to and including to (to < 0: forever), then closes its channel.
static goro::recv_chan<int> gen(goro::context ctx, goro::wait_group* stages, int from, int to) {
  goro::chan<int> out;
  stages->add(1);
  goro::go([=]() mutable {
    defer done{[&] { stages->done(); }};
    defer close{[&] { out.close(); }};
    for (int i = from; to < 0 || i <= to; i++) {
      if (goro::select(goro::on_send(out, i), goro::on_recv(ctx.done())) == 1) {
        return;
      }
    }
  });
  return out;
}

// odd passes on the odd values it receives.
static goro::recv_chan<int> odd(goro::context ctx, goro::wait_group* stages, goro::recv_chan<int> in) {
  goro::chan<int> out;
  stages->add(1);
  goro::go([=]() mutable {
    defer done{[&] { stages->done(); }};
    defer close{[&] { out.close(); }};
    for (int n : in) {
      if (n % 2 == 1) {
        if (goro::select(goro::on_send(out, n), goro::on_recv(ctx.done())) == 1) {
          return;
        }
      }
    }
  });
  return out;
}

// sq sends the square of each value it receives.
static goro::recv_chan<int> sq(goro::context ctx, goro::wait_group* stages, goro::recv_chan<int> in) {
  goro::chan<int> out;
  stages->add(1);
  goro::go([=]() mutable {
    defer done{[&] { stages->done(); }};
    defer close{[&] { out.close(); }};
    for (int n : in) {
      if (goro::select(goro::on_send(out, n * n), goro::on_recv(ctx.done())) == 1) {
        return;
      }
    }
  });
  return out;
}

// merge sends the values of every channel in cs on one channel, closed once all of cs are.
static goro::recv_chan<int> merge(goro::context ctx, goro::wait_group* stages,
                                  std::vector<goro::recv_chan<int>> cs) {
  auto wg = std::make_shared<goro::wait_group>();
  goro::chan<int> out;

  // Start an output goroutine for each input channel in cs. output copies values from c to
  // out until c is closed or ctx is done, then calls wg.Done.
  auto output = [=](goro::recv_chan<int> c) mutable {
    defer done{[&] { stages->done(); }};
    defer wg_done{[&] { wg->done(); }};
    for (int n : c) {
      if (goro::select(goro::on_send(out, n), goro::on_recv(ctx.done())) == 1) {
        return;
      }
    }
  };
  wg->add(cs.size());
  stages->add(cs.size() + 1);
  for (auto& c : cs) {
    goro::go(output, c);
  }

  // Start a goroutine to close out once all the output goroutines are done.
  goro::go([=]() mutable {
    defer done{[&] { stages->done(); }};
    wg->wait();
    out.close();
  });
  return out;
}

int main() {
  return goro::run([] {
    {
      auto [ctx, cancel] = goro::with_cancel(goro::context::background());
      goro::wait_group stages;
      auto out = sq(ctx, &stages, odd(ctx, &stages, gen(ctx, &stages, 1, -1)));
      std::printf("1. the first 10 odd squares:");
      for (int i = 0; i < 10; i++) {
        std::printf(" %d", *out.recv());
      }
      std::printf("\n");
      cancel();
      stages.wait();
      std::printf("   every stage has stopped: %s\n", errString(ctx.err()).c_str());
    }
    {
      auto [ctx, cancel] = goro::with_cancel(goro::context::background());
      goro::wait_group stages;
      auto src = gen(ctx, &stages, 1, 1000);
      std::vector<goro::recv_chan<int>> workers(4);
      for (auto& w : workers) {
        w = sq(ctx, &stages, src);
      }
      long count = 0, sum = 0;
      for (int n : merge(ctx, &stages, workers)) {
        count++;
        sum += n;
      }
      stages.wait();
      std::printf("2. %ld squares from %zu workers, sum %ld; every stage has stopped: %s\n", count,
                  workers.size(), sum, errString(ctx.err()).c_str());
      cancel();
    }
    {
      auto [ctx, cancel] = goro::with_cancel(goro::context::background());
      goro::wait_group stages;
      auto src = gen(ctx, &stages, 1, -1);
      std::vector<goro::recv_chan<int>> workers(4);
      for (auto& w : workers) {
        w = sq(ctx, &stages, src);
      }
      auto out = merge(ctx, &stages, workers);
      int n = *out.recv();
      int root = 1;
      while (root * root < n) {
        root++;
      }
      std::printf("3. received one value, a square: %s\n", root * root == n ? "true" : "false");
      cancel();
      stages.wait();
      bool open = out.recv().has_value();
      std::printf("   every stage has stopped: %s; the merged channel is closed: %s\n",
                  errString(ctx.err()).c_str(), !open ? "true" : "false");
    }
  });
}
