// Timeouts: case <-time.After(d) is goro::on_recv(goro::after(d)); a deadline for a whole loop
// is one timer (or a context) made before the loop, as in Go.
#include <goro/goro.hpp>

#include <chrono>
#include <optional>

using namespace std::chrono_literals;

int main() {
  return goro::run([] {
    goro::chan<int> slow;  // nobody sends: the timeout must win

    // select { case v := <-slow: ...; case <-time.After(20 * time.Millisecond): timed out }
    const auto t0 = std::chrono::steady_clock::now();
    bool timed_out = false;
    goro::select(goro::on_recv(slow, [](std::optional<int>) {}),
                 goro::on_recv(goro::after(20ms), [&](auto) { timed_out = true; }));
    const auto waited = std::chrono::steady_clock::now() - t0;
    if (!timed_out || waited < 20ms) return 1;  // a timer never fires early

    // One deadline for the whole loop: timeout := time.NewTimer(30ms) before `for { select ... }`.
    goro::chan<int> ticks(1);
    goro::go([ticks]() mutable {  // abandoned when main returns, as in Go
      for (int i = 0; i < 1000; ++i) {
        goro::sleep_for(1ms);
        ticks.send(i);
      }
    });
    goro::timer deadline(30ms);
    int received = 0;
    for (bool done = false; !done;) {
      goro::select(goro::on_recv(ticks, [&](std::optional<int>) { ++received; }),
                   goro::on_recv(deadline.c(), [&](auto) { done = true; }));
    }
    return received > 0 ? 0 : 1;
  });
}
