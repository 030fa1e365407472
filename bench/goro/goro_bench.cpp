// goro_bench: goro's side of the benchmarks.
//
// Usage: goro_bench <benchmark> [size]. The number of workers comes from $GOMAXPROCS (goro reads
// it itself: goro::options{}.workers == 0). Coroutines get goro's default stack
// (goro::sched::default_stack_size, mmap'ed in slabs with a guard page below each stack).
// Every benchmark runs inside the main coroutine, so the runtime's start-up is not timed.
#include "bench_common.hpp"

#include <goro/goro.hpp>
#include <goro/runtime/net.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
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

// Not part of the result: what the scheduler did during a benchmark (deltas of goro::stats()
// taken outside the timed region), to stderr, for whoever tunes channels and sync.
struct sched_delta {
  goro::runtime_stats before = goro::stats();
  void report(const char* what) const {
    goro::runtime_stats a = goro::stats();
    std::fprintf(stderr,
                 "%s: %s: %llu switches, %llu parks, %llu steals, %llu worker sleeps, %llu wakeups\n",
                 prog, what, (unsigned long long)(a.switches - before.switches),
                 (unsigned long long)(a.parks - before.parks),
                 (unsigned long long)(a.steals - before.steals),
                 (unsigned long long)(a.worker_sleeps - before.worker_sleeps),
                 (unsigned long long)(a.worker_wakeups - before.worker_wakeups));
  }
};

// ---- chan_pingpong: two coroutines, two unbuffered channels; ns per round trip ----------------
// The pinger sends i on ping, the ponger receives it and sends it back on pong, the pinger
// receives it. The ponger ranges over ping until the pinger closes it.
void bench_chan_pingpong(std::uint64_t n) {
  goro::chan<std::uint64_t> ping, pong;
  std::uint64_t sum = 0, rounds = 0;
  sched_delta sd;
  auto t0 = bench::clock::now();
  auto ponger = goro::spawn([&] {
    for (std::uint64_t v : ping) {
      pong.send(v);
      ++rounds;
    }
  });
  auto pinger = goro::spawn([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      ping.send(i);
      std::optional<std::uint64_t> v = pong.recv();
      if (!v) bench::die(prog, "chan_pingpong: pong closed");
      sum += *v;
    }
    ping.close();
  });
  pinger.get();
  ponger.get();
  double ns = bench::ns_since(t0);
  sd.report("chan_pingpong");
  bench::check_sum(prog, "chan_pingpong", sum, n * (n - 1) / 2);
  if (rounds != n) bench::die(prog, "chan_pingpong: " + std::to_string(rounds) + " rounds");
  bench::result("chan_pingpong", ns / double(n), "ns");
}

// ---- select_pingpong: chan_pingpong where every receive is a 2-case select --------------------
// Each receive selects between its data channel and quit, which the pinger closes once it is
// done: quit fires only to end the ponger.
void bench_select_pingpong(std::uint64_t n) {
  goro::chan<std::uint64_t> ping, pong;
  goro::chan<int> quit;
  std::uint64_t sum = 0, rounds = 0;
  sched_delta sd;
  auto t0 = bench::clock::now();
  auto ponger = goro::spawn([&] {
    for (;;) {
      std::optional<std::uint64_t> got;
      std::size_t i = goro::select(goro::on_recv(ping, [&](std::optional<std::uint64_t> v) { got = v; }),
                                   goro::on_recv(quit));
      if (i == 1) return;
      if (!got) bench::die(prog, "select_pingpong: ping closed");
      pong.send(*got);
      ++rounds;
    }
  });
  auto pinger = goro::spawn([&] {
    for (std::uint64_t i = 0; i < n; ++i) {
      ping.send(i);
      std::optional<std::uint64_t> got;
      std::size_t k = goro::select(goro::on_recv(pong, [&](std::optional<std::uint64_t> v) { got = v; }),
                                   goro::on_recv(quit));
      if (k != 0 || !got) bench::die(prog, "select_pingpong: quit fired early or pong closed");
      sum += *got;
    }
    quit.close();
  });
  pinger.get();
  ponger.get();
  double ns = bench::ns_since(t0);
  sd.report("select_pingpong");
  bench::check_sum(prog, "select_pingpong", sum, n * (n - 1) / 2);
  if (rounds != n) bench::die(prog, "select_pingpong: " + std::to_string(rounds) + " rounds");
  bench::result("select_pingpong", ns / double(n), "ns");
}

