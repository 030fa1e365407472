// time.Sleep, time.NewTicker, time.NewTimer with Stop and Reset. Deadlines are on
// std::chrono::steady_clock (Go's monotonic reading); a timer never fires early.
#include <goro/goro.hpp>

#include <chrono>
#include <optional>

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

int main() {
  return goro::run([] {
    const auto t0 = clock_type::now();
    goro::sleep_for(5ms);                          // time.Sleep(5 * time.Millisecond)
    const bool slept = clock_type::now() - t0 >= 5ms;  // time.Since(t0)

    // ticker := time.NewTicker(2ms); defer ticker.Stop(); for t := range ticker.C { ... }
    int ticks = 0;
    {
      goro::ticker ticker(2ms);  // the destructor stops it
      for (auto tick : ticker.c()) {
        (void)tick;  // a steady_clock::time_point
        if (++ticks == 3) break;
      }
    }

    // t := time.NewTimer(1h); t.Stop() reports whether it stopped a pending delivery.
    goro::timer never(1h);
    const bool stopped = never.stop();

    // Reset on a timer that has fired and whose value nobody received: the old value stays in
    // the channel (Go before 1.23 did the same; Go 1.23+ discards it), so drain before Reset.
    goro::timer t(1ms);
    goro::sleep_for(5ms);                       // t fires; nobody receives
    const bool was_armed = t.reset(1h);         // false: it had fired
    const bool stale = t.c().try_recv().has_value();  // the old firing's value, at once
    return slept && ticks == 3 && stopped && !was_armed && stale ? 0 : 1;
  });
}
