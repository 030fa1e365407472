// golang.org/x/sync/singleflight: concurrent callers of one key share one computation.
// goro::future_cache keeps results too; capacity 0 keeps nothing, which is singleflight.
// v, err, shared := g.Do(key, fn) is `V v = cache.get(key, fn)` (an exception for err).
#include <goro/goro.hpp>

#include <string>

int main() {
  return goro::run([] {
    goro::future_cache<std::string, int> group({.capacity = 0});  // var group singleflight.Group
    goro::chan<std::monostate> release;
    int computations = 0;
    auto load = [&](const std::string& key) {
      ++computations;
      release.recv();  // hold the computation until every caller has joined it
      return static_cast<int>(key.size());
    };

    constexpr int callers = 100;
    goro::chan<int> results(callers);
    for (int i = 0; i < callers; ++i)
      goro::go([&, results]() mutable { results.send(group.get("profile:42", load)); });
    while (group.stats().coalesced < callers - 1) goro::yield();  // 99 waiting on the leader
    release.close();

    int sum = 0;
    for (int i = 0; i < callers; ++i) sum += *results.recv();
    const bool shared = computations == 1 && sum == callers * 10;
    // Nothing kept: the next call computes again (singleflight.Group forgets after Do returns).
    const int again = group.get("profile:42", [](const std::string&) { return 7; });
    return shared && again == 7 ? 0 : 1;
  });
}
