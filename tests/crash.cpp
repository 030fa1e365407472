// crash.cpp: programs that end badly on purpose, run as children by test_errors.cpp.
//   overflow       - unbounded recursion in a named coroutine (must report a stack overflow)
//   panic          - an exception escapes a go() coroutine
//   panic_foreign  - a non-std::exception escapes a go() coroutine
//   unobserved     - a spawned coroutine throws and its handle is dropped without get()
#include <goro/goro.hpp>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace {

// noinline + a volatile buffer so the compiler can neither inline nor turn this into a loop.
#pragma GCC diagnostic ignored "-Winfinite-recursion"  // unbounded on purpose
__attribute__((noinline)) int recurse(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  return recurse(depth + 1) + pad[0];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 100;
  const std::string mode = argv[1];
  return goro::run([mode]() -> int {
    if (mode == "overflow") {
      auto h = goro::spawn(goro::spawn_options{.name = "deep-recursion", .stack_size = 64 * 1024},
                           [] { return recurse(0); });
      return h.get();
    }
    if (mode == "panic") {
      goro::go(goro::spawn_options{.name = "worker-7"},
               [] { throw std::runtime_error("quote feed disconnected"); });
    } else if (mode == "panic_foreign") {
      goro::go([] { throw 42; });
    } else if (mode == "unobserved") {
      auto h = goro::spawn([]() -> int { throw std::out_of_range("index 9 past the end"); });
      h.wait();
      // h goes out of scope without get(): the error must not vanish.
    } else {
      return 100;
    }
    for (int i = 0; i < 1000000; ++i) goro::yield();  // the panic ends the program first
    return 0;
  });
}
