#include <goro/goro.hpp>

#include <cstdio>
#include <vector>

int main() {
  return goro::run([] {
    std::vector<goro::join_handle<int>> hs;
    for (int i = 1; i <= 100; ++i) hs.push_back(goro::spawn([i] { return i; }));
    int sum = 0;
    for (auto& h : hs) sum += h.get();
    std::printf("downstream ok %d\n", sum);
    return sum == 5050 ? 0 : 1;
  });
}
