// crash.cpp: programs that end badly on purpose, run as children by test_errors.cpp.
//   overflow       - unbounded recursion in a named coroutine (must report a stack overflow)
//   panic          - an exception escapes a go() coroutine
//   panic_foreign  - a non-std::exception escapes a go() coroutine
//   unobserved     - a spawned coroutine throws and its handle is dropped without get()
//   nil_blocks     - send, recv and range on a nil channel, a select of nil cases only and a
//                    select with no cases must block forever (reports and _Exits)
//   unlock_unlocked - goro::mutex::unlock of an unlocked mutex (a fatal error: must abort)
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

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
    } else if (mode == "nil_blocks") {
      // Coroutines that send or receive on a nil channel must never return. They are abandoned
      // parked, so the helper leaves with _Exit (no leak report for what it abandons on purpose).
      auto returned = std::make_shared<std::atomic<int>>(0);
      goro::chan<int> nil(nullptr);
      goro::go([nil, returned]() mutable {
        nil.send(1);
        returned->fetch_add(1);
      });
      goro::go([nil, returned]() mutable {
        (void)nil.recv();
        returned->fetch_add(1);
      });
      goro::go([nil, returned]() mutable {
        for (int v : nil) returned->fetch_add(1 + v);  // ranging over nil: blocks, never ends
        returned->fetch_add(1);
      });
      goro::go([nil, returned]() mutable {
        goro::select(goro::on_recv(nil), goro::on_send(nil, 1));  // only nil cases, no default
        returned->fetch_add(1);
      });
      goro::go([returned] {
        goro::select();  // Go's select {}
        returned->fetch_add(1);
      });
      for (int i = 0; i < 10000; ++i) goro::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      for (int i = 0; i < 10000; ++i) goro::yield();
      std::fprintf(stderr, "nil channel operations returned: %d\n", returned->load());
      std::fflush(stderr);
      std::_Exit(0);
    } else if (mode == "unlock_unlocked") {
      goro::mutex m;
      m.unlock();
      std::fprintf(stderr, "unlock of an unlocked mutex returned\n");
      return 0;
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
