// The memory model: what a coroutine wrote before a channel send, a close, an unlock, a
// wait_group::done or the end of a spawned coroutine is visible to the coroutine that completes
// the matching receive, lock, wait or get(), on any worker, as in Go. Anything else shared
// and written concurrently must be a std::atomic: a data race is undefined behaviour in C++
// (build with -DGORO_SANITIZE=thread to find them).
#include <goro/goro.hpp>

#include <mutex>
#include <numeric>
#include <vector>

int main() {
  return goro::run([] {
    std::vector<int> data;  // plain memory, no atomics
    goro::chan<std::monostate> ready;
    goro::go([&data, ready]() mutable {
      data.assign(1000, 1);  // written before the close...
      ready.close();
    });
    ready.recv();  // ...so visible after the receive that sees it closed
    const bool via_close = std::accumulate(data.begin(), data.end(), 0) == 1000;

    goro::mutex mu;
    int balance = 0;
    goro::wait_group wg;
    for (int i = 0; i < 100; ++i) {
      wg.add(1);
      goro::go([&] {
        {
          std::lock_guard<goro::mutex> lock(mu);  // unlock -> the next lock
          balance += 10;
        }
        wg.done();  // done -> wait returns
      });
    }
    wg.wait();
    const bool via_locks = balance == 1000;

    auto h = goro::spawn([] { return std::vector<int>(10, 2); });  // the coroutine's end -> get()
    const std::vector<int> result = h.get();
    return via_close && via_locks && result[9] == 2 ? 0 : 1;
  });
}
