// When every coroutine is blocked and nothing (a timer, I/O, another thread) can wake one, goro
// says so as Go does and exits with code 2. Its test expects exit code 2 and
//   fatal error: all goroutines are asleep - deadlock!
//   goroutine 1 [chan receive] "main"
// (No report while the process has threads of its own: any of them could still send.)
#include <goro/goro.hpp>

int main() {
  return goro::run([] {
    goro::chan<int> c;
    c.recv();  // nobody will ever send
    return 0;
  });
}
