// stack.hpp: coroutine stacks. mmap'ed in slabs, a guard page below each, committed lazily by the
// kernel, pooled per worker.
//
// Layout of a slab of n stacks of `size` usable bytes each (addresses grow to the right):
//   [guard | stack 0 ...... ][guard | stack 1 ...... ] ...
// A stack grows down from its top towards its guard; touching the guard raises SIGSEGV, which
// overflow.cpp reports as a stack overflow of the coroutine that owns the stack.
//
// Guards: MADV_GUARD_INSTALL (Linux >= 6.13) marks guard pages in the page tables without
// splitting the mapping, so a million stacks cost a handful of VMAs. On older kernels, mprotect
// makes each guard its own VMA (two VMAs per stack): the kernel's vm.max_map_count (65530 by
// default) then bounds live stacks to about 32,000, and running past it fails with a message
// saying so. GORO_STACK_GUARD=madvise|mprotect|auto chooses the mode (stack.cpp).
//
// Ownership: a stack belongs to the pool it came from; workers keep a private cache (no locks)
// and trade batches with the shared pool (one mutex) when the cache runs dry or overflows.
// Stacks of a non-default size bypass the pool: mapped on demand, unmapped when their coroutine
// ends.
#pragma once

#include <goro/sched/config.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mutex.hpp"

namespace goro::sched::detail {

struct stack {
  char* base = nullptr;     // lowest usable byte (the guard ends here)
  std::size_t size = 0;     // usable bytes
  bool pooled = false;      // true: from a slab of the pool; false: its own mapping
  char* top() const noexcept { return base + size; }
  explicit operator bool() const noexcept { return base != nullptr; }
};

std::size_t page_size() noexcept;

std::size_t round_to_pages(std::size_t n) noexcept;

// A coroutine that ends never returns from its first frames (it switches away for good), so under
// ASan the shadow of those frames stays poisoned; the next coroutine on this pooled stack would
// trip over it. Clears the stack's shadow (a no-op without ASan).
void forget_frames(const stack& s) noexcept;

// One stack mapped on its own (guard included); released by unmap_stack.
stack map_stack(std::size_t size);
void unmap_stack(const stack& s) noexcept;

class stack_pool {
 public:
  explicit stack_pool(std::size_t stack_size);
  ~stack_pool();  // unmaps every slab: no stack of this pool may be in use any more
  stack_pool(const stack_pool&) = delete;
  stack_pool& operator=(const stack_pool&) = delete;

  std::size_t stack_size() const noexcept { return size_; }
  // Moves up to n free stacks into out (carving a new slab if none are free).
  void take(std::vector<stack>& out, std::size_t n);
  // Returns n stacks from the back of in.
  void give(std::vector<stack>& in, std::size_t n);

  std::uint64_t stacks_carved() const noexcept;
  std::uint64_t bytes_reserved() const noexcept;

 private:
  void carve_slab() GORO_REQUIRES(mu_);
  std::size_t size_;
  std::size_t guard_;
  mutable mutex mu_;
  std::vector<stack> free_;
  std::vector<std::pair<char*, std::size_t>> slabs_;
  std::uint64_t carved_ = 0;
  std::uint64_t reserved_ = 0;
};

// A worker's private cache in front of the shared pool.
class stack_cache {
 public:
  static constexpr std::size_t batch = 32;
  static constexpr std::size_t limit = 4 * batch;

  explicit stack_cache(stack_pool& pool) : pool_(pool) { cache_.reserve(limit + batch); }
  ~stack_cache() { flush(); }

  stack get(std::size_t size) {
    if (size != 0 && size != pool_.stack_size()) return map_stack(size);
    if (cache_.empty()) pool_.take(cache_, batch);
    stack s = cache_.back();
    cache_.pop_back();
    return s;
  }
  void put(const stack& s) {
    forget_frames(s);
    if (!s.pooled) {
      unmap_stack(s);
      return;
    }
    cache_.push_back(s);
    if (cache_.size() > limit) pool_.give(cache_, batch);
  }
  void flush() { pool_.give(cache_, cache_.size()); }

 private:
  stack_pool& pool_;
  std::vector<stack> cache_;
};

}  // namespace goro::sched::detail
