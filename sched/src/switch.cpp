// switch.cpp: the context switch and the coroutine's side of it: landing in a coroutine, leaving
// it, its first frame, the loop's execute step, direct coroutine-to-coroutine switches, park()
// and yield(), and the lifecycle transitions they make (core.hpp, co_state and permit).
//
// ==== Switching ==================================================================================
// A coroutine leaves through leave(): to the worker loop (switch_to_loop, leaving a note in
// worker::pending that the loop acts on once the coroutine's registers are saved), or straight to
// the next local coroutine (switch_direct, leaving the note in worker::prev/prev_did for the
// coroutine it lands in to act on, in land()). Acting only after the jump is what makes it safe
// for another worker to resume the coroutine as soon as it is queued again: its registers are
// saved before anyone can find it.
#include <goro/sched/sched.hpp>

#include <cstdio>
#include <stdexcept>
#include <utility>

#include "core.hpp"

#if GORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif
#if GORO_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace goro::sched::detail {

// ==== the lifecycle ==============================================================================

const char* to_string(co_state s) noexcept {
  switch (s) {
    case co_state::free: return "free";
    case co_state::fresh: return "fresh";
    case co_state::running: return "running";
    case co_state::runnable: return "runnable";
    case co_state::parked: return "parked";
    case co_state::dead: return "dead";
  }
  return "?";
}

const char* to_string(permit p) noexcept {
  switch (p) {
    case permit::running: return "running";
    case permit::notified: return "notified";
    case permit::parked: return "parked";
  }
  return "?";
}

void bad_transition(const coroutine* co, co_state found, const char* from, co_state to) noexcept {
  char msg[200];
  std::snprintf(msg, sizeof msg,
                "goro: coroutine %llu: lifecycle transition %s -> %s found it %s (a scheduler bug)",
                static_cast<unsigned long long>(co->id), from, to_string(to), to_string(found));
  fatal(msg);
}

// ==== context switch =============================================================================

namespace {

// Hands the thread's C++ exception state over from the coroutine switching out (saved in it).
inline void save_eh(worker* w, coroutine* co) {
  eh_globals* g = w->eh;
  co->eh_caught = g->caught;
  co->eh_uncaught = g->uncaught;
  g->caught = nullptr;
  g->uncaught = 0;
}

// Every coroutine runs this first thing after a jump lands in it (a resume, or its first frame;
// ASan's fake-stack handle is the one saved when it switched out, none on a first run). If it came
// from another coroutine (a direct switch, worker::prev set), it finishes that coroutine's
// after-switch step now that its registers are saved; otherwise it came from the worker loop,
// whose context it records for the way back.
inline void land(transfer_t t, coroutine* self, bool first_run) {
  worker* w = current_worker();
#if GORO_ASAN
  void* fake_stack = first_run ? nullptr : self->asan_fake_stack;
#else
  (void)first_run;
#endif
  if (coroutine* prev = std::exchange(w->prev, nullptr)) {
#if GORO_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
    prev->ctx = t.fctx;
    if (std::exchange(w->prev_did, after_switch::none) == after_switch::park)
      w->sched.finish_park(*w, prev);
    else
      w->sched.requeue_yielded(*w, prev);
  } else {
#if GORO_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &w->asan_loop_bottom, &w->asan_loop_size);
#endif
    w->loop_ctx = t.fctx;
  }
  eh_globals* g = w->eh;
  g->caught = self->eh_caught;
  g->uncaught = self->eh_uncaught;
}

// The coroutine side of every jump away from `self`, to coroutine `to` or, with nullptr, to the
// worker loop: hand the thread's exception state over, tell the sanitizers which stack comes next
// (an `ending` coroutine gives ASan no place to keep its fake stack, so ASan frees it), jump, and
// land again, possibly on another thread.
inline void leave(worker* w, coroutine* self, coroutine* to, [[maybe_unused]] bool ending) {
  save_eh(w, self);
#if GORO_ASAN
  void** save = ending ? nullptr : &self->asan_fake_stack;
  if (to)
    __sanitizer_start_switch_fiber(save, to->stk.base, to->stk.size);
  else
    __sanitizer_start_switch_fiber(save, w->asan_loop_bottom, w->asan_loop_size);
#endif
#if GORO_TSAN
  __tsan_switch_to_fiber(to ? to->tsan_fiber : w->tsan_loop_fiber, 0);
#endif
  transfer_t t = boost::context::detail::jump_fcontext(to ? to->ctx : w->loop_ctx, to);
  land(t, self, false);
}

// Switches to the worker loop, which acts on `what` once self's registers are saved.
void switch_to_loop(after_switch what) {
  worker* w = current_worker();
  w->pending = what;
  leave(w, w->current, nullptr, what == after_switch::exit);
}

// The first frame of every coroutine.
void trampoline(transfer_t t) {
  auto* co = static_cast<coroutine*>(t.data);
  land(t, co, true);
  task* body = co->body;
  try {
    body->run();
  } catch (...) {
    body->fail(std::current_exception());
  }
  co->body = nullptr;
  body->release();
  transition(co, co_state::running, co_state::dead);
  switch_to_loop(after_switch::exit);
  __builtin_unreachable();
}

}  // namespace

