// goro_bench: goro's side of the benchmarks.
//
// Usage: goro_bench <benchmark> [size]. The number of workers comes from $GOMAXPROCS (goro reads
// it itself: goro::options{}.workers == 0). Coroutines get goro's default stack
// (goro::sched::default_stack_size, mmap'ed in slabs with a guard page below each stack).
// Every benchmark runs inside the main coroutine, so the runtime's start-up is not timed.
#include "bench_common.hpp"

#include <goro/goro.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace {

const char* prog = "goro_bench";

// ---- skynet: fan-out 10; leaves return their ordinal, parents sum their 10 children ----------
std::uint64_t skynet(std::uint64_t num, std::uint64_t size) {
  if (size == 1) return num;
  size /= 10;
  goro::join_handle<std::uint64_t> children[10];
  for (std::uint64_t i = 0; i < 10; ++i) children[i] = goro::spawn(skynet, num + i * size, size);
  std::uint64_t sum = 0;
  for (auto& c : children) sum += c.get();
  return sum;
}

void bench_skynet(std::uint64_t leaves) {
  auto t0 = bench::clock::now();
  std::uint64_t got = skynet(0, leaves);
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "skynet", got, leaves * (leaves - 1) / 2);
  bench::result("skynet", ns / 1e6, "ms");
}

// ---- spawn_join: n trivial coroutines, each returns its index; join all, sum ------------------
void bench_spawn_join(std::uint64_t n) {
  std::vector<goro::join_handle<std::uint64_t>> hs;
  hs.reserve(n);
  auto t0 = bench::clock::now();
  for (std::uint64_t i = 0; i < n; ++i) hs.push_back(goro::spawn([i] { return i; }));
  std::uint64_t sum = 0;
  for (auto& h : hs) sum += h.get();
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "spawn_join", sum, n * (n - 1) / 2);
  bench::result("spawn_join", ns / double(n), "ns");
}

// ---- yield: two coroutines, each calls goro::yield() m times ----------------------------------
void bench_yield(std::uint64_t m) {
  auto body = [m] {
    std::uint64_t count = 0;
    for (std::uint64_t i = 0; i < m; ++i) {
      goro::yield();
      ++count;
    }
    return count;
  };
  auto t0 = bench::clock::now();
  auto a = goro::spawn(body);
  auto b = goro::spawn(body);
  std::uint64_t ca = a.get(), cb = b.get();
  double ns = bench::ns_since(t0);
  if (ca != m || cb != m) bench::die(prog, "yield: counts " + std::to_string(ca) + " " + std::to_string(cb));
  bench::result("yield", ns / double(2 * m), "ns");
}

// ---- memory: RSS per parked coroutine ----------------------------------------------------------
// Each coroutine stores itself in its slot and parks; once all have parked, the main coroutine
// measures, readies every slot and waits for all to finish.
void bench_memory(std::uint64_t n) {
  std::vector<goro::sched::coroutine*> slots(n, nullptr);
  std::atomic<std::uint64_t> parked{0}, finished{0};
  auto* slots_p = slots.data();
  auto* parked_p = &parked;
  auto* finished_p = &finished;
  std::int64_t before = bench::rss_bytes();
  auto t0 = bench::clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    goro::go([slots_p, parked_p, finished_p, i] {
      slots_p[i] = goro::sched::current();
      parked_p->fetch_add(1, std::memory_order_release);
      goro::sched::park();
      finished_p->fetch_add(1, std::memory_order_release);
    });
  }
  // parked counts coroutines on their way into park(): the last ones may not have switched out
  // yet, which a yield settles (and ready() is safe either way: see sched.hpp).
  while (parked.load(std::memory_order_acquire) < n) goro::yield();
  goro::yield();
  std::int64_t after = bench::rss_bytes();
  double park_ms = bench::ns_since(t0) / 1e6;
  auto t1 = bench::clock::now();
  for (std::uint64_t i = 0; i < n; ++i) goro::sched::ready(slots[i]);
  while (finished.load(std::memory_order_acquire) < n) goro::yield();
  // Not part of the result: where the run's time goes, for whoever tunes the scheduler.
  std::fprintf(stderr, "goro_bench: memory: start+park %.1f ms, ready+finish %.1f ms\n", park_ms,
               bench::ns_since(t1) / 1e6);
  bench::result(bench::memory_name(n), double((after - before) / std::int64_t(n)), "B");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bench::die(prog, "usage: goro_bench skynet|spawn_join|yield|memory [size]");
  const std::string name = argv[1];
  std::uint64_t n = 0;
  void (*fn)(std::uint64_t) = nullptr;
  if (name == "skynet") {
    n = bench::size_arg(argc, argv, 1000000), fn = bench_skynet;
    bench::check_skynet_size(prog, n);
  } else if (name == "spawn_join") {
    n = bench::size_arg(argc, argv, 1000000), fn = bench_spawn_join;
  } else if (name == "yield") {
    n = bench::size_arg(argc, argv, 10000000), fn = bench_yield;
  } else if (name == "memory") {
    n = bench::size_arg(argc, argv, 100000), fn = bench_memory;
  } else {
    bench::die(prog, "unknown benchmark: " + name);
  }
  std::fprintf(stderr, "goro_bench: %u worker(s)\n", goro::sched::resolve_workers(0));
  return goro::run([fn, n] { fn(n); });
}