constexpr std::size_t chan_capacity = 1024;

// ---- chan_spsc: one producer sends 0..n-1 on a channel of capacity 1024, one consumer sums ----
void bench_chan_spsc(std::uint64_t n) {
  goro::chan<std::uint64_t> ch(chan_capacity);
  std::uint64_t sum = 0;
  sched_delta sd;
  auto t0 = bench::clock::now();
  auto producer = goro::spawn([&] {
    for (std::uint64_t i = 0; i < n; ++i) ch.send(i);
    ch.close();
  });
  auto consumer = goro::spawn([&] {
    for (std::uint64_t v : ch) sum += v;
  });
  producer.get();
  consumer.get();
  double ns = bench::ns_since(t0);
  sd.report("chan_spsc");
  bench::check_sum(prog, "chan_spsc", sum, n * (n - 1) / 2);
  bench::result("chan_spsc", ns / double(n), "ns");
}

// ---- chan_mpmc: 4 producers (p, p+4, p+8, ... < n) x 4 consumers on one channel ---------------
// The main coroutine closes the channel once every producer is done; each consumer sums what it
// receives.
constexpr unsigned mpmc_side = 4;

void bench_chan_mpmc(std::uint64_t n) {
  goro::chan<std::uint64_t> ch(chan_capacity);
  std::uint64_t sums[mpmc_side] = {}, counts[mpmc_side] = {};
  sched_delta sd;
  auto t0 = bench::clock::now();
  std::vector<goro::join_handle<void>> consumers, producers;
  for (unsigned c = 0; c < mpmc_side; ++c)
    consumers.push_back(goro::spawn([&, c] {
      std::uint64_t s = 0, k = 0;
      for (std::uint64_t v : ch) s += v, ++k;
      sums[c] = s, counts[c] = k;
    }));
  for (unsigned p = 0; p < mpmc_side; ++p)
    producers.push_back(goro::spawn([&, p] {
      for (std::uint64_t i = p; i < n; i += mpmc_side) ch.send(i);
    }));
  for (auto& h : producers) h.get();
  ch.close();
  for (auto& h : consumers) h.get();
  double ns = bench::ns_since(t0);
  sd.report("chan_mpmc");
  std::uint64_t sum = 0, count = 0;
  for (unsigned c = 0; c < mpmc_side; ++c) sum += sums[c], count += counts[c];
  bench::check_sum(prog, "chan_mpmc", sum, n * (n - 1) / 2);
  if (count != n) bench::die(prog, "chan_mpmc: " + std::to_string(count) + " messages");
  std::fprintf(stderr, "%s: chan_mpmc: messages per consumer %llu %llu %llu %llu\n", prog,
               (unsigned long long)counts[0], (unsigned long long)counts[1],
               (unsigned long long)counts[2], (unsigned long long)counts[3]);
  bench::result("chan_mpmc", ns / double(n), "ns");
}

// ---- chan_fanout: one producer, 16 consumers with a channel each; messages are const quote* ---
// The producer (the main coroutine) fills quotes[i] of a preallocated array (written before the
// clock starts, so its pages are resident) and sends &quotes[i] to every consumer; a quote is
// never written again once sent. Consumer c accumulates bid (c even) or ask (c odd).
constexpr unsigned fanout_consumers = 16;

