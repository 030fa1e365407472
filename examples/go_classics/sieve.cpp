// sieve: the concurrent prime sieve, ported line by line from sieve.go.
//
// Porting notes: Go's directional channel types chan<- int and <-chan int are goro::send_chan
// and goro::recv_chan (views of a goro::chan). `i := <-in` is `*in.recv()`: recv() returns an
// empty optional only once the channel is closed, and these channels never are. The goroutines
// still parked when main returns are abandoned, as in Go.
#include <goro/goro.hpp>

#include <cstdio>

// generate sends the sequence 2, 3, 4, ... to channel ch.
static void generate(goro::send_chan<int> ch) {
  for (int i = 2;; i++) {
    ch.send(i);
  }
}

// filter copies the values from channel in to channel out, removing those divisible by prime.
static void filter(goro::recv_chan<int> in, goro::send_chan<int> out, int prime) {
  for (;;) {
    int i = *in.recv();
    if (i % prime != 0) {
      out.send(i);
    }
  }
}

int main() {
  return goro::run([] {
    const int n = 1000;  // primes to find
    goro::chan<int> ch;
    goro::go(generate, ch);
    long sum = 0;
    for (int i = 0; i < n; i++) {
      int prime = *ch.recv();
      sum += prime;
      if (i < 100) {
        std::printf("%5d", prime);
        if (i % 10 == 9) {
          std::printf("\n");
        }
      }
      goro::chan<int> ch1;
      goro::go(filter, ch, ch1, prime);
      ch = ch1;
    }
    std::printf("the first %d primes sum to %ld\n", n, sum);
  });
}
