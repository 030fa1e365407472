// Coroutine stacks: sizes, reuse, and the measurement behind the default size.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <netdb.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <locale>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sched = goro::sched;

namespace {

// Bytes of the current coroutine's stack that are resident (touched), counted with mincore.
// Meaningful on a stack that was fresh when the coroutine started (the first stack of a size
// class in a run comes from a new slab, never touched).
std::size_t touched_stack_bytes() {
  auto r = sched::current_stack();
  const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  auto* lo = static_cast<unsigned char*>(r.lo);
  auto* hi = static_cast<unsigned char*>(r.hi);
  std::vector<unsigned char> vec(static_cast<std::size_t>(hi - lo) / ps);
  if (::mincore(lo, static_cast<std::size_t>(hi - lo), vec.data()) != 0) return 0;
  std::size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n * ps;
}

// The first use of each of these runs heavy set-up code on whatever stack is current.
std::string heavy_first_uses() {
  std::ostringstream out;
  out.imbue(std::locale::classic());
  out << std::fixed << std::setprecision(6) << 3.14159265358979L << ' ';
  char buf[128];
  std::snprintf(buf, sizeof buf, "%Lf %g %a", 2.718281828459045L, 1e300, 0.1);
  out << buf << ' ';
  std::random_device rd;
  std::mt19937_64 rng(rd());
  out << (rng() % 10) << ' ';
  try {
    throw std::runtime_error("first throw: the unwinder loads and parses unwind tables");
  } catch (const std::exception& e) {
    out << e.what()[0];
  }
  std::regex re(R"((\w+)=(\d+(?:\.\d+)?))");
  std::smatch m;
  std::string s = "55=AAPL 270=187.25 271=100";
  std::regex_search(s, m, re);
  out << m.size();
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo("localhost", "80", &hints, &res) == 0) ::freeaddrinfo(res);  // loads NSS
  return out.str();
}

// Resident set of this process, in bytes (/proc/self/statm, second field).
std::size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t total = 0, resident = 0;
  f >> total >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// Touches `n` bytes of the calling coroutine's stack, so its pages are committed.
__attribute__((noinline)) int touch_stack(std::size_t n) {
  auto* p = static_cast<volatile char*>(__builtin_alloca(n));
  for (std::size_t i = 0; i < n; i += 512) p[i] = static_cast<char>(i);
  return p[n / 2];
}

__attribute__((noinline)) int recurse(int depth, int limit) {
  volatile char pad[1000];
  pad[0] = static_cast<char>(depth);
  if (depth == limit) return pad[0];
  return recurse(depth + 1, limit) + pad[0];
}

}  // namespace

TEST_CASE("heavy first-use library paths fit the default stack with room to spare") {
  // This measurement chose sched::default_stack_size (docs/architecture.md, "Stacks").
  std::size_t used = 0;
  goro::run([&] {
    auto h = goro::spawn(goro::spawn_options{.stack_size = 2 << 20}, [] {
      std::string s = heavy_first_uses();
      CHECK(!s.empty());
      return touched_stack_bytes();
    });
    used = h.get();
  });
  MESSAGE("heavy first-use paths touched " << used / 1024 << " KiB of stack; default is "
                                           << sched::default_stack_size / 1024 << " KiB");
  CHECK(used > 0);
  CHECK(used * 4 <= sched::default_stack_size);  // at least 4x headroom
}

TEST_CASE("the same heavy paths run on a default-size stack") {
  goro::run([] {
    auto h = goro::spawn([] { return heavy_first_uses(); });
    CHECK(!h.get().empty());
  });
}

TEST_CASE("per-coroutine and per-runtime stack sizes are honoured") {
  auto size_of = [] {
    auto r = sched::current_stack();
    return static_cast<std::size_t>(static_cast<char*>(r.hi) - static_cast<char*>(r.lo));
  };
  goro::run([&] {
    CHECK(size_of() == sched::default_stack_size);
    auto h = goro::spawn(goro::spawn_options{.stack_size = 1 << 20}, size_of);
    CHECK(h.get() == (1u << 20));
    // Deep recursion that needs ~600 KiB works on a 1 MiB stack.
    int expected = 0;
    for (int i = 0; i <= 600; ++i) expected += static_cast<char>(i);
    auto d = goro::spawn(goro::spawn_options{.stack_size = 1 << 20}, [] { return recurse(0, 600); });
    CHECK(d.get() == expected);
  });
  CHECK(goro::run(goro::options{.stack_size = 512 * 1024}, [&] {
          auto h = goro::spawn(size_of);
          return static_cast<int>(h.get() / 1024);
        }) == 512);
}

TEST_CASE("stacks are pooled: sequential spawns reuse a handful of stacks") {
  std::uint64_t carved = 0;
  goro::run([&] {
    for (int round = 0; round < 100; ++round) {
      std::vector<goro::join_handle<int>> hs;
      for (int i = 0; i < 1000; ++i) hs.push_back(goro::spawn([i] { return i; }));
      for (auto& h : hs) h.get();
    }
    carved = goro::stats().stacks_allocated;
  });
  // 100,000 coroutines ran; stacks are carved in slabs of ~64 and reused.
  MESSAGE("stacks carved for 100,000 coroutines: " << carved);
  CHECK(carved <= 64 * 8);
}

