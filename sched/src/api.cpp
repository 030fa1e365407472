// api.cpp: the public goro::sched calls (<goro/sched/sched.hpp>) that are not a concern of their
// own file: starting coroutines, ready(), identity, the waiter, run() and the runtime's lifetime,
// statistics. park() and yield() are in switch.cpp, timers in timer.cpp, I/O in io.cpp, the
// helper-thread notes in monitor.cpp.
#include <goro/sched/sched.hpp>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "core.hpp"
#include "futex.hpp"

namespace goro::sched::detail {

namespace {

std::atomic<scheduler*> g_sched{nullptr};  // release-stored by run(); partner: acquire loads

}  // namespace

scheduler* current_scheduler() noexcept { return g_sched.load(std::memory_order_acquire); }

}  // namespace goro::sched::detail

namespace goro::sched {

using namespace detail;

namespace {

stats g_last_stats{};  // the last runtime's final counters, for get_stats() after run() returns

}  // namespace

void start(task* t, const start_options& opts) {
  worker* w = current_worker();
  scheduler* s = w ? &w->sched : current_scheduler();
  if (!s) {
    t->release();
    throw std::logic_error("goro: cannot start a coroutine: no goro::run() is running");
  }
  coroutine* co = s->alloc_coroutine(w);
  co->body = t;
  {
    spin_guard g(co->meta_mu);
    co->id = s->next_id(w);
    if (opts.name) co->name.assign(opts.name);
    co->alive = true;
  }
  co->wait_reason.store(nullptr, std::memory_order_relaxed);
  co->stack_request = opts.stack_size;
  co->wake.store(permit::running, std::memory_order_relaxed);
  transition(co, co_state::free, co_state::fresh);
  if (w)
    w->spawned.inc();
  else
    s->note_foreign_spawn();
  s->enqueue(co);
}

bool worker_would_idle() noexcept {
  worker* w = current_worker();
  if (!w || w->sched.workers() < 2) return false;
  return !w->q.has_work();
}

void ready(coroutine* co) {
  if (!claim_ready(co)) return;
  scheduler* sch = current_scheduler();
  if (!sch) fatal("goro: ready() called with no runtime running");
  sch->enqueue(co);
}

coroutine* current() noexcept {
  worker* w = current_worker();
  return w ? w->current : nullptr;
}

bool in_coroutine() noexcept { return current() != nullptr; }

int worker_index() noexcept {
  worker* w = current_worker();
  return w ? static_cast<int>(w->index) : -1;
}

stack_range current_stack() noexcept {
  coroutine* co = current();
  if (!co) return {nullptr, nullptr};
  return {co->stk.base, co->stk.top()};
}

std::uint64_t id_of(const coroutine* co) noexcept { return co ? co->id : 0; }
const char* name_of(const coroutine* co) noexcept { return co ? co->name.c_str() : ""; }

void waiter::wait(const char* reason) {
  if (co_) {
    park(reason);
    return;
  }
  while (futex_.load(std::memory_order_acquire) == 0) futex_wait(&futex_, 0);
  futex_.store(0, std::memory_order_relaxed);
}

void waiter::wake() noexcept {
  if (coroutine* c = co_) {
    ready(c);  // after this, *this may be gone: not touched again
    return;
  }
  futex_.store(1, std::memory_order_release);
  futex_wake(&futex_);  // harmless if the waiter has already returned (see futex.hpp)
}

unsigned resolve_workers(unsigned requested) {
  if (requested) return requested;
  if (const char* env = std::getenv("GOMAXPROCS"); env && *env) {
    char* end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (*end == '\0' && n > 0 && n <= 1024) return static_cast<unsigned>(n);
    std::fprintf(stderr, "goro: ignoring GOMAXPROCS=%s (not an integer in 1..1024)\n", env);
  }
  unsigned hc = std::thread::hardware_concurrency();
  return hc ? hc : 1;
}

void run(const config& cfg, task* main) {
  if (current_worker() || current_scheduler())
    throw std::logic_error("goro::run: a goro runtime is already running in this process");
  scheduler s(cfg, resolve_workers(cfg.workers));
  install_overflow_handler();
  install_sigquit_handler();
  scheduler* expected = nullptr;
  if (!g_sched.compare_exchange_strong(expected, &s, std::memory_order_acq_rel))
    throw std::logic_error("goro::run: a goro runtime is already running in this process");
  s.run_main(main);
  s.wait_foreign_wakers();
  g_last_stats = s.collect_stats();
  g_sched.store(nullptr, std::memory_order_release);
}

std::string goroutine_dump() {
  if (scheduler* s = current_scheduler()) return s->dump();
  return {};
}

unsigned workers() noexcept {
  const scheduler* s = current_scheduler();
  return s ? s->workers() : 0;
}

stats get_stats() noexcept {
  if (scheduler* s = current_scheduler()) return s->collect_stats();
  return g_last_stats;
}

void task::fail(std::exception_ptr e) noexcept {
  coroutine* co = current();
  panic(e, id_of(co), name_of(co));
}

}  // namespace goro::sched
