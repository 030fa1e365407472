// futex.hpp: the two futex calls goro needs (private futexes on a 32-bit word). Used by the
// scheduler (the monitor's tick, plain-thread waiters) and by sched::spin_lock's slow paths
// (spin_lock.cpp). Private to sched/: no public header includes a platform header.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace goro::sched::detail {

// Sleeps while *word == expected (or until a wake, a signal, a spurious return, or the timeout).
// Callers always re-check their condition in a loop.
inline void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                       const timespec* relative_timeout = nullptr) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected,
            relative_timeout, nullptr, 0);
}

// Wakes up to n sleepers on word. Calling it on a word whose owner may already have returned
// (and freed it) is harmless: FUTEX_WAKE only hashes the address, it never dereferences it, and
// every futex user re-checks its condition after waking, so a stray wake is a spurious one.
inline void futex_wake(std::atomic<std::uint32_t>* word, int n = 1) noexcept {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, n, nullptr,
            nullptr, 0);
}

}  // namespace goro::sched::detail
