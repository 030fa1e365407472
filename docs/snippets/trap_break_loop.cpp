// A select case body is a lambda: `return` in it returns from the handler only (select then
// returns as usual), and `break LOOP` / `continue` do not compile there. Carry the decision out
// of the handler in a variable or in select's returned index, and act on it in the loop.
#include <goro/goro.hpp>

#include <cstddef>
#include <optional>

// func sum(in <-chan int, quit <-chan struct{}) int {
// LOOP:
//   for {
//     select {
//     case v, ok := <-in:
//       if !ok { break LOOP }
//       total += v
//     case <-quit:
//       return -1
//     }
//   }
//   return total
// }
int sum(goro::recv_chan<int> in, goro::recv_chan<std::monostate> quit) {
  int total = 0;
  for (bool open = true; open;) {
    std::size_t i = goro::select(goro::on_recv(in,
                                               [&](std::optional<int> v) {
                                                 // if (!v) break;  would not compile: no loop here
                                                 if (!v) {
                                                   open = false;  // break LOOP
                                                   return;        // leaves the handler only
                                                 }
                                                 total += *v;
                                               }),
                                 goro::on_recv(quit));
    if (i == 1) return -1;  // return from sum: outside the handler
    // goro::select(goro::on_recv(in, [&](int v) { total += v; }));  would not compile: not an optional
  }
  return total;
}

int main() {
  return goro::run([] {
    goro::chan<int> in(3);
    goro::chan<std::monostate> quit;
    for (int v : {1, 2, 3}) in.send(v);
    in.close();
    const int closed_sum = sum(in, quit);

    goro::chan<int> idle;  // never sends
    goro::chan<std::monostate> stop;
    stop.close();
    const int quit_sum = sum(idle, stop);
    return closed_sum == 6 && quit_sum == -1 ? 0 : 1;
  });
}
