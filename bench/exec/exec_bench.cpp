// exec_bench.cpp: goro::exec::command("/bin/true").run() against Go's exec.Command("/bin/true").Run()
// (exec_bench.go beside it): spawn + wait latency, sequential, and 8 at a time.
// Standalone (not in bench/CMakeLists.txt yet), built against a goro build tree:
//   c++ -O2 -std=c++20 -Iruntime/include -Ichannels/include -Isched/include bench/exec/exec_bench.cpp \
//       build/libgoro.a -luring -lboost_context -o /tmp/exec_bench && /tmp/exec_bench
//   (cd bench/exec && go run exec_bench.go)
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>

int main() {
  return goro::run([] {
    constexpr int n = 400;
    for (int round = 0; round < 3; ++round) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i)
        if (!goro::exec::command("/bin/true").run().success()) return 1;
      auto t1 = std::chrono::steady_clock::now();
      goro::wait_group wg;
      for (int w = 0; w < 8; ++w) {
        wg.add(1);
        goro::go([&wg] {
          for (int i = 0; i < n / 8; ++i) (void)goro::exec::command("/bin/true").run();
          wg.done();
        });
      }
      wg.wait();
      auto t2 = std::chrono::steady_clock::now();
      std::printf("goro exec /bin/true: sequential %.1f us/run, 8 at a time %.1f us/run\n",
                  std::chrono::duration<double, std::micro>(t1 - t0).count() / n,
                  std::chrono::duration<double, std::micro>(t2 - t1).count() / n);
    }
    return 0;
  });
}
