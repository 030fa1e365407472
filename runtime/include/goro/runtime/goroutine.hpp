// goro/runtime/goroutine.hpp: Go's runtime.NumGoroutine.
#pragma once

#include <goro/sched/sched.hpp>

#include <cstdint>

namespace goro {

// The number of coroutines that exist now: started and not yet returned, the main coroutine
// included (Go's runtime.NumGoroutine). Parked and runnable ones count alike. A snapshot of
// counters summed over the workers without stopping them: exact when nothing starts or ends
// meanwhile, a moment old otherwise. 0 when no runtime runs.
inline std::int64_t num_goroutine() noexcept {
  if (sched::workers() == 0) return 0;
  const sched::stats s = sched::get_stats();
  const auto n = static_cast<std::int64_t>(s.spawned - s.finished);
  return n > 0 ? n : 0;
}

}  // namespace goro
