// lock_rank.cpp: the lock-order checker (the table and the rules are in goro/sched/lock_rank.hpp).
#include <goro/sched/lock_rank.hpp>
#include <goro/sched/sched.hpp>

#include <cstdio>

namespace goro::sched {

const char* to_string(lock_rank r) noexcept {
  switch (r) {
    case lock_rank::none: return "none";
    case lock_rank::future_cache: return "future_cache";
    case lock_rank::errgroup: return "errgroup";
    case lock_rank::netfd: return "netfd";
    case lock_rank::context: return "context";
    case lock_rank::mutex_queue: return "mutex_queue";
    case lock_rank::shared_mutex: return "shared_mutex";
    case lock_rank::condition_variable: return "condition_variable";
    case lock_rank::once: return "once";
    case lock_rank::wait_group: return "wait_group";
    case lock_rank::semaphore: return "semaphore";
    case lock_rank::weighted_semaphore: return "weighted_semaphore";
    case lock_rank::after_func: return "after_func";
    case lock_rank::time_source: return "time_source";
    case lock_rank::chan: return "chan";
    case lock_rank::io_deadline: return "io_deadline";
    case lock_rank::timer_heap: return "timer_heap";
    case lock_rank::io_cq: return "io_cq";
    case lock_rank::io_sq: return "io_sq";
    case lock_rank::idle: return "idle";
    case lock_rank::global_queue: return "global_queue";
    case lock_rank::coroutine_pool: return "coroutine_pool";
    case lock_rank::coroutine_meta: return "coroutine_meta";
    case lock_rank::stack_pool: return "stack_pool";
    case lock_rank::task_pool: return "task_pool";
  }
  return "?";
}

namespace detail {

namespace {

struct held_lock {
  lock_rank rank;
  const void* lock;
};

// This thread's held locks, in acquisition order. A select over many channels is the deepest
// nesting (one entry per distinct channel); past 256 the checker says so rather than guess.
constexpr int max_held = 256;
thread_local held_lock t_held[max_held];
thread_local int t_nheld = 0;

[[noreturn]] void inversion(lock_rank r, const void* lock, const held_lock& h) noexcept {
  char msg[256];
  std::snprintf(msg, sizeof msg,
                "goro: lock order violation: taking %s (rank %d, %p) while holding %s (rank %d, %p); "
                "see goro/sched/lock_rank.hpp",
                to_string(r), static_cast<int>(r), lock, to_string(h.rank), static_cast<int>(h.rank),
                h.lock);
  fatal(msg);
}

}  // namespace

void lock_rank_acquire(lock_rank r, const void* lock) noexcept {
  for (int i = 0; i < t_nheld; ++i) {
    const held_lock& h = t_held[i];
    if (h.rank < r) continue;
    // chan: several at once, in ascending address order (select).
    if (h.rank == r && r == lock_rank::chan && h.lock < lock) continue;
    inversion(r, lock, h);
  }
}

void lock_rank_acquired(lock_rank r, const void* lock) noexcept {
  if (t_nheld == max_held) fatal("goro: lock rank checker: more than 256 locks held by one thread");
  t_held[t_nheld++] = {r, lock};
}

void lock_rank_release(lock_rank r, const void* lock) noexcept {
  for (int i = t_nheld - 1; i >= 0; --i) {
    if (t_held[i].lock == lock) {
      for (int k = i; k + 1 < t_nheld; ++k) t_held[k] = t_held[k + 1];
      --t_nheld;
      return;
    }
  }
  char msg[160];
  std::snprintf(msg, sizeof msg, "goro: lock rank checker: unlock of %s lock %p that this thread does not hold",
                to_string(r), lock);
  fatal(msg);
}

}  // namespace detail

}  // namespace goro::sched
