// weighted_semaphore.cpp: x/sync's semaphore.Weighted (see goro/runtime/weighted_semaphore.hpp).
#include <goro/channels/select.hpp>
#include <goro/runtime/context.hpp>
#include <goro/runtime/detail/abortable_wait.hpp>
#include <goro/runtime/weighted_semaphore.hpp>

#include <stdexcept>
#include <string>

namespace goro {

namespace {
void check_n(std::int64_t n, const char* who) {
  if (n < 0) throw std::invalid_argument(std::string("goro::weighted_semaphore::") + who + ": negative count");
}
}  // namespace

weighted_semaphore::weighted_semaphore(std::int64_t size) : size_(size) {
  if (size < 0) throw std::invalid_argument("goro::weighted_semaphore: negative size");
}

// Grants the head waiters in order while the head's request fits (Go's notifyWaiters: a head that
// does not fit stops the walk, so smaller requests behind it wait too).
void weighted_semaphore::notify(detail::wake_list& woken) noexcept {
  while (detail::wait_node* n = q_.front()) {
    const std::int64_t want = *static_cast<const std::int64_t*>(n->elem);
    if (size_ - cur_ < want) break;
    q_.remove(n);
    cur_ += want;
    n->ok = true;
    woken.push(n);
  }
}

std::error_code weighted_semaphore::acquire(const context& ctx, std::int64_t n) {
  check_n(n, "acquire");
  if (std::error_code e = ctx.err()) return e;  // Go: a done ctx fails even with units free
  const std::stop_token st = ctx.stop_token();  // may allocate: before anything is queued
  sched::waiter w;
  detail::wait_node node;
  node.w = &w;
  node.elem = &n;
  {
    sched::spin_guard g(mu_);
    if (size_ - cur_ >= n && q_.empty()) {
      cur_ += n;
      return {};
    }
    if (n <= size_) q_.push_back(&node);
  }
  if (n > size_) {
    // Doomed: wait for ctx without queueing (others must not block behind it), as Go does.
    goro::select(goro::on_recv(ctx.done()));
    return ctx.err();
  }
  auto abort = [&]() noexcept {
    detail::wake_list woken;
    {
      sched::spin_guard g(mu_);
      if (!node.queued) return false;  // granted: the releaser wakes us
      const bool front = q_.front() == &node;
      q_.remove(&node);
      // The head leaving may unblock the smaller requests behind it.
      if (front && size_ > cur_) notify(woken);
    }
    woken.wake_all();
    return true;
  };
  if (detail::wait_abortable(w, "semaphore acquire", detail::no_wait_deadline, st, abort)) return ctx.err();
  if (ctx.is_done()) {  // granted, but ctx ended meanwhile: Go gives the units back and fails
    release(n);
    return ctx.err();
  }
  return {};
}

bool weighted_semaphore::try_acquire(std::int64_t n) {
  check_n(n, "try_acquire");
  sched::spin_guard g(mu_);
  if (size_ - cur_ >= n && q_.empty()) {
    cur_ += n;
    return true;
  }
  return false;
}

void weighted_semaphore::release(std::int64_t n) {
  check_n(n, "release");
  detail::wake_list woken;
  {
    sched::spin_guard g(mu_);
    if (n > cur_)
      throw std::logic_error("goro::weighted_semaphore::release: released more than held (" + std::to_string(n) +
                             " released, " + std::to_string(cur_) + " held)");
    cur_ -= n;
    notify(woken);
  }
  woken.wake_all();
}

std::int64_t weighted_semaphore::held() noexcept {
  sched::spin_guard g(mu_);
  return cur_;
}

}  // namespace goro
