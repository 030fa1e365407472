// defer is a destructor. A scope guard runs its function when the enclosing *scope* ends, in
// reverse order of declaration (Go: when the *function* returns, last deferred first), and also
// when an exception unwinds through it (Go: during a panic).
#include <goro/goro.hpp>

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// A minimal defer (std::experimental::scope_exit, Boost.Scope's scope_exit do the same).
template <class F>
class scope_exit {
 public:
  explicit scope_exit(F f) : f_(std::move(f)) {}
  scope_exit(const scope_exit&) = delete;
  ~scope_exit() { f_(); }

 private:
  F f_;
};

std::vector<std::string> events;

void work(int n) {
  scope_exit a([] { events.push_back("first deferred"); });
  scope_exit b([n] { events.push_back("n at defer: " + std::to_string(n)); });  // Go: args now
  ++n;
  scope_exit c([&n] { events.push_back("n at exit: " + std::to_string(n)); });  // a closure: later
  n = 10;
  if (n > 5) throw std::runtime_error("fail");  // the guards run during unwinding
}

int main() {
  return goro::run([] {
    try {
      work(1);
    } catch (const std::runtime_error&) {
      events.push_back("caught");
    }
    const bool order = events == std::vector<std::string>{"n at exit: 10", "n at defer: 1",
                                                       "first deferred", "caught"};

    // A guard in a loop body runs every iteration; Go's defer in a loop runs at function end.
    events.clear();
    for (int i = 0; i < 3; ++i) {
      scope_exit g([i] { events.push_back("end of iteration " + std::to_string(i)); });
    }
    const bool per_iteration = events.size() == 3 && events[0] == "end of iteration 0";

    // mu.Lock(); defer mu.Unlock(): std::lock_guard (or std::unique_lock to unlock early).
    goro::mutex mu;
    {
      std::lock_guard<goro::mutex> lock(mu);
    }
    const bool unlocked = mu.try_lock();
    mu.unlock();
    return order && per_iteration && unlocked ? 0 : 1;
  });
}
