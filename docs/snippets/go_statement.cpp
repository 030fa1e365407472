// go f(x) and go func() { ... }(): goro::go copies the callable and its arguments when it is
// called, as Go evaluates a go statement's function value and arguments at once.
#include <goro/goro.hpp>

#include <algorithm>
#include <string>
#include <vector>

int main() {
  return goro::run([] {
    goro::chan<std::string> out(4);
    std::string name = "first";

    // go func() { out <- "lambda saw " + name }(), with name copied now. A lambda that calls a
    // non-const member (send) on a captured-by-value channel must be `mutable`.
    goro::go([name, out]() mutable { out.send("lambda saw " + name); });
    // goro::go([name, out] { out.send(name); });  would not compile: out is const without mutable
    // go report(name, out): the arguments are decay-copied, as std::thread copies them.
    auto report = [](std::string n, goro::chan<std::string> c) { c.send("argument saw " + n); };
    goro::go(report, name, out);
    name = "changed";  // neither coroutine sees this

    // Go 1.22's per-iteration loop variable: [i] copies each iteration's value.
    for (int i = 0; i < 2; ++i) goro::go([i, out]() mutable { out.send("i=" + std::to_string(i)); });

    // A go statement with a result: spawn returns a join_handle; get() parks until it is done.
    goro::join_handle<int> product = goro::spawn([](int a, int b) { return a * b; }, 6, 7);

    std::vector<std::string> got;
    for (int k = 0; k < 4; ++k) got.push_back(*out.recv());
    std::sort(got.begin(), got.end());  // coroutines run in no fixed order
    const std::vector<std::string> want = {"argument saw first", "i=0", "i=1", "lambda saw first"};
    return got == want && product.get() == 42 ? 0 : 1;
  });
}