void bench_chan_fanout(std::uint64_t n) {
  std::vector<bench::quote> quotes(n);
  std::vector<goro::chan<const bench::quote*>> chans;  // goro::chan is a handle, as in Go
  for (unsigned c = 0; c < fanout_consumers; ++c) chans.emplace_back(chan_capacity);
  std::int64_t sums[fanout_consumers] = {};
  sched_delta sd;
  auto t0 = bench::clock::now();
  std::vector<goro::join_handle<void>> consumers;
  for (unsigned c = 0; c < fanout_consumers; ++c)
    consumers.push_back(goro::spawn([&, c] {
      auto& ch = chans[c];
      std::int64_t s = 0;
      if (c % 2 == 0)
        for (const bench::quote* q : ch) s += q->bid;
      else
        for (const bench::quote* q : ch) s += q->ask;
      sums[c] = s;
    }));
  for (std::uint64_t i = 0; i < n; ++i) {
    bench::quote* q = &quotes[i];
    *q = bench::make_quote(i);
    for (auto& ch : chans) ch.send(q);
  }
  for (auto& ch : chans) ch.close();
  for (auto& h : consumers) h.get();
  double ns = bench::ns_since(t0);
  sd.report("chan_fanout");
  bench::check_fanout(prog, sums, fanout_consumers, n);
  bench::result("chan_fanout", ns / double(n), "ns");
}

// ---- mutex_contended: 8 coroutines each increment a shared counter n/8 times under goro::mutex -
constexpr unsigned mutex_workers = 8;

void bench_mutex_contended(std::uint64_t n) {
  goro::mutex mu;
  std::uint64_t counter = 0;
  const std::uint64_t per = n / mutex_workers;
  sched_delta sd;
  auto t0 = bench::clock::now();
  std::vector<goro::join_handle<void>> hs;
  for (unsigned w = 0; w < mutex_workers; ++w)
    hs.push_back(goro::spawn([&] {
      for (std::uint64_t i = 0; i < per; ++i) {
        std::lock_guard<goro::mutex> lk(mu);
        ++counter;
      }
    }));
  for (auto& h : hs) h.get();
  double ns = bench::ns_since(t0);
  sd.report("mutex_contended");
  bench::check_sum(prog, "mutex_contended", counter, n);
  bench::result("mutex_contended", ns / double(n), "ns");
}

// ---- timers: n coroutines each sleep a random 1-100 ms; wall time and lateness -----------------
// Coroutine i reads the clock, sleeps durations[i] (goro::sleep_for) and records its lateness:
// the clock after the wake minus (its start + durations[i]), in ns. Lateness below zero means a
// timer fired early: a failure.
void bench_timers(std::uint64_t n) {
  const std::vector<std::int64_t> durations = bench::timer_durations_ms(n);
  // Allocated and written before the clock starts. started, woke: ns since t0 (diagnostics).
  std::vector<std::int64_t> late(n, 0), started(n, 0), woke(n, 0);
  std::atomic<std::uint64_t> woken{0};
  goro::wait_group wg;
  const std::int64_t* dur_p = durations.data();
  std::int64_t* late_p = late.data();
  std::int64_t* started_p = started.data();
  std::int64_t* woke_p = woke.data();
  auto* woken_p = &woken;
  auto* wg_p = &wg;
  const goro::runtime_stats st0 = goro::stats();
  sched_delta sd;
  const std::int64_t t0 = goro::sched::now_ns();
  wg.add(static_cast<std::int64_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    goro::go([dur_p, late_p, started_p, woke_p, woken_p, wg_p, t0, i] {
      const std::int64_t d_ns = dur_p[i] * 1000000;
      std::int64_t start = goro::sched::now_ns();
      goro::sleep_for(std::chrono::milliseconds(dur_p[i]));
      std::int64_t end = goro::sched::now_ns();
      late_p[i] = end - start - d_ns;
      started_p[i] = start - t0;
      woke_p[i] = end - t0;
      woken_p->fetch_add(1, std::memory_order_relaxed);
      wg_p->done();
    });
  }
  const goro::runtime_stats st1 = goro::stats();  // timed, but only a few counter loads
  wg.wait();
  std::int64_t wall_ns = goro::sched::now_ns() - t0;
  sd.report("timers");
  const goro::runtime_stats st2 = goro::stats();
  std::int64_t dsum = 0;
  for (std::int64_t d : durations) dsum += d;
  std::fprintf(stderr,
               "%s: timers: %llu timers fired, global queue pushes %llu while spawning and %llu "
               "after, durations sum %lld ms\n",
               prog, (unsigned long long)(st2.timers_fired - st0.timers_fired),
               (unsigned long long)(st1.global_queue_pushes - st0.global_queue_pushes),
               (unsigned long long)(st2.global_queue_pushes - st1.global_queue_pushes),
               (long long)dsum);
  bench::timer_diagnostics(prog, late, started, woke);
  std::uint64_t w = woken.load(std::memory_order_acquire);
  if (w != n) bench::die(prog, "timers: " + std::to_string(w) + " coroutines woke, want " + std::to_string(n));
  for (std::uint64_t i = 0; i < n; ++i)
    if (late[i] < 0)
      bench::die(prog, "timers: coroutine " + std::to_string(i) + " woke " +
                           std::to_string(-late[i]) + " ns early (sleep " +
                           std::to_string(durations[i]) + " ms)");
  std::sort(late.begin(), late.end());
  bench::result("timers_wall", double(wall_ns) / 1e6, "ms");
  bench::result("timers_late_p50", double(bench::percentile(late, 50)) / 1e3, "us");
  bench::result("timers_late_p99", double(bench::percentile(late, 99)) / 1e3, "us");
  bench::result("timers_late_max", double(late.back()) / 1e3, "us");
}