// Size classes: a non-default stack_size is rounded up to a power of two (16 KiB to 8 MiB) and
// its stacks are reused as default ones are. Before, each such spawn mapped, guarded and unmapped
// a stack of its own (58-89 us a spawn here).
TEST_CASE("stacks: a non-default stack_size is pooled by size class and rounded up") {
  auto size_of = [] {
    auto r = sched::current_stack();
    return static_cast<std::size_t>(static_cast<char*>(r.hi) - static_cast<char*>(r.lo));
  };
  goro::run([&] {
    CHECK(goro::spawn(goro::spawn_options{.stack_size = 100 * 1024}, size_of).get() == 128 * 1024);
    CHECK(goro::spawn(goro::spawn_options{.stack_size = 1000}, size_of).get() == 16 * 1024);
    CHECK(goro::spawn(goro::spawn_options{.stack_size = 64 * 1024}, size_of).get() == 64 * 1024);
    // Beyond the largest class, a stack is mapped for the coroutine alone, at the size asked for.
    CHECK(goro::spawn(goro::spawn_options{.stack_size = 9 << 20}, size_of).get() == (9u << 20));
    const std::uint64_t before = goro::stats().stacks_allocated;
    for (int round = 0; round < 50; ++round) {
      std::vector<goro::join_handle<std::size_t>> hs;
      for (int i = 0; i < 20; ++i) {
        hs.push_back(goro::spawn(goro::spawn_options{.stack_size = 64 * 1024}, size_of));
      }
      for (auto& h : hs) CHECK(h.get() == 64 * 1024);
    }
    // 1,000 coroutines, at most 20 alive at once: the 64 KiB class's first slab serves them all.
    CHECK(goro::stats().stacks_allocated == before);
  });
}

// Memory goes back: after a burst, the pages of pooled stacks left unused for a scavenge period
// (about 1 s) are returned to the kernel (stack.hpp, "scavenge"). Before, RSS stayed at its peak
// for the rest of the run.
TEST_CASE("stacks: after a burst, idle pooled stacks give their pages back") {
  constexpr int n = 2000;
  constexpr std::size_t touched = 64 * 1024;  // 125 MiB in all
  goro::run([&] {
    goro::chan<int> gate;
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i) {
      goro::go([gate, &wg]() mutable {
        touch_stack(touched);
        gate.recv();
        wg.done();
      });
    }
    while (goro::stats().spawned - goro::stats().finished < static_cast<std::uint64_t>(n) + 1 ||
           gate.waiting_receivers() < static_cast<std::size_t>(n)) {
      goro::sleep_for(std::chrono::milliseconds(1));
    }
    const std::size_t peak = rss_bytes();
    gate.close();
    wg.wait();
    const std::uint64_t released_before = goro::stats().stacks_released;
    // Within a few scavenge periods, nearly all of those stacks are released (the workers'
    // caches and the pool's reserve keep a few hundred).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (goro::stats().stacks_released - released_before < n / 2 &&
           std::chrono::steady_clock::now() < deadline) {
      goro::sleep_for(std::chrono::milliseconds(50));
    }
    // A scavenge pass may still be releasing (chunks of 256): wait until the count holds still
    // for longer than a period.
    for (std::uint64_t last = ~std::uint64_t{0}; std::chrono::steady_clock::now() < deadline;) {
      const std::uint64_t now = goro::stats().stacks_released;
      if (now == last) break;
      last = now;
      goro::sleep_for(std::chrono::milliseconds(1200));
    }
    const std::size_t after = rss_bytes();
    const std::uint64_t released = goro::stats().stacks_released - released_before;
    MESSAGE("RSS at the peak " << peak / (1 << 20) << " MiB, after the scavenge " << after / (1 << 20)
                               << " MiB; stacks released: " << released);
    CHECK(released >= n / 2);
    // Under ASan and TSan the RSS also holds shadow memory and the sanitizers' own caches, which
    // madvise does not release: there only the count is checked (measured under ASan, CI: 237 MiB
    // at the peak, 204 MiB after 1,024 releases).
#if !GORO_ASAN && !GORO_TSAN
    CHECK(after + (n / 2) * touched <= peak);  // at least half of the touched pages went back
#endif
  });
}

TEST_CASE("100000 coroutines parked at once then all released") {
  // TSan keeps a trace of 256 KiB or more per live fiber and runs out of memory long before
  // 100,000; under it the test parks 2,000.
  int n = GORO_TSAN ? 2000 : 100000;
  // With mprotect'ed guards (kernels before 6.13, or GORO_STACK_GUARD=mprotect) every guard is a
  // mapping of its own, and vm.max_map_count (65530 by default) bounds live stacks to about half
  // of it: goro has no cheaper overflow check for stacks past that bound yet, so the test stays
  // under it, and says so.
  goro::run([] { goro::spawn([] {}).get(); });  // the first stacks settle the guard mode
  if (std::string_view(sched::stack_guard_mode()) == "mprotect") {
    long max_maps = 65530;
    if (std::FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      if (std::fscanf(f, "%ld", &max_maps) != 1) max_maps = 65530;
      std::fclose(f);
    }
    const int fit = static_cast<int>(max_maps / 2 - 8192);  // headroom for the rest of the process
    if (fit < n) {
      MESSAGE("mprotect guards, vm.max_map_count " << max_maps << ": parking " << fit
              << " coroutines, not " << n);
      n = fit;
    }
  }
  goro::run([&] {
    std::vector<sched::coroutine*> parked(n, nullptr);
    std::atomic<int> count{0};
    auto* pp = parked.data();
    auto* pc = &count;
    std::vector<goro::join_handle<void>> hs;
    hs.reserve(n);
    for (int i = 0; i < n; ++i)
      hs.push_back(goro::spawn([pp, pc, i] {
        pp[i] = sched::current();
        pc->fetch_add(1, std::memory_order_release);
        sched::park();
      }));
    while (count.load(std::memory_order_acquire) < n) goro::yield();
    CHECK(goro::stats().stacks_allocated >= static_cast<std::uint64_t>(n));
    for (auto* c : parked) sched::ready(c);
    for (auto& h : hs) h.get();
  });
}
