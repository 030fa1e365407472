// alloc.cpp: the small-object pool behind task allocations (go/spawn closures, join states).
//
// Why: a coroutine's task is allocated where it is spawned and freed where it ends, often on
// another worker. glibc serves that with cross-thread frees into the allocating arena, and a
// spawn-heavy program keeps touching fresh heap pages. Here each thread keeps free lists per size
// class and trades batches of blocks with a global list, as the coroutine control blocks do, so
// memory is recycled hot and cross-thread traffic is one lock per batch.
//
// Size classes: 64, 128, 256, 512 bytes; larger tasks use ::operator new. Blocks come from 64 KiB
// chunks that live as long as the process (a pool, like a malloc arena). Under ASan and TSan the
// pool is bypassed, so that the sanitizers see every allocation and free.
#include <goro/sched/sched.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <new>
#include <vector>

#include "mutex.hpp"

namespace goro::sched {

#if !(GORO_ASAN || GORO_TSAN)
namespace {

constexpr std::size_t nclasses = 4;
constexpr std::size_t class_size[nclasses] = {64, 128, 256, 512};
constexpr std::size_t batch = 64;
constexpr std::size_t chunk_bytes = 64 * 1024;

constexpr int class_of(std::size_t n) noexcept {
  for (std::size_t c = 0; c < nclasses; ++c)
    if (n <= class_size[c]) return static_cast<int>(c);
  return -1;
}

struct block {
  block* next;
};

// Batches of `batch` blocks, linked through block::next, per class. Lock order: a leaf lock.
struct global_pool {
  detail::mutex mu{lock_rank::task_pool};
  std::array<std::vector<block*>, nclasses> batches GORO_GUARDED_BY(mu);
};

global_pool& pool() {
  static global_pool* p = new global_pool;  // never destroyed: threads may free during exit
  return *p;
}

struct thread_cache {
  std::array<block*, nclasses> head{};
  std::array<std::size_t, nclasses> count{};

  // Takes a batch from the global pool, or carves a fresh chunk.
  void refill(int c) {
    global_pool& g = pool();
    {
      detail::lock_guard lk(g.mu);
      if (!g.batches[c].empty()) {
        head[c] = g.batches[c].back();
        g.batches[c].pop_back();
        count[c] = batch;
        return;
      }
    }
    const std::size_t sz = class_size[c];
    char* chunk = static_cast<char*>(::operator new(chunk_bytes));
    for (std::size_t off = 0; off + sz <= chunk_bytes; off += sz) {
      auto* b = reinterpret_cast<block*>(chunk + off);
      b->next = head[c];
      head[c] = b;
      ++count[c];
    }
  }

  // Hands a batch back when the list has grown to two batches.
  void spill(int c) {
    block* first = head[c];
    block* last = first;
    for (std::size_t i = 1; i < batch; ++i) last = last->next;
    head[c] = last->next;
    last->next = nullptr;
    count[c] -= batch;
    global_pool& g = pool();
    detail::lock_guard lk(g.mu);
    g.batches[c].push_back(first);
  }

  ~thread_cache() {
    for (int c = 0; c < static_cast<int>(nclasses); ++c)
      while (count[c] >= batch) spill(c);
    // Fewer than a batch left per class: they stay with the chunks (bounded per thread).
  }
};

// Out of line: a coroutine may migrate between threads, and an inlined thread_local address could
// outlive a switch in a caller (see current.cpp). No switch happens inside alloc/free themselves.
__attribute__((noinline)) thread_cache& cache() {
  static thread_local thread_cache c;
  return c;
}

}  // namespace
#endif

void* alloc_task(std::size_t n) {
#if GORO_ASAN || GORO_TSAN
  return ::operator new(n);
#else
  const int c = class_of(n);
  if (c < 0) return ::operator new(n);
  thread_cache& tc = cache();
  if (!tc.head[c]) tc.refill(c);
  block* b = tc.head[c];
  tc.head[c] = b->next;
  --tc.count[c];
  return b;
#endif
}

void free_task(void* p, [[maybe_unused]] std::size_t n) noexcept {
#if GORO_ASAN || GORO_TSAN
  ::operator delete(p);
#else
  const int c = class_of(n);
  if (c < 0) {
    ::operator delete(p);
    return;
  }
  thread_cache& tc = cache();
  auto* b = static_cast<block*>(p);
  b->next = tc.head[c];
  tc.head[c] = b;
  if (++tc.count[c] >= 2 * batch) tc.spill(c);
#endif
}

}  // namespace goro::sched
