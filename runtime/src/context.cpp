// context.cpp: the context tree: registration, cancellation, the deadline timer, sleeps.
//
// ==== Contexts ===================================================================================
// Every context but background is a context_node (context.hpp). State:
//   - err_: 0 while live, else the goro::errc. Written once, under mu_, by the cancel that wins
//     (release); read anywhere without the lock (acquire).
//   - done_: an unbuffered channel, closed by the winning cancel under mu_, right after err_ is
//     stored: anyone woken by the close (it takes the channel's lock) sees err_ != 0.
//   - stop_: made lazily by the first stop_token(); requested by the winning cancel after it has
//     released mu_ (stop callbacks are user code), or at once by a stop_token() that makes it for
//     a node already done (no callback can be registered on it yet).
//   - the child list: an intrusive doubly linked list of the live children, under mu_. The list
//     holds no references. A child is unlinked (under the parent's mu_) by its own cancel, by its
//     last unref (before it is freed), or wholesale by the parent's cancel, which marks each one
//     unlinked and takes a reference to it if it can (try_ref: its count is not yet zero). A
//     child whose count already reached zero is being freed; its unlink then finds linked_ false
//     and leaves the list alone. So a node in the list is always alive while the parent's mu_ is
//     held.
//
// Lock order: node locks are never nested. Registration takes the parent's mu_ alone; if the
// parent is done, the child is cancelled after it is released. A cancel takes its node's mu_,
// detaches the children, releases it, then cancels the children one by one (a work list chained
// through cancel_next_, so no recursion and no allocation), and finally takes the parent's mu_ to
// unlink itself. Under mu_ a node takes only leaf locks: its done channel's (close) and a timer
// heap's (add_timer). cancel_timer runs after mu_ is released.
//
// The deadline timer is the node itself (a sched::timer). arm() adds it under mu_ only while the
// node is live and takes a reference for the heap; a cancel stores err_ under mu_ before it calls
// cancel_timer, so either the arming came first (and the cancel disarms it and drops the heap's
// reference) or the arming sees err_ and does not happen. A fire() that has begun when cancel_timer
// runs makes cancel_timer return false; fire() then finds the node done, cancels nothing, and drops
// the heap's reference itself.
#include <goro/channels/select.hpp>
#include <goro/runtime/context.hpp>
#include <goro/runtime/time.hpp>

#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace goro::detail {

context_node::context_node(context_node* parent, std::int64_t deadline) : parent_(parent), deadline_(deadline) {
  if (parent_) parent_->ref();
}

