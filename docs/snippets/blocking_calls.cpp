// Go's runtime takes the processor away from a goroutine blocked in a system call and gives it
// to another thread; goro does not. A call that blocks the thread (std::this_thread::sleep_for,
// a blocking read(2), std::mutex, a C library doing I/O) blocks the worker and every coroutine
// queued on it. Use goro's own waits (goro::sleep_for, channels, goro::mutex, goro::net,
// goro::fs) and, for a call with no asynchronous form, goro::blocking(fn): fn runs on a
// helper thread while only the calling coroutine parks.
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <thread>

using namespace std::chrono_literals;

int main() {
  return goro::run(goro::options{.workers = 1}, [] {
    std::atomic<int> beats{0};
    std::atomic<bool> stop{false};
    goro::go([&] {  // a coroutine that wants to run every millisecond
      while (!stop) {
        ++beats;
        goro::sleep_for(1ms);
      }
    });
    goro::sleep_for(2ms);

    // Blocking the only worker's thread: nothing else runs for those 30 ms.
    int before = beats;
    std::this_thread::sleep_for(30ms);
    const bool frozen = beats == before;

    // The same call through goro::blocking: the worker keeps running the other coroutine.
    before = beats;
    goro::blocking([] { std::this_thread::sleep_for(30ms); });
    const bool kept_running = beats - before >= 5;

    stop = true;
    return frozen && kept_running ? 0 : 1;
  });
}
