// sync/atomic is std::atomic. Go's atomics are sequentially consistent, and so is every
// std::atomic operation unless a weaker std::memory_order is asked for. atomic.Value /
// atomic.Pointer[T] for an immutable snapshot: std::atomic<std::shared_ptr<const T>>.
#include <goro/goro.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

struct config {
  std::string endpoint;
  int retries;
};

int main() {
  return goro::run([] {
    std::atomic<std::int64_t> hits{0};  // var hits atomic.Int64
    std::atomic<std::shared_ptr<const config>> current{
        std::make_shared<const config>(config{"a.example", 1})};  // var current atomic.Pointer[config]

    goro::wait_group wg;
    for (int i = 0; i < 8; ++i) {
      wg.add(1);
      goro::go([&] {
        for (int k = 0; k < 1000; ++k) {
          hits.fetch_add(1);                              // hits.Add(1)
          std::shared_ptr<const config> c = current.load();  // current.Load()
          if (c->retries < 1) hits.store(-1'000'000);     // never: every snapshot is whole
        }
        wg.done();
      });
    }
    current.store(std::make_shared<const config>(config{"b.example", 3}));  // current.Store(...)
    wg.wait();

    std::int64_t expected = 8000;  // hits.CompareAndSwap(8000, 0)
    const bool swapped = hits.compare_exchange_strong(expected, 0);
    return swapped && current.load()->endpoint == "b.example" ? 0 : 1;
  });
}