bool context_node::try_ref() noexcept {
  // Only called under parent_->mu_ with this node linked: its memory is alive (see above).
  int n = refs_.load(std::memory_order_relaxed);
  while (n != 0)
    if (refs_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
  return false;
}

void context_node::unref(context_node* n) noexcept {
  // acq_rel: the last owner sees every other owner's writes before it frees the node.
  while (n && n->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    context_node* parent = n->parent_;
    n->unlink_from_parent();
    delete n;
    n = parent;  // drop the reference the child held
  }
}

void context_node::unlink_from_parent() noexcept {
  if (!parent_) return;
  sched::spin_guard g(parent_->mu_);
  if (!linked_) return;  // never registered, or detached by the parent's cancel
  if (prev_sib_)
    prev_sib_->next_sib_ = next_sib_;
  else
    parent_->first_child_ = next_sib_;
  if (next_sib_) next_sib_->prev_sib_ = prev_sib_;
  prev_sib_ = next_sib_ = nullptr;
  linked_ = false;
  --parent_->nchildren_;
}

void context_node::attach() {
  if (!parent_) return;  // background's children have nobody to cancel them
  int perr;
  {
    sched::spin_guard g(parent_->mu_);
    perr = parent_->err_.load(std::memory_order_relaxed);
    if (perr == 0) {
      next_sib_ = parent_->first_child_;
      if (next_sib_) next_sib_->prev_sib_ = this;
      parent_->first_child_ = this;
      linked_ = true;
      ++parent_->nchildren_;
      return;
    }
  }
  // The parent is done: so is the child, with the parent's error and cause (never registered).
  cancel(static_cast<errc>(perr), false, parent_->cause());
}

bool context_node::cancel_one(errc e, std::error_code cause, context_node** work) noexcept {
  std::stop_source stop{std::nostopstate};
  {
    sched::spin_guard g(mu_);
    if (err_.load(std::memory_order_relaxed) != 0) return false;  // the first cause stays
    cause_ = cause ? cause : make_error_code(e);  // Go: a nil cause is the error itself
    err_.store(static_cast<int>(e), std::memory_order_release);
    done_.close();  // only the winner closes: never throws
    for (context_node* c = first_child_; c;) {
      context_node* next = c->next_sib_;
      c->prev_sib_ = c->next_sib_ = nullptr;
      c->linked_ = false;
      if (c->try_ref()) {
        c->cancel_next_ = *work;
        *work = c;
      }
      c = next;
    }
    first_child_ = nullptr;
    nchildren_ = 0;
    stop = stop_;  // shares the state (no allocation)
  }
  if (stop.stop_possible()) stop.request_stop();  // runs the stop callbacks, on this thread
  // The heap's reference; the caller holds another, so this is never the last.
  if (sched::cancel_timer(this)) refs_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void context_node::cancel(errc e, bool remove_from_parent, std::error_code cause) noexcept {
  context_node* work = nullptr;
  if (!cancel_one(e, cause, &work)) return;
  cause = cause_;  // the children get this node's cause (Go: child.cancel(false, err, p.cause))
  if (remove_from_parent) unlink_from_parent();
  while (work) {
    context_node* c = work;
    work = c->cancel_next_;
    c->cancel_next_ = nullptr;
    c->cancel_one(e, cause, &work);  // pushes c's children
    unref(c);
  }
}

void context_node::arm() {
  sched::spin_guard g(mu_);
  if (err_.load(std::memory_order_relaxed) != 0) return;  // done already: no timer
  ref();  // the heap's
  try {
    sched::add_timer(this, deadline_);
  } catch (const std::logic_error&) {
    // No runtime. The caller's node_ref frees the node (and unregisters it) as this propagates.
    refs_.fetch_sub(1, std::memory_order_relaxed);
    throw std::logic_error(
        "goro::with_deadline/with_timeout: a deadline needs a running runtime (call it inside goro::run)");
  } catch (...) {
    refs_.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
}

void context_node::fire() noexcept {
  cancel(errc::deadline_exceeded, true, deadline_cause_);
  unref(this);  // the heap's reference
}

void context_node::abandon() noexcept { unref(this); }

std::stop_token context_node::stop_token() {
  {
    sched::spin_guard g(mu_);
    if (stop_.stop_possible()) return stop_.get_token();
  }
  std::stop_source fresh;  // allocates: outside the lock
  sched::spin_guard g(mu_);
  if (!stop_.stop_possible()) {
    // Done already: the cancel saw no source to request. Nobody can have registered a callback
    // on this one yet, so requesting it under the lock runs no user code.
    if (err_.load(std::memory_order_relaxed) != 0) fresh.request_stop();
    stop_ = std::move(fresh);
  }
  return stop_.get_token();
}

std::size_t context_node::child_count() noexcept {
  sched::spin_guard g(mu_);
  return nchildren_;
}

std::pair<context, cancel_func> make_child(const context& parent, std::int64_t deadline,
                                           std::error_code deadline_cause) {
  context_node* p = parent.n_.get();
  const std::int64_t pd = p ? p->deadline_ns() : no_deadline;
  // As Go: a deadline not before the parent's needs no timer of its own (the parent's fires
  // first and cancels this one); then it is with_cancel, and deadline() reports the parent's.
  const bool own_timer = deadline < pd;
  node_ref n(new context_node(p, own_timer ? deadline : pd));
  if (own_timer) n.get()->set_deadline_cause(deadline_cause);
  n.get()->attach();
  if (own_timer) {
    if (deadline <= sched::now_ns())
      n.get()->cancel(errc::deadline_exceeded, true, deadline_cause);  // no-op if the parent was done
    else
      n.get()->arm();  // throws without a runtime; n frees the node
  }
  node_ref c = n;
  return {context(std::move(n), parent.v_), cancel_func(std::move(c))};
}

}  // namespace goro::detail

namespace goro {

std::pair<context, cancel_cause_func> with_cancel_cause(const context& parent) {
  auto [ctx, cancel] = detail::make_child(parent, detail::no_deadline);
  return {std::move(ctx), cancel_cause_func(std::move(cancel.n_))};
}

}  // namespace goro

namespace goro::detail {

std::error_code sleep_until_ns(const context& ctx, std::int64_t when) {
  if (std::error_code e = ctx.err()) return e;
  recv_chan<std::monostate> done = ctx.done();
  if (!done) {  // background: nothing can end the sleep early
    sleep_until_ns(when);
    return {};
  }
  const std::int64_t now = sched::now_ns();
  if (sched::in_coroutine()) {
    if (when <= now) {
      sched::yield();
      return {};
    }
    // goro::timer's machinery, armed for the absolute time (a duration could overflow when
    // added to the clock again), and stopped on the way out.
    auto* t = new time_source(0);
    start_or_free(t, when);
    struct stop_on_exit {
      time_source* t;
      ~stop_on_exit() {
        t->stop();
        t->unref();
      }
    } guard{t};
    const std::size_t i = goro::select(goro::on_recv(done), goro::on_recv(recv_chan<steady::time_point>(t->ch)));
    return i == 0 ? ctx.err() : std::error_code();
  }
  // A plain thread: block on a condition variable that the context's stop request notifies.
  // The stop is requested after err() is set, so a stopped wait returns the error.
  std::stop_token st = ctx.stop_token();
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lk(m);
  while (!st.stop_requested() && sched::now_ns() < when) cv.wait_until(lk, st, from_ns(when), [] { return false; });
  return st.stop_requested() ? ctx.err() : std::error_code();
}

}  // namespace goro::detail
