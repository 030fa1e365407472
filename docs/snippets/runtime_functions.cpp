// runtime.Gosched, NumGoroutine, GOMAXPROCS, NumCPU.
#include <goro/goro.hpp>

#include <cstdint>
#include <thread>

int main() {
  // GOMAXPROCS is fixed for a run: the GOMAXPROCS environment variable, or options::workers,
  // which wins over it. There is no call that changes it while the runtime runs.
  return goro::run(goro::options{.workers = 2}, [] {
    const bool two = goro::workers() == 2;                          // runtime.GOMAXPROCS(0)
    const bool cpus = std::thread::hardware_concurrency() >= 1;     // runtime.NumCPU()

    // runtime.NumGoroutine(): coroutines started and not yet finished (main included), a
    // snapshot while others run.
    auto alive = [] {
      goro::runtime_stats s = goro::stats();
      return static_cast<std::int64_t>(s.spawned - s.finished);
    };
    const std::int64_t before = alive();
    goro::chan<int> block;
    for (int i = 0; i < 5; ++i) goro::go([block]() mutable { block.recv(); });
    const std::int64_t during = alive();
    block.close();
    while (alive() != before) goro::yield();  // runtime.Gosched(): let others run

    // Go hides goroutine ids; goro has one (1 is the main coroutine), for logs and dumps.
    const bool main_is_1 = goro::this_coroutine::id() == 1;
    return two && cpus && before == 1 && during == 6 && main_is_1 ? 0 : 1;
  });
}
