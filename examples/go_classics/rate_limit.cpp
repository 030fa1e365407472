// rate_limit: rate limiting with a ticker and a bursty limiter, ported line by line from
// rate_limit.go.
//
// Porting notes: time.NewTicker(d) is goro::ticker(d) (its channel is c(); the destructor
// stops it, which is Go's `defer limiter.Stop()`). time.Tick(d), a ticker nobody stops, is a
// goro::ticker that lives as long as the goroutine that reads it. As in Go, a ticker never
// fires early and drops ticks for a slow reader. time.Now() and time.Since are
// std::chrono::steady_clock (Go's monotonic clock reading).
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using namespace std::chrono_literals;

constexpr auto period = 20ms;

int main() {
  return goro::run([] {
    using clock = std::chrono::steady_clock;
    goro::chan<int> requests(5);
    for (int i = 1; i <= 5; i++) {
      requests.send(i);
    }
    requests.close();

    auto start = clock::now();
    goro::ticker limiter(period);
    for (int req : requests) {
      limiter.c().recv();
      std::printf("request %d served on a tick\n", req);
    }
    std::printf("5 requests took at least 5 periods: %s\n",
                clock::now() - start >= 5 * period ? "true" : "false");

    goro::chan<std::string> burstyLimiter(3);
    for (int i = 0; i < 3; i++) {
      burstyLimiter.send("burst");
    }
    start = clock::now();
    goro::go([=]() mutable {
      goro::ticker tick(period);
      for ([[maybe_unused]] auto t : tick.c()) {
        burstyLimiter.send("tick");
      }
    });

    goro::chan<int> burstyRequests(5);
    for (int i = 1; i <= 5; i++) {
      burstyRequests.send(i);
    }
    burstyRequests.close();
    for (int req : burstyRequests) {
      std::string token = *burstyLimiter.recv();
      std::printf("request %d served with a %s token\n", req, token.c_str());
    }
    std::printf("5 bursty requests took at least 2 periods: %s\n",
                clock::now() - start >= 2 * period ? "true" : "false");
  });
}
