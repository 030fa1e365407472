// bench_common.hpp: what the C++ benchmark programs share: argument parsing, the clock, RSS from
// /proc/self/statm, the worker count from $GOMAXPROCS, and the "RESULT <name> <value> <unit>" line
// that bench/run.py parses.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace bench {

// Exits at once with status 1: _Exit, not exit, because it may be called from a coroutine or
// fiber while other workers still run (no static destructors under their feet).
[[noreturn]] inline void die(const char* prog, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", prog, msg.c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

using clock = std::chrono::steady_clock;

inline double ns_since(clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(clock::now() - t0).count();
}

inline void result(const std::string& name, double value, const char* unit) {
  std::printf("RESULT %s %.3f %s\n", name.c_str(), value, unit);
  std::fflush(stdout);
}

// Resident set size in bytes: the second field of /proc/self/statm (pages), as gobench reads it.
inline std::int64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) die("bench", "cannot open /proc/self/statm");
  long long size = 0, resident = 0;
  int n = std::fscanf(f, "%lld %lld", &size, &resident);
  std::fclose(f);
  if (n != 2) die("bench", "cannot parse /proc/self/statm");
  return static_cast<std::int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

// memory_100k, memory_1m, ...: the row name for N parked coroutines (gobench names them alike).
inline std::string memory_name(std::uint64_t n) {
  if (n % 1000000 == 0) return "memory_" + std::to_string(n / 1000000) + "m";
  if (n % 1000 == 0) return "memory_" + std::to_string(n / 1000) + "k";
  return "memory_" + std::to_string(n);
}

// $GOMAXPROCS as a positive integer, else `fallback`.
inline unsigned gomaxprocs(unsigned fallback) {
  const char* s = std::getenv("GOMAXPROCS");
  if (!s || !*s) return fallback;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (*end != '\0' || v <= 0 || v > 4096) die("bench", std::string("bad GOMAXPROCS: ") + s);
  return static_cast<unsigned>(v);
}

// argv[2] as a positive size, else `def`.
inline std::uint64_t size_arg(int argc, char** argv, std::uint64_t def) {
  if (argc < 3) return def;
  char* end = nullptr;
  unsigned long long v = std::strtoull(argv[2], &end, 10);
  if (*end != '\0' || v == 0) die(argv[0], std::string("bad size: ") + argv[2]);
  return v;
}

// skynet's size is its number of leaves: a power of 10 (fan-out 10).
inline void check_skynet_size(const char* prog, std::uint64_t n) {
  for (std::uint64_t m = n; m > 1; m /= 10)
    if (m % 10 != 0) die(prog, "skynet: size must be a power of 10, not " + std::to_string(n));
}

inline void check_sum(const char* prog, const char* what, std::uint64_t got, std::uint64_t want) {
  if (got != want)
    die(prog, std::string(what) + ": sum " + std::to_string(got) + ", want " + std::to_string(want));
}

// The benchmarks' names, for usage messages.
inline const std::string all_names =
    "skynet spawn_join yield memory chan_pingpong select_pingpong chan_spsc chan_mpmc chan_fanout "
    "mutex_contended timers";

// Default sizes of the channel and sync benchmarks (what run.py passes without --quick).
namespace default_size {
inline constexpr std::uint64_t chan_pingpong = 2000000;    // round trips
inline constexpr std::uint64_t select_pingpong = 2000000;  // round trips
inline constexpr std::uint64_t chan_spsc = 10000000;       // messages
inline constexpr std::uint64_t chan_mpmc = 10000000;       // messages
inline constexpr std::uint64_t chan_fanout = 500000;       // messages, each to 16 consumers
inline constexpr std::uint64_t mutex_contended = 16000000; // lock/unlock pairs, all workers
inline constexpr std::uint64_t timers = 100000;            // sleeping coroutines
}  // namespace default_size

inline void check_multiple(const char* prog, const char* what, std::uint64_t n, std::uint64_t k) {
  if (n % k != 0)
    die(prog, std::string(what) + ": size must be a multiple of " + std::to_string(k) + ", not " +
                  std::to_string(n));
}

// chan_fanout's message: an immutable quote, sent by pointer (const quote*) into a preallocated
// array; gobench's Quote is the same.
struct quote {
  std::uint32_t symbol;
  std::int64_t bid;  // price in ticks
  std::int64_t ask;
  std::int64_t ts;   // nanoseconds
};

inline quote make_quote(std::uint64_t i) {
  auto v = static_cast<std::int64_t>(i);
  return quote{static_cast<std::uint32_t>(i % 500), v, v + 1, v * 1000};
}

// Consumer c of chan_fanout sums bid (c even) or ask (c odd) over quotes 0..n-1.
inline void check_fanout(const char* prog, const std::int64_t* sums, unsigned consumers,
                         std::uint64_t n) {
  const auto bid_sum = static_cast<std::int64_t>(n * (n - 1) / 2);
  for (unsigned c = 0; c < consumers; ++c) {
    std::int64_t want = bid_sum + (c % 2 == 1 ? static_cast<std::int64_t>(n) : 0);
    if (sums[c] != want)
      die(prog, "chan_fanout: consumer " + std::to_string(c) + ": sum " + std::to_string(sums[c]) +
                    ", want " + std::to_string(want));
  }
}

// ---- timers ----------------------------------------------------------------------------------
// The sleep durations: timer_durations_ms(n)[i] is coroutine i's sleep, uniform in [1, 100] ms,
// drawn from splitmix64 seeded with timer_seed (gobench draws the same sequence, so both sides
// sleep the same durations). sum goes to stderr on both sides, to compare.
inline constexpr std::uint64_t timer_seed = 20260101;

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline std::vector<std::int64_t> timer_durations_ms(std::uint64_t n) {
  std::vector<std::int64_t> d(n);
  std::uint64_t state = timer_seed;
  for (auto& v : d) v = 1 + static_cast<std::int64_t>(splitmix64(state) % 100);
  return d;
}

// The p-th percentile of sorted values, nearest rank: the ceil(p/100 * n)-th smallest.
inline std::int64_t percentile(const std::vector<std::int64_t>& sorted, std::uint64_t p) {
  std::uint64_t n = sorted.size();
  std::uint64_t rank = (p * n + 99) / 100;
  return sorted[rank == 0 ? 0 : rank - 1];
}

// Not part of the result (stderr, both peers print it alike): when the last coroutine started,
// and the lateness of those that woke before that moment (while others were still starting)
// and after it, to tell start-up queueing from timer delay. Times in ns since the clock started.
inline void timer_diagnostics(const char* prog, const std::vector<std::int64_t>& late,
                              const std::vector<std::int64_t>& started,
                              const std::vector<std::int64_t>& woke) {
  std::int64_t last_start = 0;
  for (std::int64_t t : started) last_start = t > last_start ? t : last_start;
  std::vector<std::int64_t> before, after;
  for (std::size_t i = 0; i < late.size(); ++i)
    (woke[i] <= last_start ? before : after).push_back(late[i]);
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  auto p = [](const std::vector<std::int64_t>& v, std::uint64_t q) {
    return v.empty() ? 0.0 : double(percentile(v, q)) / 1e3;
  };
  std::fprintf(stderr,
               "%s: timers: last start at %.1f ms; %zu woke before it (late p50 %.1f us, p99 %.1f "
               "us), %zu after (late p50 %.1f us, p99 %.1f us)\n",
               prog, double(last_start) / 1e6, before.size(), p(before, 50), p(before, 99),
               after.size(), p(after, 50), p(after, 99));
}

}  // namespace bench
