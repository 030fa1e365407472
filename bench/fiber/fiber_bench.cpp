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
#include <memory>
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

// ---- chan_pingpong: two fibers, two unbuffered channels; ns per round trip --------------------
// The pinger pushes i on ping, the ponger pops it and pushes it back on pong, the pinger pops it.
void bench_chan_pingpong(std::uint64_t n) {
  boost::fibers::unbuffered_channel<std::uint64_t> ping, pong;
  std::uint64_t sum = 0, rounds = 0;
  auto t0 = bench::clock::now();
  boost::fibers::fiber ponger([&] {
    std::uint64_t v;
    while (ping.pop(v) == boost::fibers::channel_op_status::success) {
      pong.push(v);
      ++rounds;
    }
  });
  boost::fibers::fiber pinger([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      ping.push(i);
      std::uint64_t v;
      if (pong.pop(v) != boost::fibers::channel_op_status::success)
        bench::die(prog, "chan_pingpong: pong closed");
      sum += v;
    }
    ping.close();
  });
  pinger.join();
  ponger.join();
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "chan_pingpong", sum, n * (n - 1) / 2);
  if (rounds != n) bench::die(prog, "chan_pingpong: " + std::to_string(rounds) + " rounds");
  bench::result("chan_pingpong", ns / double(n), "ns");
}

// ---- select_pingpong: Boost.Fiber has no select ------------------------------------------------
// Its idiom for waiting on two sources is one channel that carries both: every channel carries a
// tagged message, and "quit" is a message (sent once, at the end) instead of a closed channel, so
// each receive is a pop plus a branch on the tag. This is chan_pingpong with a tag: the floor a
// select could reach, not a select.
struct tagged {
  bool quit;
  std::uint64_t value;
};

void bench_select_pingpong(std::uint64_t n) {
  boost::fibers::unbuffered_channel<tagged> ping, pong;
  std::uint64_t sum = 0, rounds = 0;
  auto t0 = bench::clock::now();
  boost::fibers::fiber ponger([&] {
    for (;;) {
      tagged m;
      if (ping.pop(m) != boost::fibers::channel_op_status::success)
        bench::die(prog, "select_pingpong: ping closed");
      if (m.quit) return;
      pong.push(m);
      ++rounds;
    }
  });
  boost::fibers::fiber pinger([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      ping.push(tagged{false, i});
      tagged m;
      if (pong.pop(m) != boost::fibers::channel_op_status::success)
        bench::die(prog, "select_pingpong: pong closed");
      if (m.quit) bench::die(prog, "select_pingpong: quit fired early");
      sum += m.value;
    }
    ping.push(tagged{true, 0});
  });
  pinger.join();
  ponger.join();
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "select_pingpong", sum, n * (n - 1) / 2);
  if (rounds != n) bench::die(prog, "select_pingpong: " + std::to_string(rounds) + " rounds");
  bench::result("select_pingpong", ns / double(n), "ns");
}

// Boost.Fiber's buffered_channel takes a power-of-two capacity >= 2 and holds one element less:
// buffered_channel(1024) holds 1023, the nearest it gets to Go's make(chan T, 1024).
constexpr std::size_t chan_capacity = 1024;

// ---- chan_spsc: one producer pushes 0..n-1, one consumer sums; ns per message -----------------
void bench_chan_spsc(std::uint64_t n) {
  boost::fibers::buffered_channel<std::uint64_t> ch(chan_capacity);
  std::uint64_t sum = 0;
  auto t0 = bench::clock::now();
  boost::fibers::fiber producer([&] {
    for (std::uint64_t i = 0; i < n; ++i) ch.push(i);
    ch.close();
  });
  boost::fibers::fiber consumer([&] {
    std::uint64_t v;
    while (ch.pop(v) == boost::fibers::channel_op_status::success) sum += v;
  });
  producer.join();
  consumer.join();
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "chan_spsc", sum, n * (n - 1) / 2);
  bench::result("chan_spsc", ns / double(n), "ns");
}

// ---- chan_mpmc: 4 producers (p, p+4, p+8, ... < n) x 4 consumers on one channel ---------------
constexpr unsigned mpmc_side = 4;

void bench_chan_mpmc(std::uint64_t n) {
  boost::fibers::buffered_channel<std::uint64_t> ch(chan_capacity);
  std::uint64_t sums[mpmc_side] = {}, counts[mpmc_side] = {};
  auto t0 = bench::clock::now();
  std::vector<boost::fibers::fiber> consumers, producers;
  for (unsigned c = 0; c < mpmc_side; ++c)
    consumers.emplace_back([&, c] {
      std::uint64_t s = 0, k = 0, v;
      while (ch.pop(v) == boost::fibers::channel_op_status::success) s += v, ++k;
      sums[c] = s, counts[c] = k;
    });
  for (unsigned p = 0; p < mpmc_side; ++p)
    producers.emplace_back([&, p] {
      for (std::uint64_t i = p; i < n; i += mpmc_side) ch.push(i);
    });
  for (auto& f : producers) f.join();
  ch.close();
  for (auto& f : consumers) f.join();
  double ns = bench::ns_since(t0);
  std::uint64_t sum = 0, count = 0;
  for (unsigned c = 0; c < mpmc_side; ++c) sum += sums[c], count += counts[c];
  bench::check_sum(prog, "chan_mpmc", sum, n * (n - 1) / 2);
  if (count != n) bench::die(prog, "chan_mpmc: " + std::to_string(count) + " messages");
  std::fprintf(stderr, "%s: chan_mpmc: messages per consumer %llu %llu %llu %llu\n", prog,
               (unsigned long long)counts[0], (unsigned long long)counts[1],
               (unsigned long long)counts[2], (unsigned long long)counts[3]);
  bench::result("chan_mpmc", ns / double(n), "ns");
}

