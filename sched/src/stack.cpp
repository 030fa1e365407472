// stack.cpp: slab-carved, guarded, lazily committed coroutine stacks. See stack.hpp.
#include "stack.hpp"

#include <goro/sched/sched.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <atomic>
#include <cstring>
#include <algorithm>

#if GORO_ASAN
#include <sanitizer/asan_interface.h>
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13 uapi value
#endif

namespace goro::sched::detail {

namespace {

constexpr std::size_t slab_target_bytes = 16u << 20;  // about 64 default stacks per slab

[[noreturn]] void die_mapping(const char* what, std::size_t bytes, int err) {
  char msg[512];
  int n = std::snprintf(msg, sizeof msg,
                        "goro: cannot %s coroutine stack memory (%zu bytes): %s\n",
                        what, bytes, std::strerror(err));
  if (err == ENOMEM) {
    n += std::snprintf(msg + n, sizeof msg - n,
                       "  (out of memory, or out of memory mappings: without MADV_GUARD_INSTALL "
                       "(Linux < 6.13) each stack's guard page is its own mapping; see "
                       "/proc/sys/vm/max_map_count)\n");
  }
  fatal(msg);
}

// The guard mode: GORO_STACK_GUARD=madvise or =mprotect forces one; unset (or "auto") tries
// MADV_GUARD_INSTALL on the first guard and falls back to mprotect, saying so once on stderr.
// A value it does not know is warned about and treated as auto.
enum guard_mode : int { mode_auto, mode_madvise, mode_mprotect };

int requested_guard_mode() noexcept {
  const char* env = std::getenv("GORO_STACK_GUARD");
  if (!env || !*env || std::strcmp(env, "auto") == 0) return mode_auto;
  if (std::strcmp(env, "madvise") == 0) return mode_madvise;
  if (std::strcmp(env, "mprotect") == 0) return mode_mprotect;
  std::fprintf(stderr, "goro: GORO_STACK_GUARD=%s ignored (madvise, mprotect or auto)\n", env);
  return mode_auto;
}

// mode_auto until the first guard is installed, then the mode in use for good. Relaxed: every
// thread that finds mode_auto resolves it the same way (the same kernel), and the one-line note
// is printed by whoever wins the CAS.
std::atomic<int> g_guard_mode{-1};  // -1: the environment not read yet

int guard_mode_now() noexcept {
  int m = g_guard_mode.load(std::memory_order_relaxed);
  if (m < 0) {
    int expected = -1;
    g_guard_mode.compare_exchange_strong(expected, requested_guard_mode(),
                                         std::memory_order_relaxed);
    m = g_guard_mode.load(std::memory_order_relaxed);
  }
  return m;
}

// Installs a guard at [p, p + len): page-table markers where the kernel has them (no new VMA),
// else PROT_NONE (a VMA of its own: see stack.hpp on vm.max_map_count).
void install_guard(char* p, std::size_t len) {
  int m = guard_mode_now();
  if (m != mode_mprotect) {
    if (::madvise(p, len, MADV_GUARD_INSTALL) == 0) {
      if (m == mode_auto) g_guard_mode.store(mode_madvise, std::memory_order_relaxed);
      return;
    }
    const int err = errno;
    if (m == mode_madvise) {
      char msg[256];
      std::snprintf(msg, sizeof msg,
                    "goro: GORO_STACK_GUARD=madvise, but madvise(MADV_GUARD_INSTALL) failed: %s "
                    "(it needs Linux 6.13 or later; GORO_STACK_GUARD=mprotect works everywhere)",
                    std::strerror(err));
      fatal(msg);
    }
    int expected = mode_auto;
    if (g_guard_mode.compare_exchange_strong(expected, mode_mprotect, std::memory_order_relaxed)) {
      std::fprintf(stderr,
                   "goro: this kernel lacks MADV_GUARD_INSTALL (Linux 6.13+): stack guards are "
                   "mprotect'ed pages, a mapping each, so vm.max_map_count bounds live coroutines\n");
    }
  }
  if (::mprotect(p, len, PROT_NONE) != 0) die_mapping("protect the guard page of", len, errno);
}

}  // namespace

std::size_t page_size() noexcept {
  static const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return ps;
}

std::size_t round_to_pages(std::size_t n) noexcept {
  const std::size_t ps = page_size();
  return (n + ps - 1) / ps * ps;
}

stack map_stack(std::size_t size) {
  size = round_to_pages(size);
  const std::size_t guard = page_size();
  void* p = ::mmap(nullptr, size + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) die_mapping("map", size + guard, errno);
  install_guard(static_cast<char*>(p), guard);
  return stack{static_cast<char*>(p) + guard, size, nullptr};
}

void forget_frames([[maybe_unused]] const stack& s) noexcept {
#if GORO_ASAN
  __asan_unpoison_memory_region(s.base, s.size);
#endif
}

void unmap_stack(const stack& s) noexcept {
  const std::size_t guard = page_size();
  ::munmap(s.base - guard, s.size + guard);
}

stack_pool::stack_pool(std::size_t stack_size)
    : size_(round_to_pages(stack_size)), guard_(page_size()) {}

stack_pool::~stack_pool() {
  for (auto& [p, len] : slabs_) {
#if GORO_ASAN
    __asan_unpoison_memory_region(p, len);
#endif
    ::munmap(p, len);
  }
}

void stack_pool::carve_slab() {
  const std::size_t stride = size_ + guard_;
  std::size_t n = slab_target_bytes / stride;
  if (n == 0) n = 1;
  const std::size_t len = n * stride;
  void* p = ::mmap(nullptr, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED) die_mapping("map", len, errno);
  char* slab = static_cast<char*>(p);
  slabs_.emplace_back(slab, len);
  reserved_ += len;
  // Never touched: cold. Hand out high addresses first: the pool pops from the back.
  for (std::size_t i = 0; i < n; ++i) {
    char* g = slab + (n - 1 - i) * stride;
    install_guard(g, guard_);
    cold_.push_back(stack{g + guard_, size_, this});
  }
  carved_ += n;
}

void stack_pool::take(std::vector<stack>& out, std::size_t n) {
  lock_guard lk(mu_);
  if (warm_.empty() && cold_.empty()) carve_slab();
  for (; n > 0 && !warm_.empty(); --n) {
    out.push_back(warm_.back());
    warm_.pop_back();
  }
  note_low();
  for (; n > 0 && !cold_.empty(); --n) {
    out.push_back(cold_.back());
    cold_.pop_back();
  }
}

stack stack_pool::take_one() {
  lock_guard lk(mu_);
  if (warm_.empty() && cold_.empty()) carve_slab();
  stack s;
  if (!warm_.empty()) {
    s = warm_.back();
    warm_.pop_back();
    note_low();
  } else {
    s = cold_.back();
    cold_.pop_back();
  }
  return s;
}

void stack_pool::give(std::vector<stack>& in, std::size_t n) {
  lock_guard lk(mu_);
  while (n-- > 0 && !in.empty()) {
    warm_.push_back(in.back());
    in.pop_back();
  }
}

void stack_pool::give_one(const stack& s) {
  lock_guard lk(mu_);
  warm_.push_back(s);
}

// The stacks at the front of warm_, below the low-water mark, were freed before the last scavenge
// and not taken since (take pops from the back). They are moved out in chunks under the mutex,
// released without it (a spawn meanwhile finds the rest, or a cold or new stack), and put on
// cold_. At most what stayed idle for a whole period is released, so a steady rate of spawns
// keeps its stacks warm.
std::size_t stack_pool::scavenge(std::size_t keep) {
  constexpr std::size_t chunk_max = 256;
  std::size_t budget;
  {
    lock_guard lk(mu_);
    const std::size_t idle = std::min(low_, warm_.size());
    budget = idle > keep ? idle - keep : 0;
  }
  std::size_t released = 0;
  std::vector<stack> chunk;
  while (budget > 0) {
    chunk.clear();
    {
      lock_guard lk(mu_);
      while (budget > 0 && chunk.size() < chunk_max && warm_.size() > keep) {
        chunk.push_back(warm_.front());
        warm_.pop_front();
        --budget;
      }
    }
    if (chunk.empty()) break;
    for (const stack& st : chunk) ::madvise(st.base, st.size, MADV_DONTNEED);
    released += chunk.size();
    lock_guard lk(mu_);
    cold_.insert(cold_.end(), chunk.begin(), chunk.end());
    released_ += chunk.size();
  }
  lock_guard lk(mu_);
  low_ = warm_.size();
  return released;
}

std::uint64_t stack_pool::stacks_carved() const noexcept {
  lock_guard lk(mu_);
  return carved_;
}

std::uint64_t stack_pool::bytes_reserved() const noexcept {
  lock_guard lk(mu_);
  return reserved_;
}

std::uint64_t stack_pool::stacks_released() const noexcept {
  lock_guard lk(mu_);
  return released_;
}

stack_pools::stack_pools(std::size_t default_size) : default_(default_size) {
  for (std::size_t k = 0; k < nclasses; ++k) {
    classes_[k] = std::make_unique<stack_pool>(min_class << k);
  }
}

stack stack_pools::get_sized(std::size_t size) {
  const std::size_t want = round_to_pages(size);
  if (want == default_.stack_size()) return default_.take_one();
  for (std::size_t k = 0; k < nclasses; ++k) {
    if ((min_class << k) >= want) {
      // A class the same size as the default pool's would duplicate it: use the default pool.
      if ((min_class << k) == default_.stack_size()) return default_.take_one();
      return classes_[k]->take_one();
    }
  }
  return map_stack(size);
}

std::size_t stack_pools::scavenge() {
  std::size_t n = default_.scavenge(keep_default);
  for (auto& c : classes_) n += c->scavenge(keep_class);
  return n;
}

std::uint64_t stack_pools::stacks_carved() const noexcept {
  std::uint64_t n = default_.stacks_carved();
  for (auto& c : classes_) n += c->stacks_carved();
  return n;
}

std::uint64_t stack_pools::bytes_reserved() const noexcept {
  std::uint64_t n = default_.bytes_reserved();
  for (auto& c : classes_) n += c->bytes_reserved();
  return n;
}

std::uint64_t stack_pools::stacks_released() const noexcept {
  std::uint64_t n = default_.stacks_released();
  for (auto& c : classes_) n += c->stacks_released();
  return n;
}

}  // namespace goro::sched::detail

namespace goro::sched {

const char* stack_guard_mode() noexcept {
  switch (detail::g_guard_mode.load(std::memory_order_relaxed)) {
    case detail::mode_madvise: return "madvise";
    case detail::mode_mprotect: return "mprotect";
    default: return "";
  }
}

}  // namespace goro::sched
