// Channel directions: chan<- T is goro::send_chan<T>, <-chan T is goro::recv_chan<T>. A chan<T>
// converts to either; the view has only that side's operations (close is the sender's).
#include <goro/goro.hpp>

#include <vector>

// func produce(out chan<- int, n int)
void produce(goro::send_chan<int> out, int n) {
  for (int i = 1; i <= n; ++i) out.send(i);
  out.close();
  // out.recv();  would not compile: send_chan has no recv
}

// func sum(in <-chan int) int
int sum(goro::recv_chan<int> in) {
  int s = 0;
  for (int v : in) s += v;
  // in.send(1);  would not compile: recv_chan has no send
  // in.close();  would not compile: closing is the sender's
  // goro::chan<int> back = in;  would not compile: a view never converts back
  return s;
}

int main() {
  return goro::run([] {
    goro::chan<int> c(4);
    goro::go(produce, c, 4);  // chan<int> -> send_chan<int>
    goro::recv_chan<int> only_in = c;
    // goro::select(goro::on_send(only_in, 1));  would not compile: a send case needs a sender
    (void)only_in;
    return sum(c) == 10 ? 0 : 1;  // chan<int> -> recv_chan<int>
  });
}
