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

// Installs a guard at [p, p + len): page-table markers where the kernel has them (no new VMA),
// else PROT_NONE. Remembers which worked so that later slabs do not retry the failing call.
void install_guard(char* p, std::size_t len) {
  static std::atomic<bool> madvise_ok{true};
  if (madvise_ok.load(std::memory_order_relaxed)) {
    if (::madvise(p, len, MADV_GUARD_INSTALL) == 0) return;
    madvise_ok.store(false, std::memory_order_relaxed);
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
  return stack{static_cast<char*>(p) + guard, size, false};
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
  // Hand out high addresses first: the pool pops from the back.
  for (std::size_t i = 0; i < n; ++i) {
    char* g = slab + (n - 1 - i) * stride;
    install_guard(g, guard_);
    free_.push_back(stack{g + guard_, size_, true});
  }
  carved_ += n;
}

void stack_pool::take(std::vector<stack>& out, std::size_t n) {
  lock_guard lk(mu_);
  if (free_.empty()) carve_slab();
  while (n-- > 0 && !free_.empty()) {
    out.push_back(free_.back());
    free_.pop_back();
  }
}

void stack_pool::give(std::vector<stack>& in, std::size_t n) {
  lock_guard lk(mu_);
  while (n-- > 0 && !in.empty()) {
    free_.push_back(in.back());
    in.pop_back();
  }
}

std::uint64_t stack_pool::stacks_carved() const noexcept {
  lock_guard lk(mu_);
  return carved_;
}

std::uint64_t stack_pool::bytes_reserved() const noexcept {
  lock_guard lk(mu_);
  return reserved_;
}

}  // namespace goro::sched::detail