// ---- chan_fanout: one producer, 16 consumers with a channel each; messages are const Quote* ---
// The producer (the main fiber) fills quotes[i] of a preallocated array (written before the
// clock starts, so its pages are resident) and pushes &quotes[i] to every consumer; a quote is
// never written again once sent. Consumer c accumulates bid (c even) or ask (c odd).
constexpr unsigned fanout_consumers = 16;

void bench_chan_fanout(std::uint64_t n) {
  std::vector<bench::quote> quotes(n);
  std::vector<std::unique_ptr<boost::fibers::buffered_channel<const bench::quote*>>> chans;
  for (unsigned c = 0; c < fanout_consumers; ++c)
    chans.push_back(std::make_unique<boost::fibers::buffered_channel<const bench::quote*>>(chan_capacity));
  std::int64_t sums[fanout_consumers] = {};
  auto t0 = bench::clock::now();
  std::vector<boost::fibers::fiber> consumers;
  for (unsigned c = 0; c < fanout_consumers; ++c)
    consumers.emplace_back([&, c] {
      auto& ch = *chans[c];
      std::int64_t s = 0;
      const bench::quote* q;
      if (c % 2 == 0)
        while (ch.pop(q) == boost::fibers::channel_op_status::success) s += q->bid;
      else
        while (ch.pop(q) == boost::fibers::channel_op_status::success) s += q->ask;
      sums[c] = s;
    });
  for (std::uint64_t i = 0; i < n; ++i) {
    bench::quote* q = &quotes[i];
    *q = bench::make_quote(i);
    for (auto& ch : chans) ch->push(q);
  }
  for (auto& ch : chans) ch->close();
  for (auto& f : consumers) f.join();
  double ns = bench::ns_since(t0);
  bench::check_fanout(prog, sums, fanout_consumers, n);
  bench::result("chan_fanout", ns / double(n), "ns");
}

// ---- mutex_contended: 8 fibers each increment a shared counter n/8 times under a fiber mutex --
constexpr unsigned mutex_workers = 8;

void bench_mutex_contended(std::uint64_t n) {
  boost::fibers::mutex mu;
  std::uint64_t counter = 0;
  const std::uint64_t per = n / mutex_workers;
  auto t0 = bench::clock::now();
  std::vector<boost::fibers::fiber> fs;
  for (unsigned w = 0; w < mutex_workers; ++w)
    fs.emplace_back([&] {
      for (std::uint64_t i = 0; i < per; ++i) {
        std::lock_guard<boost::fibers::mutex> lk(mu);
        ++counter;
      }
    });
  for (auto& f : fs) f.join();
  double ns = bench::ns_since(t0);
  bench::check_sum(prog, "mutex_contended", counter, n);
  bench::result("mutex_contended", ns / double(n), "ns");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bench::die(prog, "usage: fiber_bench <benchmark> [size]; benchmarks: " + bench::all_names);
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
  } else if (name == "chan_pingpong") {
    auto n = bench::size_arg(argc, argv, bench::default_size::chan_pingpong);
    with_scheduler(workers, [&] { bench_chan_pingpong(n); });
  } else if (name == "select_pingpong") {
    auto n = bench::size_arg(argc, argv, bench::default_size::select_pingpong);
    with_scheduler(workers, [&] { bench_select_pingpong(n); });
  } else if (name == "chan_spsc") {
    auto n = bench::size_arg(argc, argv, bench::default_size::chan_spsc);
    with_scheduler(workers, [&] { bench_chan_spsc(n); });
  } else if (name == "chan_mpmc") {
    auto n = bench::size_arg(argc, argv, bench::default_size::chan_mpmc);
    with_scheduler(workers, [&] { bench_chan_mpmc(n); });
  } else if (name == "chan_fanout") {
    auto n = bench::size_arg(argc, argv, bench::default_size::chan_fanout);
    with_scheduler(workers, [&] { bench_chan_fanout(n); });
  } else if (name == "mutex_contended") {
    auto n = bench::size_arg(argc, argv, bench::default_size::mutex_contended);
    bench::check_multiple(prog, "mutex_contended", n, mutex_workers);
    with_scheduler(workers, [&] { bench_mutex_contended(n); });
  } else {
    bench::die(prog, "unknown benchmark: " + name);
  }
  return 0;
}
