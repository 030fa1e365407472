// sync.Mutex, sync.RWMutex, sync.WaitGroup, sync.Cond and a weighted semaphore. Each wait parks
// the coroutine, not its worker thread. The types are Lockable, so std::lock_guard,
// std::unique_lock, std::scoped_lock and std::shared_lock do what `defer mu.Unlock()` does.
#include <goro/goro.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>

int main() {
  return goro::run([] {
    // var mu sync.Mutex; var wg sync.WaitGroup
    goro::mutex mu;
    goro::wait_group wg;
    // goro::mutex copy = mu;  would not compile: the sync types cannot be copied
    long counter = 0;
    for (int i = 0; i < 50; ++i) {
      wg.add(1);
      goro::go([&] {  // [&] is safe here: wg.wait() below keeps every local alive until done
        for (int k = 0; k < 1000; ++k) {
          std::lock_guard<goro::mutex> lock(mu);  // mu.Lock(); defer mu.Unlock()
          ++counter;
        }
        wg.done();
      });
    }
    wg.wait();

    // sync.RWMutex: RLock/RUnlock is lock_shared/unlock_shared (std::shared_lock).
    goro::shared_mutex rw;
    std::map<std::string, int> table{{"a", 1}};
    int seen = 0;
    {
      std::shared_lock<goro::shared_mutex> r(rw);
      seen = table.at("a");
    }
    {
      std::unique_lock<goro::shared_mutex> w(rw);
      table["b"] = 2;
    }

    // sync.Cond: Wait with a predicate, under a std::unique_lock<goro::mutex>.
    goro::condition_variable cond;
    bool ready = false;
    wg.add(1);
    goro::go([&] {
      std::unique_lock<goro::mutex> lk(mu);
      cond.wait(lk, [&] { return ready; });  // for !ready { cond.Wait() }
      wg.done();
    });
    {
      std::lock_guard<goro::mutex> lk(mu);
      ready = true;
    }
    cond.notify_all();  // cond.Broadcast()
    wg.wait();

    // semaphore.NewWeighted(3) with weight 1: at most 3 holders at once.
    goro::semaphore sem(3);
    std::atomic<int> inside{0}, most{0};
    for (int i = 0; i < 10; ++i) {
      wg.add(1);
      goro::go([&] {
        sem.acquire();
        int now = ++inside;
        for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
        }
        goro::yield();
        --inside;
        sem.release();
        wg.done();
      });
    }
    wg.wait();

    return counter == 50'000 && seen == 1 && table.size() == 2 && most.load() <= 3 ? 0 : 1;
  });
}
