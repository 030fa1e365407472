// monitor.cpp: the monitor thread (Go's sysmon): it rescues work queued behind a stalled worker,
// returns idle stacks' memory, detects deadlocks, and prints the goroutine dump on SIGQUIT.
#include <goro/sched/sched.hpp>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "core.hpp"
#include "futex.hpp"

namespace goro::sched::detail {

namespace {

// How often the monitor returns the pages of idle pooled stacks (stack.hpp, "scavenge"): a stack
// is released after one to two periods unused.
constexpr std::chrono::milliseconds scavenge_period{1000};

std::atomic<bool> g_sigquit{false};     // set by the handler, acted on by the monitor
std::atomic<long> g_helper_threads{0};   // note_helper_threads
std::atomic<long> g_outside_wakers{0};   // note_outside_wakers

// Threads in this process now (/proc/self/stat, field 20).
long process_threads() noexcept {
  FILE* f = std::fopen("/proc/self/stat", "r");
  if (!f) return LONG_MAX;
  char buf[1024];
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain spaces
  if (!p) return LONG_MAX;
  int field = 2;
  for (; *p && field < 20; ++p)
    if (*p == ' ') ++field;
  return std::strtol(p, nullptr, 10);
}

// SIGQUIT: flag it and wake the monitor, which prints the dump. With no runtime running, the
// default action (core dump) as if we had never been here.
void on_sigquit(int) {
  scheduler* s = current_scheduler();
  if (!s) {
    ::signal(SIGQUIT, SIG_DFL);
    ::raise(SIGQUIT);
    return;
  }
  g_sigquit.store(true, std::memory_order_release);
  futex_wake(&s->monitor_word());
}

}  // namespace

void install_sigquit_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = on_sigquit;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGQUIT, &sa, nullptr);
  });
}

// ==== the monitor ===============================================================================
// A worker that runs one coroutine for a long time (a computation, or a call that blocks the
// thread) cannot hand out the work queued behind it: its run-next slot was filled without a
// wake-up, and nothing else prompts the idle workers to look. Every tick the monitor compares
// each worker's switch count with the previous tick's; a worker that has not switched while work
// waits in its queue or run-next slot is stalled, and the monitor runs the submitter's side of
// the wake-up protocol on its behalf, so an idle worker comes to steal (run-next included, on its
// last round). The tick is 1 ms while there is activity and backs off to 10 ms after 50 quiet
// ticks, so an idle runtime costs about a hundred short wake-ups a second.
//
// Its other duties: the goroutine dump a SIGQUIT asks for (the signal handler only sets a flag
// and wakes the monitor: nothing in a dump is async-signal-safe), and deadlock detection.
void scheduler::monitor() {
  const unsigned nw = workers();
  std::vector<std::uint64_t> last(nw, ~std::uint64_t{0});
  unsigned quiet = 0;
  int dead_ticks = 0;
  auto next_scavenge = std::chrono::steady_clock::now() + scavenge_period;
  while (monitor_stop_.load(std::memory_order_acquire) == 0) {
    timespec tick{0, quiet < 50 ? 1'000'000 : 10'000'000};
    futex_wait(&monitor_stop_, 0, &tick);
    // Memory goes back: stacks left unused for a whole period (stack.hpp, "scavenge").
    if (const auto now = std::chrono::steady_clock::now(); now >= next_scavenge) {
      stack_pools_.scavenge();
      next_scavenge = now + scavenge_period;
    }
    if (g_sigquit.load(std::memory_order_acquire)) {
      std::fflush(stdout);
      std::string d = dump();
      std::fprintf(stderr, "SIGQUIT: quit\n\n%s", d.c_str());
      std::fflush(stderr);
      std::_Exit(2);
    }
    // A deadlock must be seen on two ticks in a row with no switch in between.
    if (quiet >= 2 && deadlocked()) {
      if (++dead_ticks >= 2) {
        fatal(("all goroutines are asleep - deadlock!\n\n" + dump()).c_str());
      }
    } else {
      dead_ticks = 0;
    }
    bool busy = false;
    for (unsigned i = 0; i < nw; ++i) {
      worker& v = *workers_[i];
      const std::uint64_t sw = v.switches.get();
      const bool has_work = v.q.has_work() || v.io.pending();
      if (sw != last[i]) busy = true;
      if (sw == last[i] && has_work) {
        if (wake_one_if_needed()) monitor_wakeups_.fetch_add(1, std::memory_order_relaxed);
        busy = true;
      }
      last[i] = sw;
    }
    quiet = busy ? 0 : quiet + 1;
  }
}

// ==== deadlock detection ========================================================================
// Deadlock: every worker is on the idle list (so none is running a coroutine, and none can
// until something wakes it), nothing is queued, no timer is armed, no I/O request is in flight
// or waiting to be reaped, no outside party (the blocking pool) owes a coroutine a wake-up, no
// foreign thread is inside enqueue(), and the process has no thread but the runtime's own: any
// other thread could still ready a coroutine (send on a channel), so its mere existence rules a
// deadlock out. idle_mu_ orders this check after the workers' W1 steps.
bool scheduler::deadlocked() {
  if (stopping_.load(std::memory_order_relaxed)) return false;
  {
    lock_guard lk(idle_mu_);
    if (idle_.size() != workers_.size()) return false;
  }
  if (gq_size_.load(std::memory_order_acquire) != 0) return false;
  if (g_outside_wakers.load(std::memory_order_acquire) != 0) return false;
  if (foreign_in_flight_.load(std::memory_order_acquire) != 0) return false;
  for (auto& v : workers_) {
    if (v->q.has_work()) return false;
    if (v->timers.next_seq_cst() != INT64_MAX) return false;
    if (v->io.inflight() != 0) return false;
  }
  // Threads: the workers, the monitor, the runtime's helpers (and TSan's background thread).
  const long expected = static_cast<long>(workers_.size()) + 1 +
                        g_helper_threads.load(std::memory_order_acquire) + (GORO_TSAN ? 1 : 0);
  return process_threads() <= expected;
}

// ==== the goroutine dump ========================================================================

std::string scheduler::dump() {
  struct line {
    std::uint64_t id;
    std::string text;
  };
  std::vector<line> lines;
  {
    lock_guard lk(co_mu_);
    for (auto& slab : co_slabs_) {
      for (std::size_t i = 0; i < co_slab_size; ++i) {
        coroutine& c = slab[i];
        spin_guard g(c.meta_mu);
        if (!c.alive) continue;
        const char* reason = c.wait_reason.load(std::memory_order_relaxed);
        std::string t = "goroutine " + std::to_string(c.id) + " [" + (reason ? reason : "runnable") + "]";
        if (!c.name.empty()) t += " \"" + c.name + "\"";
        lines.push_back({c.id, std::move(t)});
      }
    }
  }
  std::sort(lines.begin(), lines.end(), [](const line& a, const line& b) { return a.id < b.id; });
  std::string out;
  for (auto& l : lines) out += l.text + "\n";
  return out;
}

}  // namespace goro::sched::detail

namespace goro::sched {

void note_helper_threads(int delta) noexcept {
  detail::g_helper_threads.fetch_add(delta, std::memory_order_acq_rel);
}
void note_outside_wakers(int delta) noexcept {
  detail::g_outside_wakers.fetch_add(delta, std::memory_order_acq_rel);
}

}  // namespace goro::sched
