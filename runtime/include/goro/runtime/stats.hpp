// goro/runtime/stats.hpp: runtime statistics readable from the program.
#pragma once

#include <goro/sched/sched.hpp>

#include <string>

namespace goro {

using runtime_stats = sched::stats;

// A snapshot of the scheduler's counters (totals over all workers). See sched::stats for fields.
inline runtime_stats stats() noexcept { return sched::get_stats(); }

// One line per live coroutine: `goroutine <id> [<state or wait reason>] "<name>"` (see
// sched::goroutine_dump). Empty when no runtime runs.
inline std::string goroutine_dump() { return sched::goroutine_dump(); }

}  // namespace goro
