// thundering_herd: many requests for the same new keys at once, served by a cache that stores
// the computation in progress (goro::future_cache, Go's singleflight) beside a naive cache and
// beside forked worker processes that each keep their own cache.
//
//   thundering_herd [--requests 10000] [--keys 100] [--compute-ms 100] [--cpu-us 100] [--procs 4]
//
// The workload: --requests requests spread evenly over --keys keys that no cache holds yet, all
// arriving at the same instant (one coroutine per request, released together). Computing a key's
// value, f, stands for an expensive backend call: a --compute-ms wait (goro::sleep_for: the
// coroutine parks, as it would on a socket) plus --cpu-us of real CPU work (a hash loop whose
// result is the value, checked by every request). Latency is measured per request from the
// common arrival instant to its answer; the table gives p50, p99 and max. Each process first runs
// one untimed round of the same shape (see warm_up).
//
//   1. goro::future_cache, one process on all workers: the first request for a key computes it,
//      every other request for that key waits for that one computation: --keys computations.
//   2. A naive cache (look up; on a miss compute, then store), same process: every request that
//      misses before the first result is stored computes too: about --requests computations.
//   3. --procs forked worker processes (one goro worker each: the prefork server model), the
//      requests dealt round-robin in a shuffled order, each process with its own cache: a
//      future_cache shares nothing across processes (about --keys x --procs computations), and a
//      naive one is as bad as ever. Children are forked before any goro runtime starts in this
//      process (a running runtime must never be forked), report through a pipe, and release
//      their requests at one instant agreed in advance (steady_clock is system-wide).
//
// Exit status: 0 if the future_cache computed each key exactly once and every answer everywhere
// was right; 1 otherwise; 2 for a bad command line.
#include <goro/goro.hpp>
#include <goro/runtime/future_cache.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

// ---- the computation ---------------------------------------------------------------------------

// Real CPU work: a mixing loop (splitmix64's finaliser) whose result is the key's value.
std::uint64_t burn(std::uint64_t x, long iters) {
  for (long i = 0; i < iters; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    x += 0x9e3779b97f4a7c15ULL;
  }
  return x;
}

// How many iterations of burn() take `us` microseconds on this machine.
long calibrate(long us) {
  if (us <= 0) return 0;
  long iters = 1 << 16;
  for (;;) {
    const std::int64_t t0 = now_ns();
    volatile std::uint64_t sink = burn(1, iters);
    (void)sink;
    const std::int64_t dt = now_ns() - t0;
    if (dt > 20'000'000 || iters > (1L << 40)) return std::max(1L, long(double(iters) * us * 1000.0 / double(dt)));
    iters *= 2;
  }
}

struct workload {
  long requests = 10000;
  long keys = 100;
  long compute_ms = 100;
  long cpu_us = 100;
  int procs = 4;
  long burn_iters = 0;                   // calibrated from cpu_us
  std::vector<int> order;                // request i asks for key order[i] (shuffled)
  std::vector<std::uint64_t> expected;   // f(k), to check every answer
};

// f: the expensive call. Runs on the calling coroutine: the wait parks it, the CPU work occupies
// its worker.
std::uint64_t compute(const workload& w, int key) {
  goro::sleep_for(std::chrono::milliseconds(w.compute_ms));
  return burn(std::uint64_t(key) + 1, w.burn_iters);
}

// ---- the caches --------------------------------------------------------------------------------

// What people write first: look up; on a miss compute, then store. Correct, and every request
// that misses before the first store computes too.
class naive_cache {
 public:
  template <class F>
  std::uint64_t get(int key, F&& f) {
    {
      std::lock_guard lk(mu_);
      if (auto it = map_.find(key); it != map_.end()) return it->second;
    }
    std::uint64_t v = f(key);
    computations_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lk(mu_);
    map_.emplace(key, v);
    return v;
  }
  long computations() const { return computations_.load(std::memory_order_relaxed); }

