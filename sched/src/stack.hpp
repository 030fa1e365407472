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
// Ownership: a stack belongs to the pool it came from (stack::pool); workers keep a private cache
// of default-size stacks (no locks) and trade batches with the default pool (one mutex) when the
// cache runs dry or overflows. A non-default size is rounded up to a power-of-two size class
// (16 KiB to 8 MiB), each class a pool of its own taken from under its mutex, so a coroutine with
// spawn_options::stack_size reuses stacks as the default does; only sizes above 8 MiB are mapped
// on demand and unmapped when their coroutine ends.
//
// Memory goes back (scavenge): each pool keeps its free stacks in LIFO order and remembers the
// fewest it held since the last scavenge (the low-water mark): stacks below that mark were not
// taken for a whole period, so the burst that freed them is over. The monitor calls scavenge()
// about once a second; it returns the pages of those stacks to the kernel (MADV_DONTNEED on the
// usable range; guards stay, in both guard modes) beyond a small reserve, without holding the
// pool's mutex across the madvise calls. Released stacks are kept (address space, guards and
// all) and handed out after the warm ones; the kernel commits their pages again on first touch.
#pragma once

#include <goro/sched/config.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "mutex.hpp"

namespace goro::sched::detail {

class stack_pool;

struct stack {
  char* base = nullptr;        // lowest usable byte (the guard ends here)
  std::size_t size = 0;        // usable bytes
  stack_pool* pool = nullptr;  // the pool of the slab it was carved from; nullptr: its own mapping
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
  // Moves up to n free stacks into out, warm ones first (carving a new slab if none are free).
  void take(std::vector<stack>& out, std::size_t n);
  stack take_one();
  // Returns n stacks from the back of in.
  void give(std::vector<stack>& in, std::size_t n);
  void give_one(const stack& s);
  // Releases the pages of the free stacks that stayed unused since the last call, beyond the
  // `keep` most recently freed. Returns the number of stacks released. Called by the monitor.
  std::size_t scavenge(std::size_t keep);

  std::uint64_t stacks_carved() const noexcept;
  std::uint64_t bytes_reserved() const noexcept;
  std::uint64_t stacks_released() const noexcept;

 private:
  void carve_slab() GORO_REQUIRES(mu_);
  void note_low() GORO_REQUIRES(mu_) {
    if (warm_.size() < low_) low_ = warm_.size();
  }
  std::size_t size_;
  std::size_t guard_;
  mutable mutex mu_{lock_rank::stack_pool};
  // Invariant: every free stack is in exactly one of warm_ (pages possibly committed; back =
  // most recently freed) and cold_ (pages released, or never touched since carved).
  std::deque<stack> warm_ GORO_GUARDED_BY(mu_);
  std::vector<stack> cold_ GORO_GUARDED_BY(mu_);
  std::size_t low_ GORO_GUARDED_BY(mu_) = 0;  // fewest warm_ held since the last scavenge
  std::vector<std::pair<char*, std::size_t>> slabs_ GORO_GUARDED_BY(mu_);
  std::uint64_t carved_ GORO_GUARDED_BY(mu_) = 0;
  std::uint64_t reserved_ GORO_GUARDED_BY(mu_) = 0;
  std::uint64_t released_ GORO_GUARDED_BY(mu_) = 0;
};

// The default-size pool and the size classes for other sizes (see the top of this file).
class stack_pools {
 public:
  static constexpr std::size_t min_class = 16 * 1024;
  static constexpr std::size_t nclasses = 10;  // 16 KiB << 0 .. 16 KiB << 9 = 8 MiB
  static constexpr std::size_t keep_default = 64;  // warm stacks a scavenge leaves in each pool
  static constexpr std::size_t keep_class = 4;

  explicit stack_pools(std::size_t default_size);
  stack_pool& default_pool() noexcept { return default_; }
  // A stack of at least `size` bytes (not the default size) from its class, or mapped alone.
  stack get_sized(std::size_t size);
  std::size_t scavenge();  // every pool; returns the stacks released

  std::uint64_t stacks_carved() const noexcept;
  std::uint64_t bytes_reserved() const noexcept;
  std::uint64_t stacks_released() const noexcept;

 private:
  stack_pool default_;
  std::array<std::unique_ptr<stack_pool>, nclasses> classes_;  // made at construction: no race
};

// A worker's private cache in front of the shared pool.
class stack_cache {
 public:
  static constexpr std::size_t batch = 32;
  static constexpr std::size_t limit = 4 * batch;

  explicit stack_cache(stack_pools& pools) : pools_(pools), pool_(pools.default_pool()) {
    cache_.reserve(limit + batch);
  }
  ~stack_cache() { flush(); }

  stack get(std::size_t size) {
    if (size != 0 && size != pool_.stack_size()) return pools_.get_sized(size);
    if (cache_.empty()) pool_.take(cache_, batch);
    stack s = cache_.back();
    cache_.pop_back();
    return s;
  }
  void put(const stack& s) {
    forget_frames(s);
    if (s.pool == &pool_) {
      cache_.push_back(s);
      if (cache_.size() > limit) pool_.give(cache_, batch);
    } else if (s.pool) {
      s.pool->give_one(s);
    } else {
      unmap_stack(s);
    }
  }
  void flush() { pool_.give(cache_, cache_.size()); }

 private:
  stack_pools& pools_;
  stack_pool& pool_;
  std::vector<stack> cache_;
};

}  // namespace goro::sched::detail