// ---- tcp_echo: 64 connections x n round trips of 64 bytes on loopback; req/s, p50/p99 -----------
// One process, as gobench does it: a listener on 127.0.0.1:0 whose accept loop starts a coroutine
// per connection (read what arrived, write it back, until end of stream), and 64 client
// coroutines, each dialling once, then doing n round trips: write_all 64 bytes, read_full the
// echo, check it, record the round trip's latency. The clock runs from the moment every client
// has dialled (a closed channel starts them together) until the last one is done.
constexpr unsigned echo_conns = 64;
constexpr std::size_t echo_size = 64;
constexpr std::uint64_t echo_default_rounds = 20000;

void serve_echo(goro::net::conn c) {
  char buf[16 * 1024];
  std::error_code ec;
  for (;;) {
    std::size_t k = c.read(buf, sizeof buf, ec);
    if (ec) bench::die(prog, "tcp_echo: server read: " + ec.message());
    if (k == 0) return;  // the client closed its connection
    c.write_all(buf, k, ec);
    if (ec) bench::die(prog, "tcp_echo: server write: " + ec.message());
  }
}

void bench_tcp_echo(std::uint64_t rounds) {
  goro::net::listener ln = goro::net::listen("127.0.0.1:0");
  const std::string addr = ln.addr();
  goro::wait_group served;
  auto acceptor = goro::spawn([&] {
    for (;;) {
      std::error_code ec;
      goro::net::conn c = ln.accept(ec);
      if (ec == goro::errc::closed) return;
      if (ec) bench::die(prog, "tcp_echo: accept: " + ec.message());
      served.add(1);
      goro::go([&served](goro::net::conn c) { serve_echo(std::move(c)); served.done(); },
               std::move(c));
    }
  });
  std::vector<std::int64_t> lat(echo_conns * rounds);  // ns, connection i's at [i * rounds, ...)
  std::vector<std::int64_t> finish(echo_conns, 0);  // when each client was done, ns since start
  std::int64_t start_ns = 0;
  goro::wait_group ready;
  goro::chan<int> start;
  ready.add(echo_conns);
  std::vector<goro::join_handle<void>> clients;
  for (unsigned i = 0; i < echo_conns; ++i)
    clients.push_back(goro::spawn([&, i] {
      std::error_code ec;
      goro::net::conn c = goro::net::dial(addr, ec);
      if (ec) bench::die(prog, "tcp_echo: dial " + addr + ": " + ec.message());
      ready.done();
      start.recv();  // until start is closed
      char out[echo_size], in[echo_size];
      std::memset(out, 'a' + int(i % 26), sizeof out);
      std::int64_t* my = lat.data() + i * rounds;
      for (std::uint64_t r = 0; r < rounds; ++r) {
        const std::uint64_t tag = (std::uint64_t(i) << 40) | r;  // every message differs
        std::memcpy(out, &tag, sizeof tag);
        const std::int64_t t0 = goro::sched::now_ns();
        c.write_all(out, sizeof out, ec);
        if (ec) bench::die(prog, "tcp_echo: client write: " + ec.message());
        c.read_full(in, sizeof in, ec);
        if (ec) bench::die(prog, "tcp_echo: client read: " + ec.message());
        my[r] = goro::sched::now_ns() - t0;
        if (std::memcmp(in, out, sizeof in) != 0)
          bench::die(prog, "tcp_echo: connection " + std::to_string(i) + ", round " +
                               std::to_string(r) + ": the echo differs");
      }
      finish[i] = goro::sched::now_ns() - start_ns;
      c.close();
    }));
  ready.wait();
  sched_delta sd;
  auto t0 = bench::clock::now();
  start_ns = goro::sched::now_ns();
  start.close();  // publishes start_ns to the clients
  for (auto& h : clients) h.get();
  double ns = bench::ns_since(t0);
  sd.report("tcp_echo");
  served.wait();  // every server coroutine saw its client's end of stream
  ln.close();
  acceptor.get();
  const double total = double(echo_conns) * double(rounds);
  std::sort(lat.begin(), lat.end());
  std::sort(finish.begin(), finish.end());
  std::fprintf(stderr,
               "%s: tcp_echo: %.0f round trips in %.1f ms, latency max %.1f us; connections done "
               "after %.1f ms (first), %.1f ms (median), %.1f ms (last)\n",
               prog, total, ns / 1e6, double(lat.back()) / 1e3, double(finish.front()) / 1e6,
               double(finish[echo_conns / 2]) / 1e6, double(finish.back()) / 1e6);
  bench::result("echo_rps", total / (ns / 1e9), "req/s");
  bench::result("echo_p50_us", double(bench::percentile(lat, 50)) / 1e3, "us");
  bench::result("echo_p99_us", double(bench::percentile(lat, 99)) / 1e3, "us");
}

}  // namespace

