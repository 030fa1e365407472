// hello: the smallest goro program that shows the model: a tree of coroutines on all cores.
//
// Sums 0..n-1 by splitting the range in halves, one coroutine per half, down to chunks of 10,000
// numbers; then prints what the scheduler did. Run it with GOMAXPROCS=1 and =2 to compare.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>

// Arguments are copied into the new coroutine: capture by value, never by reference to locals.
static long long sum_range(long long lo, long long hi, long long leaf) {
  if (hi - lo <= leaf) {
    long long s = 0;
    for (long long i = lo; i < hi; ++i) s += i;
    return s;
  }
  long long mid = lo + (hi - lo) / 2;
  auto left = goro::spawn(sum_range, lo, mid, leaf);  // runs concurrently, maybe on another core
  long long right = sum_range(mid, hi, leaf);         // this half runs here
  return left.get() + right;                          // parks this coroutine until left is done
}

int main() {
  return goro::run([] {
    const long long n = 100'000'000;
    const auto t0 = std::chrono::steady_clock::now();
    const long long total = sum_range(0, n, 10'000);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const auto st = goro::stats();
    const bool ok = total == n * (n - 1) / 2;
    std::printf("goro: sum of 0..%lld = %lld (%s) in %.1f ms\n", n - 1, total,
                ok ? "correct" : "WRONG", ms);
    std::printf("  workers          %llu  (GOMAXPROCS or one per core)\n",
                (unsigned long long)st.workers);
    std::printf("  coroutines       %llu spawned, %llu finished\n",
                (unsigned long long)st.spawned, (unsigned long long)st.finished);
    std::printf("  work stealing    %llu steals moved %llu coroutines between workers\n",
                (unsigned long long)st.steals, (unsigned long long)st.stolen);
    std::printf("  switches         %llu resumptions, %llu parks (waiting in get())\n",
                (unsigned long long)st.switches, (unsigned long long)st.parks);
    std::printf("  stacks           %llu carved (%.1f MiB reserved, committed lazily), reused for "
                "the rest\n",
                (unsigned long long)st.stacks_allocated, st.stack_bytes_reserved / 1048576.0);
    return ok ? 0 : 1;
  });
}
