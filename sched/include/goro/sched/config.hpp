// goro/sched/config.hpp: compiler and sanitizer detection shared by every layer.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define GORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define GORO_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif

#ifndef GORO_ASAN
#define GORO_ASAN 0
#endif
#ifndef GORO_TSAN
#define GORO_TSAN 0
#endif

#define GORO_NOINLINE __attribute__((noinline))
#define GORO_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORO_UNLIKELY(x) __builtin_expect(!!(x), 0)
// One spin-wait hint (x86's PAUSE), without <immintrin.h> (47,000 preprocessed lines).
#define GORO_CPU_RELAX() __builtin_ia32_pause()

// Clang thread-safety annotations (no-ops elsewhere); -Wthread-safety is on under clang.
#if defined(__clang__)
#define GORO_CAPABILITY(x) __attribute__((capability(x)))
#define GORO_SCOPED_CAPABILITY __attribute__((scoped_lockable))
#define GORO_GUARDED_BY(x) __attribute__((guarded_by(x)))
#define GORO_REQUIRES(...) __attribute__((requires_capability(__VA_ARGS__)))
#define GORO_ACQUIRE(...) __attribute__((acquire_capability(__VA_ARGS__)))
#define GORO_RELEASE(...) __attribute__((release_capability(__VA_ARGS__)))
#define GORO_TRY_ACQUIRE(...) __attribute__((try_acquire_capability(__VA_ARGS__)))
#define GORO_NO_THREAD_SAFETY_ANALYSIS __attribute__((no_thread_safety_analysis))
#else
#define GORO_CAPABILITY(x)
#define GORO_SCOPED_CAPABILITY
#define GORO_GUARDED_BY(x)
#define GORO_REQUIRES(...)
#define GORO_ACQUIRE(...)
#define GORO_RELEASE(...)
#define GORO_TRY_ACQUIRE(...)
#define GORO_NO_THREAD_SAFETY_ANALYSIS
#endif
