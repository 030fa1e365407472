// thread_bench: the OS-thread peer (std::thread) of goro's benchmarks that make sense for threads.
//
// Usage: thread_bench spawn_join|yield|mutex_contended [size]. The worker count N comes from
// $GOMAXPROCS, as for goro and Go: the process restricts itself (sched_setaffinity, inherited by
// its threads) to the first N CPUs it is allowed on, the nearest thing threads have to "N workers".
// No skynet (a million threads), no memory row, no channel rows (the standard library has no
// channel).
#include "bench_common.hpp"

#include <sched.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* prog = "thread_bench";

void limit_cpus(unsigned n) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) bench::die(prog, "sched_getaffinity failed");
  cpu_set_t use;
  CPU_ZERO(&use);
  unsigned taken = 0;
  for (int c = 0; c < CPU_SETSIZE && taken < n; ++c) {
    if (CPU_ISSET(c, &allowed)) {
      CPU_SET(c, &use);
      ++taken;
    }
  }
  if (taken == 0) bench::die(prog, "no CPU to run on");
  if (sched_setaffinity(0, sizeof use, &use) != 0) bench::die(prog, "sched_setaffinity failed");
  std::fprintf(stderr, "thread_bench: running on %u CPU(s)\n", taken);
}

// ---- spawn_join: n threads, each stores its index; join all, sum ------------------------------
void bench_spawn_join(std::uint64_t n) {
  std::vector<std::uint64_t> res(n);
  std::vector<std::thread> ts;
  ts.reserve(n);
  auto t0 = bench::clock::now();
  for (std::uint64_t i = 0; i < n; ++i) ts.emplace_back([&res, i] { res[i] = i; });
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    ts[i].join();
    sum += res[i];
  }
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "spawn_join", sum, n * (n - 1) / 2);
  bench::result("spawn_join", ns / double(n), "ns");
}

// ---- yield: two threads, each calls std::this_thread::yield() m times ------------------------
void bench_yield(std::uint64_t m) {
  std::uint64_t count[2] = {0, 0};
  auto t0 = bench::clock::now();
  std::thread a([&] {
    for (std::uint64_t i = 0; i < m; ++i) {
      std::this_thread::yield();
      ++count[0];
    }
  });
  std::thread b([&] {
    for (std::uint64_t i = 0; i < m; ++i) {
      std::this_thread::yield();
      ++count[1];
    }
  });
  a.join();
  b.join();
  double ns = bench::ns_since(t0);
  if (count[0] != m || count[1] != m)
    bench::die(prog, "yield: counts " + std::to_string(count[0]) + " " + std::to_string(count[1]));
  bench::result("yield", ns / double(2 * m), "ns");
}

// ---- mutex_contended: 8 threads each increment a shared counter n/8 times under a std::mutex --
constexpr unsigned mutex_workers = 8;

void bench_mutex_contended(std::uint64_t n) {
  std::mutex mu;
  std::uint64_t counter = 0;
  const std::uint64_t per = n / mutex_workers;
  auto t0 = bench::clock::now();
  std::vector<std::thread> ts;
  for (unsigned w = 0; w < mutex_workers; ++w)
    ts.emplace_back([&] {
      for (std::uint64_t i = 0; i < per; ++i) {
        std::lock_guard<std::mutex> lk(mu);
        ++counter;
      }
    });
  for (auto& t : ts) t.join();
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "mutex_contended", counter, n);
  bench::result("mutex_contended", ns / double(n), "ns");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bench::die(prog, "usage: thread_bench spawn_join|yield|mutex_contended [size]");
  const std::string name = argv[1];
  limit_cpus(bench::gomaxprocs(std::thread::hardware_concurrency()));
  if (name == "spawn_join") {
    bench_spawn_join(bench::size_arg(argc, argv, 10000));
  } else if (name == "yield") {
    bench_yield(bench::size_arg(argc, argv, 10000000));
  } else if (name == "mutex_contended") {
    auto n = bench::size_arg(argc, argv, bench::default_size::mutex_contended);
    bench::check_multiple(prog, "mutex_contended", n, mutex_workers);
    bench_mutex_contended(n);
  } else {
    bench::die(prog, "no thread version of benchmark: " + name);
  }
  return 0;
}
