// goro/runtime/stats.hpp: runtime statistics readable from the program.
#pragma once

#include <goro/sched/sched.hpp>

namespace goro {

using runtime_stats = sched::stats;

// A snapshot of the scheduler's counters (totals over all workers). See sched::stats for fields.
inline runtime_stats stats() noexcept { return sched::get_stats(); }

}  // namespace goro
