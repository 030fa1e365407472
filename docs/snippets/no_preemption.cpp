// Go preempts a goroutine that runs too long (asynchronously, since Go 1.14); goro never does.
// A coroutine runs until it parks, yields or returns. With one worker, a loop that never parks
// starves every other coroutine; with more, the monitor moves the work queued behind it to an
// idle worker, but the loop still holds its own worker.
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>

using clock_type = std::chrono::steady_clock;

void spin_for(std::chrono::milliseconds d) {  // CPU-bound work that never parks
  for (auto end = clock_type::now() + d; clock_type::now() < end;) {
  }
}

int main() {
  // One worker: the other coroutine cannot run until main yields.
  bool starved = false, ran_after_yield = false;
  goro::run(goro::options{.workers = 1}, [&] {
    std::atomic<bool> ran{false};
    goro::go([&ran] { ran = true; });
    spin_for(std::chrono::milliseconds(20));
    starved = !ran;
    goro::yield();  // runtime.Gosched(): a long loop should call it now and then
    ran_after_yield = ran;
  });

  // Two workers: main keeps worker 0 busy; the monitor sees that worker 0 has not switched
  // while holding queued work and wakes worker 1, which takes the coroutine.
  bool rescued = false;
  goro::run(goro::options{.workers = 2}, [&] {
    std::atomic<int> ran_on{-1};
    goro::go([&ran_on] { ran_on = goro::sched::worker_index(); });
    const auto give_up = clock_type::now() + std::chrono::seconds(5);
    while (ran_on < 0 && clock_type::now() < give_up) {
    }  // no yield in this loop
    rescued = ran_on >= 0 && ran_on != goro::sched::worker_index();
  });
  return starved && ran_after_yield && rescued ? 0 : 1;
}
