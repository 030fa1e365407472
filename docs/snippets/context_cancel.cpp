// context.Background, WithCancel, WithTimeout, Done, Err. Contexts are cheap handles: pass
// them by value. There is no WithValue: pass values as parameters.
#include <goro/goro.hpp>

#include <chrono>
#include <optional>
#include <stop_token>
#include <system_error>

using namespace std::chrono_literals;

// func worker(ctx context.Context, jobs <-chan int, done chan<- int)
void worker(goro::context ctx, goro::recv_chan<int> jobs, goro::send_chan<int> done) {
  int handled = 0;
  for (;;) {
    std::size_t i = goro::select(goro::on_recv(jobs,
                                               [&](std::optional<int> j) {
                                                 if (j)
                                                   ++handled;
                                                 else
                                                   jobs = nullptr;  // closed: jobs = nil
                                               }),
                                 goro::on_recv(ctx.done()));  // case <-ctx.Done(): return
    if (i == 1) break;
  }
  done.send(handled);
}

int main() {
  return goro::run([] {
    // ctx, cancel := context.WithCancel(context.Background()); defer cancel()
    auto [ctx, cancel] = goro::with_cancel(goro::context::background());
    // context.AfterFunc(ctx, f): a std::stop_callback on ctx.stop_token(). It runs on the
    // thread that cancels: keep it short, never park in it.
    bool after_func_ran = false;
    std::stop_callback on_cancel(ctx.stop_token(), [&] { after_func_ran = true; });
    goro::chan<int> jobs(10), done(1);
    goro::go(worker, ctx, jobs, done);
    for (int j = 0; j < 3; ++j) jobs.send(j);
    while (jobs.size() > 0) goro::yield();  // let the worker take them
    cancel();
    const bool canceled = *done.recv() == 3 && ctx.err() == goro::errc::canceled && after_func_ran;

    // ctx, cancel := context.WithTimeout(parent, 10ms): a child; the parent is not affected.
    auto [parent, cancel_parent] = goro::with_cancel(goro::context::background());
    auto [tctx, tcancel] = goro::with_timeout(parent, 10ms);
    std::error_code slept = goro::sleep_for(tctx, 1h);  // a sleep that the context ends
    const bool timed_out = slept == goro::errc::deadline_exceeded && tctx.err() == slept &&
                           !parent.err();
    tcancel();  // always call it (idempotent): it stops the timer at once
    cancel_parent();
    return canceled && timed_out ? 0 : 1;
  });
}
