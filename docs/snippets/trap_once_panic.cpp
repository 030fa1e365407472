// Go's sync.Once counts a call whose f panicked as done: later Do calls do nothing. goro::once
// follows std::call_once instead: if f throws, the exception reaches that caller, the once is
// not done, and the next call runs its f again. To get Go's rule, catch inside f.
#include <goro/goro.hpp>

#include <exception>
#include <stdexcept>

int main() {
  return goro::run([] {
    int runs = 0;
    auto failing_init = [&] {
      ++runs;
      throw std::runtime_error("config missing");
    };

    goro::once o;
    bool first_threw = false;
    try {
      o.call(failing_init);
    } catch (const std::runtime_error&) {
      first_threw = true;
    }
    const bool done_after_throw = o.done();  // false: not done
    o.call([&] { ++runs; });                 // runs: the once retries
    const bool goro_retries = first_threw && !done_after_throw && runs == 2 && o.done();

    // Go's behaviour (a failed f still counts as done), and remembering the failure as
    // sync.OnceFunc does: keep the exception and rethrow it to every caller.
    goro::once go_once;
    std::exception_ptr failure;
    int go_runs = 0;
    auto init = [&] {
      go_once.call([&] {
        try {
          ++go_runs;
          throw std::runtime_error("config missing");
        } catch (...) {
          failure = std::current_exception();
        }
      });
      if (failure) std::rethrow_exception(failure);
    };
    int caught = 0;
    for (int i = 0; i < 3; ++i) {
      try {
        init();
      } catch (const std::runtime_error&) {
        ++caught;
      }
    }
    const bool go_rule = go_runs == 1 && caught == 3 && go_once.done();
    return goro_retries && go_rule ? 0 : 1;
  });
}