// Gives a coroutine that has never run its stack and initial context.
void scheduler::prepare(worker& w, coroutine* co) {
  if (co->ctx) return;
  co->stk = w.stacks.get(co->stack_request);
  co->ctx = boost::context::detail::make_fcontext(co->stk.top(), co->stk.size, &trampoline);
#if GORO_TSAN
  co->tsan_fiber = __tsan_create_fiber(0);
  if (!co->name.empty()) __tsan_set_fiber_name(co->tsan_fiber, co->name.c_str());
#endif
}

void scheduler::requeue_yielded(worker& w, coroutine* co) {
  w.yields.inc();
  requeue(w, co);
}

// Queues a coroutine that switched out while still runnable (a yielder, or a parker whose wake
// came in while it switched) on this worker, which is busy with the coroutine it switched to.
void scheduler::requeue(worker& w, coroutine* co) {
  transition(co, co_state::running, co_state::runnable);
  runq_put(w, co);
  // Requeueing publishes nothing new: the owner will run the queue anyway, so liveness never needs a
  // wake here. Balance does: coroutines that only yield would otherwise keep one worker busy
  // while another sleeps. The relaxed pre-check keeps the fence off the common path (a stale
  // read only delays the rebalance to a later yield).
  if (nidle_.load(std::memory_order_relaxed) != 0 &&
      nspinning_.load(std::memory_order_relaxed) == 0 &&
      w.q.size_relaxed() > 1)
    wake_one_if_needed();
}

// yield() and park() without the worker loop: switch straight to the next local coroutine, which
// finishes the switch for the one that left when it lands (land(): requeue a yielder, or park a
// parker). Halves the jumps of a yield, and of every channel hand-off (the receiver woken into
// run-next runs as soon as the sender parks). Falls back to the loop (false) when no local
// coroutine is at hand, on the global queue's every-61st turn, and when stopping.
bool scheduler::switch_direct(worker& w, coroutine* a, after_switch what) {
  if (++w.tick % 61 == 0 || stopping_.load(std::memory_order_relaxed)) return false;
  coroutine* b = local_get(w);
  if (!b) return false;
  to_running(b);
  prepare(w, b);
  w.switches.inc();
  w.current = b;
  w.prev = a;
  w.prev_did = what;
  leave(&w, a, b, false);
  return true;
}