 private:
  goro::mutex mu_;
  std::unordered_map<int, std::uint64_t> map_;
  std::atomic<long> computations_{0};
};

// ---- one scenario: requests released at once -----------------------------------------------------

struct outcome {
  long computations = 0;
  long wrong = 0;                     // answers that differ from f(key)
  std::vector<std::int64_t> latency;  // ns, one per request
};

// Inside goro::run: one coroutine per request in `mine` (indices into w.order), all parked until
// the release instant (`release_at`, or as soon as they are all parked if 0), then each asks
// `get(key)` and records its latency from the release.
template <class Get>
outcome serve(const workload& w, const std::vector<long>& mine, std::int64_t release_at, Get get) {
  const std::size_t n = mine.size();
  outcome out;
  out.latency.assign(n, 0);
  std::vector<char> bad(n, 0);
  goro::chan<int> start;  // closed at the release: every request wakes
  goro::wait_group parked;
  std::int64_t t0 = 0;    // written before the close, read after the receive: ordered by it
  parked.add(static_cast<std::int64_t>(n));
  std::vector<goro::join_handle<void>> hs;
  hs.reserve(n);
  for (std::size_t j = 0; j < n; ++j) {
    // Everything captured by reference outlives the coroutines: all are joined below.
    hs.push_back(goro::spawn([&, j] {
      const int key = w.order[static_cast<std::size_t>(mine[j])];
      parked.done();
      start.recv();
      const std::uint64_t v = get(key);
      out.latency[j] = now_ns() - t0;
      bad[j] = v != w.expected[static_cast<std::size_t>(key)];
    }));
  }
  parked.wait();  // every request is (about to be) parked on start
  if (release_at) goro::sleep_until(steady::time_point(std::chrono::nanoseconds(release_at)));
  t0 = now_ns();
  start.close();
  for (auto& h : hs) h.get();
  out.wrong = std::count(bad.begin(), bad.end(), 1);
  return out;
}

// An untimed round of the same shape with an instant answer: carves and first touches the
// coroutine stacks the measured rounds reuse, so that neither scenario pays for it. (First touches
// of fresh stack pages are slow on some virtual machines: 1,000 parked coroutines took 10 ms to
// wake the first time and 0.03 ms afterwards on the machine this was written on.)
void warm_up(const workload& w, const std::vector<long>& mine) {
  serve(w, mine, 0, [&w](int key) { return w.expected[static_cast<std::size_t>(key)]; });
}

outcome run_future_cache(const workload& w, const std::vector<long>& mine, std::int64_t release_at) {
  goro::future_cache<int, std::uint64_t> cache({.capacity = static_cast<std::size_t>(w.keys)});
  outcome o = serve(w, mine, release_at, [&](int key) {
    return cache.get(key, [&w](const int& k) { return compute(w, k); });
  });
  o.computations = static_cast<long>(cache.stats().computations);
  return o;
}

outcome run_naive(const workload& w, const std::vector<long>& mine, std::int64_t release_at) {
  naive_cache cache;
  outcome o = serve(w, mine, release_at, [&](int key) {
    return cache.get(key, [&w](int k) { return compute(w, k); });
  });
  o.computations = cache.computations();
  return o;
}

// ---- forked workers ------------------------------------------------------------------------------

bool write_all(int fd, const void* p, std::size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    ssize_t k = ::write(fd, c, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    c += k;
    n -= static_cast<std::size_t>(k);
  }
  return true;
}

