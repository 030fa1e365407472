// for v := range ch { ... }: a range-for receives until the channel is closed and drained.
#include <goro/goro.hpp>

#include <vector>

int main() {
  return goro::run([] {
    goro::chan<int> squares(3);
    goro::go([squares]() mutable {
      for (int i = 1; i <= 5; ++i) squares.send(i * i);
      squares.close();  // without it the loop below never ends (Go: the same)
    });
    std::vector<int> got;
    for (int v : squares) got.push_back(v);
    return got == std::vector<int>{1, 4, 9, 16, 25} ? 0 : 1;
  });
}
