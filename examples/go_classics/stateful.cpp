// stateful: a stateful goroutine owning its state behind channels, ported line by line from
// stateful.go.
//
// Porting notes: sync/atomic's AddUint64 / LoadUint64 / StoreInt32 are std::atomic members
// (fetch_add, load, store: sequentially consistent, as Go's atomics are). Go's map[int]int
// reads a missing key as 0; so does std::unordered_map's operator[] (it inserts the 0). The
// state map is a local of the owning goroutine's lambda: no other goroutine can reach it.
#include <goro/goro.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <unordered_map>

struct readOp {
  int key;
  goro::chan<int> resp;
};

struct writeOp {
  int key;
  int val;  // added to the key's value
  goro::chan<bool> resp;
};

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
struct xorshift {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
};

int main() {
  return goro::run([] {
    const int keys = 5, readers = 50, writers = 10, opsEach = 100;
    std::atomic<std::uint64_t> readOps{0}, writeOps{0};
    std::atomic<std::int32_t> wentBack{0};

    goro::chan<readOp> reads;
    goro::chan<writeOp> writes;

    // The goroutine that owns the state.
    goro::go([=] {
      std::unordered_map<int, int> state;
      for (;;) {
        goro::select(
            goro::on_recv(reads, [&](std::optional<readOp> read) { read->resp.send(state[read->key]); }),
            goro::on_recv(writes, [&](std::optional<writeOp> write) {
              if (write) {  // never closed (a check g++ -Wmaybe-uninitialized wants)
                state[write->key] += write->val;
                write->resp.send(true);
              }
            }));
      }
    });

    // The counters and the WaitGroup are main's locals: main waits for every goroutine that
    // uses them (wg.wait()) before they go out of scope, so the goroutines may refer to them.
    goro::wait_group wg;
    for (int r = 0; r < readers; r++) {
      wg.add(1);
      goro::go([&, reads, r]() mutable {
        xorshift rng{std::uint64_t(r + 1)};
        std::unordered_map<int, int> last;
        for (int i = 0; i < opsEach; i++) {
          readOp read{int(rng.next() % keys), goro::chan<int>()};
          reads.send(read);
          int v = *read.resp.recv();
          if (v < last[read.key]) {
            wentBack.store(1);
          }
          last[read.key] = v;
          readOps.fetch_add(1);
        }
        wg.done();
      });
    }
    for (int w = 0; w < writers; w++) {
      wg.add(1);
      goro::go([&, writes, w]() mutable {
        xorshift rng{std::uint64_t(1000 + w)};
        for (int i = 0; i < opsEach; i++) {
          int key = int(rng.next() % keys);
          int val = int(rng.next() % 100);
          writeOp write{key, val, goro::chan<bool>()};
          writes.send(write);
          write.resp.recv();
          writeOps.fetch_add(1);
        }
        wg.done();
      });
    }
    wg.wait();

    std::printf("readOps: %llu\n", (unsigned long long)readOps.load());
    std::printf("writeOps: %llu\n", (unsigned long long)writeOps.load());
    for (int k = 0; k < keys; k++) {
      readOp read{k, goro::chan<int>()};
      reads.send(read);
      std::printf("state[%d] = %d\n", k, *read.resp.recv());
    }
    std::printf("no reader saw a value go down: %s\n", wentBack.load() == 0 ? "true" : "false");
  });
}
