// Running off the end of a coroutine's stack is reported, not a silent SIGSEGV. Its test expects
// exit code 2 and
//   fatal error: stack overflow
//   goroutine 2 "recursive" [running]:
//           stack of 65536 bytes exhausted (fault at 0x... in the guard page 0x...-0x...)
//           give it a bigger stack: goro::spawn_options{.stack_size = N} for one coroutine, ...
// (Not under ASan or TSan, which take over SIGSEGV and report the overflow themselves.)
#include <goro/goro.hpp>

#pragma GCC diagnostic ignored "-Winfinite-recursion"  // unbounded on purpose
__attribute__((noinline)) int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}

int main() {
  return goro::run([] {
    auto h = goro::spawn(goro::spawn_options{.name = "recursive", .stack_size = 64 * 1024},
                         [] { return recurse(0); });
    return h.get();
  });
}