void bench_udp_echo(std::uint64_t rounds);  // bench/goro/udp_echo.cpp

int main(int argc, char** argv) {
  if (argc < 2)
    bench::die(prog, "usage: goro_bench <benchmark> [size]; benchmarks: " + bench::all_names +
                         " tcp_echo udp_echo");
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
  } else if (name == "chan_pingpong") {
    n = bench::size_arg(argc, argv, bench::default_size::chan_pingpong), fn = bench_chan_pingpong;
  } else if (name == "select_pingpong") {
    n = bench::size_arg(argc, argv, bench::default_size::select_pingpong), fn = bench_select_pingpong;
  } else if (name == "chan_spsc") {
    n = bench::size_arg(argc, argv, bench::default_size::chan_spsc), fn = bench_chan_spsc;
  } else if (name == "chan_mpmc") {
    n = bench::size_arg(argc, argv, bench::default_size::chan_mpmc), fn = bench_chan_mpmc;
  } else if (name == "chan_fanout") {
    n = bench::size_arg(argc, argv, bench::default_size::chan_fanout), fn = bench_chan_fanout;
  } else if (name == "mutex_contended") {
    n = bench::size_arg(argc, argv, bench::default_size::mutex_contended), fn = bench_mutex_contended;
    bench::check_multiple(prog, "mutex_contended", n, mutex_workers);
  } else if (name == "timers") {
    n = bench::size_arg(argc, argv, bench::default_size::timers), fn = bench_timers;
  } else if (name == "tcp_echo") {
    n = bench::size_arg(argc, argv, echo_default_rounds), fn = bench_tcp_echo;  // rounds per conn
  } else if (name == "udp_echo") {
    n = bench::size_arg(argc, argv, 20000), fn = bench_udp_echo;  // rounds per client
  } else {
    bench::die(prog, "unknown benchmark: " + name);
  }
  std::fprintf(stderr, "goro_bench: %u worker(s)\n", goro::sched::resolve_workers(0));
  return goro::run([fn, n] { fn(n); });
}