std::string read_all(int fd) {
  std::string s;
  char buf[65536];
  for (;;) {
    ssize_t k = ::read(fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return s;
    s.append(buf, static_cast<std::size_t>(k));
  }
}

struct report_header {
  std::int64_t ok;            // 1: the child ran its requests
  std::int64_t computations;
  std::int64_t wrong;
  std::int64_t n;             // latencies that follow
};

// Forks w.procs children, child c serving requests c, c + procs, ... with its own cache, all
// released at one instant. Must be called before any goro runtime has started in this process.
outcome run_forked(const workload& w, bool use_future_cache, std::string& error) {
  const std::int64_t release_at = now_ns() + 500'000'000;  // time to start and park their requests
  std::vector<pid_t> pids;
  std::vector<int> fds;
  std::fflush(stdout);
  std::fflush(stderr);
  for (int c = 0; c < w.procs; ++c) {
    int p[2];
    if (::pipe(p) != 0) {
      error = std::string("pipe: ") + std::strerror(errno);
      break;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      error = std::string("fork: ") + std::strerror(errno);
      ::close(p[0]);
      ::close(p[1]);
      break;
    }
    if (pid == 0) {  // the child: its own runtime, its own cache, its share of the requests
      ::close(p[0]);
      for (int fd : fds) ::close(fd);
      std::vector<long> mine;
      for (long i = c; i < w.requests; i += w.procs) mine.push_back(i);
      report_header h{0, 0, 0, 0};
      std::vector<std::int64_t> lat;
      try {
        outcome o;
        goro::run(goro::options{.workers = 1}, [&] {
          warm_up(w, mine);
          o = use_future_cache ? run_future_cache(w, mine, release_at) : run_naive(w, mine, release_at);
        });
        h = {1, o.computations, o.wrong, static_cast<std::int64_t>(o.latency.size())};
        lat = std::move(o.latency);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "thundering_herd: worker %d: %s\n", c, e.what());
      }
      bool sent = write_all(p[1], &h, sizeof h) &&
                  write_all(p[1], lat.data(), lat.size() * sizeof(std::int64_t));
      ::close(p[1]);
      std::fflush(stderr);
      ::_exit(sent && h.ok ? 0 : 1);
    }
    ::close(p[1]);
    pids.push_back(pid);
    fds.push_back(p[0]);
  }
  outcome total;
  for (std::size_t c = 0; c < fds.size(); ++c) {
    std::string s = read_all(fds[c]);
    ::close(fds[c]);
    report_header h{};
    if (s.size() >= sizeof h) std::memcpy(&h, s.data(), sizeof h);
    if (!h.ok || s.size() != sizeof h + std::size_t(h.n) * sizeof(std::int64_t)) {
      if (error.empty()) error = "worker " + std::to_string(c) + " failed";
      continue;
    }
    total.computations += h.computations;
    total.wrong += h.wrong;
    const std::size_t at = total.latency.size();
    total.latency.resize(at + std::size_t(h.n));
    std::memcpy(total.latency.data() + at, s.data() + sizeof h, std::size_t(h.n) * sizeof(std::int64_t));
  }
  for (pid_t pid : pids) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if ((!WIFEXITED(st) || WEXITSTATUS(st) != 0) && error.empty()) error = "a worker process failed";
  }
  return total;
}

// ---- output ----------------------------------------------------------------------------------------

void print_row(const char* name, const outcome& o) {
  std::vector<std::int64_t> v = o.latency;
  std::sort(v.begin(), v.end());
  auto ms = [](std::int64_t ns) { return double(ns) / 1e6; };
  if (v.empty()) {
    std::printf("%-48s %12ld %9s %9s %9s\n", name, o.computations, "-", "-", "-");
    return;
  }
  const std::size_t n = v.size();
  std::printf("%-48s %12ld %9.1f %9.1f %9.1f\n", name, o.computations, ms(v[n / 2]),
              ms(v[std::min(n - 1, n * 99 / 100)]), ms(v[n - 1]));
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "%s%susage: thundering_herd [--requests N] [--keys K] [--compute-ms MS] [--cpu-us US] "
               "[--procs P]\n",
               why.c_str(), why.empty() ? "" : "\n");
  std::exit(2);
}

