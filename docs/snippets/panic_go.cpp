// An exception escaping a go coroutine is an unrecovered panic: the coroutine's own stack is
// unwound (its destructors run, as a panicking goroutine runs its deferred calls), then the
// process prints "panic: <type>: <what()>" and the coroutine's id and name, and exits with
// code 2 without running anything else (other coroutines' destructors, atexit handlers).
// Its test expects exit code 2 and this stderr:
//   deferred: flushing
//   panic: std::runtime_error: disk full
//
//   goroutine 2 "saver" [running]:
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>

struct flush_on_exit {  // defer fmt.Fprintln(os.Stderr, "deferred: flushing")
  ~flush_on_exit() { std::fprintf(stderr, "deferred: flushing\n"); }
};

int main() {
  return goro::run([] {
    goro::go(goro::spawn_options{.name = "saver"}, [] {
      flush_on_exit guard;
      throw std::runtime_error("disk full");  // panic(errors.New("disk full"))
    });
    goro::sleep_for(std::chrono::seconds(5));  // never returns: the panic ends the process
    return 0;
  });
}
