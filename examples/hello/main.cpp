// hello: the smallest goro program that shows the model: a tree of coroutines on all cores.
#include <goro/goro.hpp>

#include <cstdio>
#include <vector>

// Sums 0..n-1 by splitting the range among coroutines, down to chunks of `leaf` numbers.
static long long sum_range(long long lo, long long hi, long long leaf) {
  if (hi - lo <= leaf) {
    long long s = 0;
    for (long long i = lo; i < hi; ++i) s += i;
    return s;
  }
  long long mid = lo + (hi - lo) / 2;
  auto left = goro::spawn(sum_range, lo, mid, leaf);  // arguments are copied: capture by value
  long long right = sum_range(mid, hi, leaf);
  return left.get() + right;
}

int main() {
  return goro::run([] {
    const long long n = 100'000'000;
    long long total = sum_range(0, n, 10'000);
    auto st = goro::stats();
    std::printf("sum of 0..%lld = %lld (expected %lld)\n", n - 1, total, n * (n - 1) / 2);
    std::printf("%llu workers, %llu coroutines spawned, %llu steals\n",
                (unsigned long long)st.workers, (unsigned long long)st.spawned,
                (unsigned long long)st.steals);
    return total == n * (n - 1) / 2 ? 0 : 1;
  });
}
