// current.cpp: the thread-local "current worker", read only through these out-of-line functions.
//
// A coroutine that parks on one worker may resume on another thread. If the read of a
// thread_local were inlined into coroutine code, the compiler could compute the TLS address once
// (from %fs) and keep it in a callee-saved register across the context switch, then read the old
// thread's variable after migrating. A call into another translation unit, which the compiler
// cannot see into, forces a fresh read each time. noipa stops GCC from deriving "pure" facts
// about the function across translation units even under LTO.
#include <cxxabi.h>

#include "core.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#define GORO_OPAQUE __attribute__((noinline, noipa))
#else
#define GORO_OPAQUE __attribute__((noinline))
#endif

namespace goro::sched::detail {

namespace {
thread_local worker* tls_worker = nullptr;
}

GORO_OPAQUE worker* current_worker() noexcept {
  worker* w = tls_worker;
  asm volatile("" ::: "memory");
  return w;
}

GORO_OPAQUE void set_current_worker(worker* w) noexcept { tls_worker = w; }

GORO_OPAQUE eh_globals* this_thread_eh_globals() noexcept {
  return reinterpret_cast<eh_globals*>(abi::__cxa_get_globals());
}

}  // namespace goro::sched::detail
