// A coroutine usually outlives the statement that started it. A lambda capturing locals by
// reference is then a dangling reference: Go's escape analysis would have moved the variable to
// the heap; C++ leaves it on a stack that is gone.
//
//   void start_bad(goro::chan<int> out) {
//     int limit = 3;
//     goro::go([&] { for (int i = 0; i < limit; ++i) out.send(i); });  // limit, out: dangling
//   }
//
// Capture by value; share state with shared_ptr; capture by reference only what provably
// outlives the coroutine (joined with wait_group / get() before the scope ends).
#include <goro/goro.hpp>

#include <memory>
#include <vector>

void start(goro::chan<int> out) {
  int limit = 3;
  goro::go([limit, out]() mutable {  // copies: safe after start() returns
    for (int i = 0; i < limit; ++i) out.send(i);
    out.close();
  });
}

// A member function's coroutine keeps its object alive with shared_from_this, not [this].
class counter : public std::enable_shared_from_this<counter> {
 public:
  void start_adding(int n, goro::chan<int> done) {
    goro::go([self = shared_from_this(), n, done]() mutable {
      for (int i = 0; i < n; ++i) self->value_ += 1;
      done.send(self->value_);
    });
  }

 private:
  int value_ = 0;
};

int main() {
  return goro::run([] {
    goro::chan<int> out(3);
    start(out);
    std::vector<int> got;
    for (int v : out) got.push_back(v);

    goro::chan<int> done(1);
    std::weak_ptr<counter> watch;
    {
      auto c = std::make_shared<counter>();
      watch = c;
      c->start_adding(5, done);
    }  // the caller's reference is gone; the coroutine's keeps the object alive
    const bool kept_alive = *done.recv() == 5;
    while (!watch.expired()) goro::yield();  // and frees it when the coroutine ends

    // [&] is fine when the scope waits for the coroutines before it ends.
    int total = 0;
    goro::mutex mu;
    goro::wait_group wg;
    for (int i = 1; i <= 4; ++i) {
      wg.add(1);
      goro::go([&, i] {
        std::lock_guard<goro::mutex> lock(mu);
        total += i;
        wg.done();
      });
    }
    wg.wait();  // without this, total, mu and wg could die before the coroutines run
    return got == std::vector<int>{0, 1, 2} && kept_alive && total == 10 ? 0 : 1;
  });
}
