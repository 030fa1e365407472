// goexit.cpp: goro::goexit (see goro/runtime/goexit.hpp): the registry of coroutines unwinding
// from a goexit(), so that a catch (...) that swallows the unwinding is reported, not silent.
#include <goro/runtime/goexit.hpp>

#include <algorithm>
#include <mutex>
#include <vector>

namespace goro {

namespace detail {

std::atomic<int> goexits_pending{0};

namespace {
// Lock order: a leaf (nothing is taken under it). Touched only on goexit's paths.
std::mutex registry_mu;
std::vector<sched::coroutine*>& registry() {
  static auto* r =
      new std::vector<sched::coroutine*>;  // never destroyed: coroutines may end during exit
  return *r;
}
}  // namespace

void goexit_caught() noexcept {
  sched::coroutine* co = sched::current();
  std::lock_guard g(registry_mu);
  auto& r = registry();
  auto it = std::find(r.begin(), r.end(), co);
  if (it == r.end()) return;  // rethrown from another coroutine's goexit (see the header)
  r.erase(it);
  goexits_pending.fetch_sub(1, std::memory_order_relaxed);
}

void goexit_check_slow() noexcept {
  sched::coroutine* co = sched::current();
  bool swallowed;
  {
    std::lock_guard g(registry_mu);
    auto& r = registry();
    auto it = std::find(r.begin(), r.end(), co);
    swallowed = it != r.end();
    if (swallowed) {
      r.erase(it);
      goexits_pending.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (swallowed)
    sched::fatal(
        "goro: goexit was swallowed: a catch (...) in this coroutine did not rethrow the unwinding "
        "(goro::goexit_unwind), so the coroutine went on after goro::goexit()");
}

}  // namespace detail

void goexit() {
  sched::coroutine* co = sched::current();
  if (!co) throw std::logic_error("goro::goexit: not called from a coroutine");
  {
    std::lock_guard g(detail::registry_mu);
    auto& r = detail::registry();
    if (std::find(r.begin(), r.end(), co) == r.end()) {
      r.push_back(co);
      detail::goexits_pending.fetch_add(1, std::memory_order_relaxed);
    }
  }
  throw goexit_unwind();
}

}  // namespace goro