long number(const std::string& opt, const char* v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi)
    usage(opt + " needs a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not '" + v + "'");
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  workload w;
  for (int k = 1; k < argc; ++k) {
    const std::string opt = argv[k];
    if (opt == "-h" || opt == "--help") usage("");
    if (opt != "--requests" && opt != "--keys" && opt != "--compute-ms" && opt != "--cpu-us" && opt != "--procs")
      usage("unknown option '" + opt + "'");
    if (k + 1 >= argc) usage(opt + " needs a value");
    const char* v = argv[++k];
    if (opt == "--requests") w.requests = number(opt, v, 1, 200000);
    else if (opt == "--keys") w.keys = number(opt, v, 1, 200000);
    else if (opt == "--compute-ms") w.compute_ms = number(opt, v, 0, 10000);
    else if (opt == "--cpu-us") w.cpu_us = number(opt, v, 0, 100000);
    else if (opt == "--procs") w.procs = static_cast<int>(number(opt, v, 1, 64));
  }
  if (w.keys > w.requests) usage("--keys must not exceed --requests");

  // The requests: each key asked for requests/keys times, in a shuffled (fixed) order, so that
  // the forked workers' round-robin shares each see every key.
  w.order.resize(static_cast<std::size_t>(w.requests));
  for (long i = 0; i < w.requests; ++i) w.order[std::size_t(i)] = static_cast<int>(i % w.keys);
  std::shuffle(w.order.begin(), w.order.end(), std::mt19937_64(42));
  w.burn_iters = calibrate(w.cpu_us);
  w.expected.resize(static_cast<std::size_t>(w.keys));
  for (long k = 0; k < w.keys; ++k) w.expected[std::size_t(k)] = burn(std::uint64_t(k) + 1, w.burn_iters);

  // Forked workers first: no goro runtime may have run in this process before a fork.
  std::string fork_error;
  outcome forked_fc = run_forked(w, true, fork_error);
  outcome forked_naive = run_forked(w, false, fork_error);

  std::vector<long> all(static_cast<std::size_t>(w.requests));
  for (long i = 0; i < w.requests; ++i) all[std::size_t(i)] = i;
  outcome fc, naive;
  unsigned workers = 0;
  try {
    goro::run([&] {
      workers = static_cast<unsigned>(goro::stats().workers);
      warm_up(w, all);
      fc = run_future_cache(w, all, 0);
      naive = run_naive(w, all, 0);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "thundering_herd: %s\n", e.what());
    return 1;
  }

  std::printf("thundering herd: %ld requests for %ld new keys, arriving at once; f = %ld ms wait + %ld us CPU\n",
              w.requests, w.keys, w.compute_ms, w.cpu_us);
  std::printf("one process: %u goro worker(s); forked: %d processes x 1 worker, requests dealt round-robin\n\n",
              workers, w.procs);
  std::printf("%-48s %12s %9s %9s %9s\n", "scenario", "computations", "p50 ms", "p99 ms", "max ms");
  char name[128];
  std::snprintf(name, sizeof name, "goro::future_cache (1 process, %u worker%s)", workers, workers == 1 ? "" : "s");
  print_row(name, fc);
  print_row("naive cache: look up, compute on miss, store", naive);
  std::snprintf(name, sizeof name, "%d forked workers, each its own future_cache", w.procs);
  print_row(name, forked_fc);
  std::snprintf(name, sizeof name, "%d forked workers, each its own naive cache", w.procs);
  print_row(name, forked_naive);

  const long wrong = fc.wrong + naive.wrong + forked_fc.wrong + forked_naive.wrong;
  const bool one_per_key = fc.computations == w.keys;
  std::printf("\nfuture_cache: %ld computations for %ld keys (%s); naive: %.1fx as many; forked: %.1fx\n",
              fc.computations, w.keys, one_per_key ? "one per key: OK" : "WRONG: expected one per key",
              double(naive.computations) / double(std::max(1L, fc.computations)),
              double(forked_fc.computations) / double(std::max(1L, fc.computations)));
  if (wrong) std::printf("WRONG: %ld answers differ from f(key)\n", wrong);
  if (!fork_error.empty()) std::printf("forked workers: %s\n", fork_error.c_str());
  return one_per_key && wrong == 0 && fork_error.empty() ? 0 : 1;
}
