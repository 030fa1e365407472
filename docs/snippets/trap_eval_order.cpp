// Go evaluates a select's channel operands and send values once, in source order, on entering
// the select. goro's cases are function arguments, so C++ evaluates them in an unspecified order:
// g++ right to left, clang left to right. Compute side-effecting operands into locals first.
#include <goro/goro.hpp>

#include <string>
#include <vector>

int main() {
  return goro::run([] {
    goro::chan<int> a(1), b(1);
    b.send(0);  // b is full: only the send to a can proceed
    std::vector<std::string> order;
    int counter = 0;
    auto next = [&](const char* who) {  // a send value with a side effect
      order.push_back(who);
      return ++counter;
    };

    // Go: select { case a <- next(): case b <- next(): }  sends 1 to a, always.
    goro::select(goro::on_send(a, next("a")), goro::on_send(b, next("b")));
    const int line_by_line = *a.recv();

    // The fix: evaluate the operands in Go's order into locals, then select on the locals.
    order.clear();
    counter = 0;
    const int va = next("a");
    const int vb = next("b");
    goro::select(goro::on_send(a, va), goro::on_send(b, vb));
    const int with_locals = *a.recv();

#if defined(__clang__)
    const bool port_as_go = line_by_line == 1;  // clang: left to right
#elif defined(__GNUC__)
    const bool port_as_go = line_by_line == 2;  // g++: right to left, so `a` got the second value
#endif
    return port_as_go && with_locals == 1 && order == std::vector<std::string>{"a", "b"} ? 0 : 1;
  });
}
