// fiber_bench: the Boost.Fiber peer of goro's benchmarks.
//
// Usage: fiber_bench <benchmark> [size]; the number of worker threads N comes from $GOMAXPROCS
// (default 1). N == 1: Boost.Fiber's default round_robin scheduler on the main thread. N > 1:
// boost::fibers::algo::work_stealing on the main thread and N-1 helper threads (its defaults:
// suspend = false, so an idle thread spins looking for work). Fibers get Boost.Fiber's default
// stack allocator, boost::fibers::fixedsize_stack (malloc'ed, no guard page) of
// boost::context::stack_traits::default_size() bytes, for every benchmark.
// Children are started with the default launch policy (post: queued, the parent keeps running),
// as goro::spawn and Go's `go` queue theirs.
#include "bench_common.hpp"

#include <boost/context/stack_traits.hpp>
#include <boost/fiber/all.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

const char* prog = "fiber_bench";

// Runs body() on the main fiber of the main thread, with N threads scheduling fibers.
template <class F>
void with_scheduler(unsigned n, F body) {
  if (n <= 1) {
    body();
    return;
  }
  boost::fibers::mutex mu;
  boost::fibers::condition_variable cv;
  bool done = false;
  std::vector<std::thread> helpers;
  for (unsigned i = 1; i < n; ++i) {
    helpers.emplace_back([&] {
      // Registers this thread; work_stealing's constructor waits until all n have registered.
      boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(n);
      // The thread's main fiber sleeps here; its dispatcher runs (steals) fibers meanwhile.
      std::unique_lock<boost::fibers::mutex> lk(mu);
      cv.wait(lk, [&] { return done; });
    });
  }
  boost::fibers::use_scheduling_algorithm<boost::fibers::algo::work_stealing>(n);
  body();
  {
    std::unique_lock<boost::fibers::mutex> lk(mu);
    done = true;
  }
  cv.notify_all();
  for (auto& t : helpers) t.join();
}

// ---- skynet: fan-out 10; leaves return their ordinal, parents sum their 10 children ----------
std::uint64_t skynet(std::uint64_t num, std::uint64_t size) {
  if (size == 1) return num;
  size /= 10;
  std::uint64_t res[10];
  boost::fibers::fiber children[10];
  for (std::uint64_t i = 0; i < 10; ++i)
    children[i] = boost::fibers::fiber([&res, i, num, size] { res[i] = skynet(num + i * size, size); });
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < 10; ++i) {
    children[i].join();
    sum += res[i];
  }
  return sum;
}

void bench_skynet(std::uint64_t leaves) {
  auto t0 = bench::clock::now();
  std::uint64_t got = skynet(0, leaves);
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "skynet", got, leaves * (leaves - 1) / 2);
  bench::result("skynet", ns / 1e6, "ms");
}

// ---- spawn_join: n trivial fibers, each stores its index; join all, sum -----------------------
void bench_spawn_join(std::uint64_t n) {
  std::vector<std::uint64_t> res(n);
  std::vector<boost::fibers::fiber> fs;
  fs.reserve(n);
  auto t0 = bench::clock::now();
  for (std::uint64_t i = 0; i < n; ++i) fs.emplace_back([&res, i] { res[i] = i; });
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    fs[i].join();
    sum += res[i];
  }
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "spawn_join", sum, n * (n - 1) / 2);
  bench::result("spawn_join", ns / double(n), "ns");
}

// ---- yield: two fibers, each yields m times ---------------------------------------------------
void bench_yield(std::uint64_t m) {
  std::uint64_t count[2] = {0, 0};
  auto t0 = bench::clock::now();
  boost::fibers::fiber a([&] {
    for (std::uint64_t i = 0; i < m; ++i) {
      boost::this_fiber::yield();
      ++count[0];
    }
  });
  boost::fibers::fiber b([&] {
    for (std::uint64_t i = 0; i < m; ++i) {
      boost::this_fiber::yield();
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

// ---- memory: RSS per parked fiber (each waits on one shared condition variable) ---------------
void bench_memory(std::uint64_t n) {
  boost::fibers::mutex mu;
  boost::fibers::condition_variable cv;
  bool released = false;
  std::atomic<std::uint64_t> parked{0}, finished{0};
  std::int64_t before = bench::rss_bytes();
  for (std::uint64_t i = 0; i < n; ++i) {
    boost::fibers::fiber([&] {
      std::unique_lock<boost::fibers::mutex> lk(mu);
      parked.fetch_add(1, std::memory_order_relaxed);
      cv.wait(lk, [&] { return released; });
      lk.unlock();
      finished.fetch_add(1, std::memory_order_release);
    }).detach();
  }
  // parked counts fibers that hold the mutex on their way into wait(): the last one may not have
  // suspended yet, which a yield settles.
  while (parked.load(std::memory_order_relaxed) < n) boost::this_fiber::yield();
  boost::this_fiber::yield();
  std::int64_t after = bench::rss_bytes();
  {
    std::unique_lock<boost::fibers::mutex> lk(mu);
    released = true;
  }
  cv.notify_all();
  while (finished.load(std::memory_order_acquire) < n) boost::this_fiber::yield();
  bench::result(bench::memory_name(n), double((after - before) / std::int64_t(n)), "B");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bench::die(prog, "usage: fiber_bench skynet|spawn_join|yield|memory [size]");
  const std::string name = argv[1];
  const unsigned workers = bench::gomaxprocs(1);
  std::fprintf(stderr, "fiber_bench: %u thread(s), %s, fixedsize_stack of %zu bytes\n", workers,
               workers > 1 ? "work_stealing" : "round_robin",
               boost::context::stack_traits::default_size());
  if (name == "skynet") {
    auto n = bench::size_arg(argc, argv, 1000000);
    bench::check_skynet_size(prog, n);
    with_scheduler(workers, [&] { bench_skynet(n); });
  } else if (name == "spawn_join") {
    auto n = bench::size_arg(argc, argv, 1000000);
    with_scheduler(workers, [&] { bench_spawn_join(n); });
  } else if (name == "yield") {
    auto n = bench::size_arg(argc, argv, 10000000);
    with_scheduler(workers, [&] { bench_yield(n); });
  } else if (name == "memory") {
    auto n = bench::size_arg(argc, argv, 100000);
    with_scheduler(workers, [&] { bench_memory(n); });
  } else {
    bench::die(prog, "unknown benchmark: " + name);
  }
  return 0;
}