// The second half of a park, run once the parker's registers are saved (by the loop, or by the
// coroutine a direct switch landed in): RUNNING -> PARKED, unless ready() came in meanwhile
// (NOTIFIED), in which case the parker is runnable again. True: it is parked.
bool scheduler::try_park(worker& w, coroutine* co) {
  // The lifecycle state first: the permit CAS below publishes it to the claimer (co_state).
  transition(co, co_state::running, co_state::parked);
  permit s = permit::running;
  // Release: the saved context and everything the coroutine wrote before parking are visible to
  // the waker whose parked -> running CAS (claim_ready, acquire) reads this.
  if (co->wake.compare_exchange_strong(s, permit::parked, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
    w.parks.inc();
    return true;
  }
  // A ready() came in meanwhile (notified): the permit is consumed and co stays ours.
  co->wake.store(permit::running, std::memory_order_relaxed);
  co->state.store(co_state::running, std::memory_order_relaxed);
  return false;
}

void scheduler::finish_park(worker& w, coroutine* co) {
  if (!try_park(w, co)) requeue(w, co);  // woken while switching out: runnable again
}

void scheduler::execute(worker& w, coroutine* co) {
  for (;;) {
    w.current = co;
    to_running(co);
    prepare(w, co);
    w.switches.inc();
#if GORO_ASAN
    void* loop_fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&loop_fake_stack, co->stk.base, co->stk.size);
#endif
#if GORO_TSAN
    __tsan_switch_to_fiber(co->tsan_fiber, 0);
#endif
    transfer_t t = boost::context::detail::jump_fcontext(co->ctx, co);
#if GORO_ASAN
    __sanitizer_finish_switch_fiber(loop_fake_stack, nullptr, nullptr);
#endif
    // The coroutine that switched back is not necessarily co: yields may have switched directly
    // from coroutine to coroutine in between.
    co = w.current;
    co->ctx = t.fctx;
    w.current = nullptr;
    switch (std::exchange(w.pending, after_switch::none)) {
      case after_switch::park: {
        if (try_park(w, co)) return;
        // ready() came in while we were switching: resume at once (running again; the loop's
        // to_running accepts it as runnable).
        co->state.store(co_state::runnable, std::memory_order_relaxed);
        continue;
      }
      case after_switch::yield:
        requeue_yielded(w, co);
        return;
      case after_switch::exit:
        finish(w, co);
        return;
      case after_switch::none:
        fatal("goro: a coroutine switched to its worker without saying why");
    }
  }
}

void scheduler::finish(worker& w, coroutine* co) {
  transition(co, co_state::dead, co_state::free);
#if GORO_TSAN
  __tsan_destroy_fiber(co->tsan_fiber);
  co->tsan_fiber = nullptr;
#endif
  w.stacks.put(co->stk);
  co->stk = {};
  co->ctx = nullptr;
  w.finished.inc();
  const bool was_main = co == main_co;
  free_coroutine(&w, co);
  if (was_main) stop();
}

}  // namespace goro::sched::detail

// ==== park and yield =============================================================================

namespace goro::sched {

using namespace detail;

void park(const char* reason) {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (!co) throw std::logic_error("goro::sched::park() called outside a coroutine");
  // Fast path: the permit is already here (the waker beat us to it). Only the owner moves the
  // state away from NOTIFIED, so a plain store consumes it; the load is an acquire (pairs with
  // ready()'s release). Not a CAS: the common case is "no permit", and a failed CAS is still a
  // locked instruction on the hand-off path.
  if (co->wake.load(std::memory_order_acquire) == permit::notified) {
    co->wake.store(permit::running, std::memory_order_relaxed);
    return;
  }
  co->wait_reason.store(reason ? reason : "waiting", std::memory_order_relaxed);
  if (!w->sched.switch_direct(*w, co, after_switch::park)) switch_to_loop(after_switch::park);
  co->wait_reason.store(nullptr, std::memory_order_relaxed);
}

void yield() {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (!co) {
    std::this_thread::yield();
    return;
  }
  if (w->sched.switch_direct(*w, co, after_switch::yield)) return;
  switch_to_loop(after_switch::yield);
}

}  // namespace goro::sched
