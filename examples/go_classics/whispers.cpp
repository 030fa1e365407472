// whispers: Rob Pike's daisy chain of whispers, ported line by line from whispers.go.
//
// Porting notes: 100,000 coroutines, each parked on a receive. Go starts a goroutine on a 2 KiB
// stack that grows; a goro stack is fixed when the coroutine starts (256 KiB reserved by
// default, committed only as it is touched), so a program that starts this many small
// coroutines asks for small stacks. goro::options{.stack_size} sets the default for the whole run,
// and default-sized stacks come from a pool; spawn_options{.stack_size} with any other size maps
// (and unmaps) a stack per coroutine: here that made the run 5x slower (2.8 s against 0.6 s,
// mostly system time). The Go closure
// `func(c chan<- int) { c <- 1 }(right)` takes its argument by value: so does goro::go.
#include <goro/goro.hpp>

#include <cstdio>

static void whisper(goro::send_chan<int> left, goro::recv_chan<int> right) {
  left.send(1 + *right.recv());
}

int main() {
  // Every coroutine here is small: make the runtime's default stack small (pooled and reused).
  return goro::run(goro::options{.stack_size = 16 * 1024}, [] {
    const int n = 100000;
    goro::chan<int> leftmost;
    goro::chan<int> right = leftmost;
    goro::chan<int> left = leftmost;
    for (int i = 0; i < n; i++) {
      right = goro::chan<int>();
      goro::go(whisper, left, right);
      left = right;
    }
    goro::go([](goro::send_chan<int> c) { c.send(1); }, right);
    std::printf("%d\n", *leftmost.recv());
  });
}
