// Go's `v := <-c` on a closed channel yields T's zero value; goro's recv() returns an empty
// std::optional, and `*c.recv()` on it is undefined behaviour. Spell Go's zero value out.
#include <goro/goro.hpp>

#include <optional>
#include <string>

int main() {
  return goro::run([] {
    goro::chan<int> c(1);
    c.send(5);
    c.close();

    int v1 = c.recv().value_or(0);  // v := <-c  (5: buffered before close)
    int v2 = c.recv().value_or(0);  // v := <-c  (closed: Go's zero value, 0)
    // int v4 = c.recv();  would not compile: recv() is an optional, never a bare int

    std::optional<int> v3 = c.recv();  // v, ok := <-c
    bool ok = v3.has_value();          // false

    goro::chan<std::string> names(1);
    names.close();
    std::string name = names.recv().value_or(std::string{});  // "" as in Go

    // In a select, the handler gets the optional itself: test it before use.
    int from_select = -1;
    goro::select(goro::on_recv(c, [&](std::optional<int> v) { from_select = v ? *v : 0; }));

    return v1 == 5 && v2 == 0 && !ok && name.empty() && from_select == 0 ? 0 : 1;
  });
}
