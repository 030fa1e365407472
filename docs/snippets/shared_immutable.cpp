// There is no garbage collector: every object has an owner. For data that many coroutines read
// (Go: send one pointer to everybody), send std::shared_ptr<const T>: one copy, shared, freed
// when the last reader drops it, and const so nobody can write to it. To hand an object over
// (Go: send a pointer and stop using it), send std::unique_ptr<T>: the move makes it explicit.
#include <goro/goro.hpp>

#include <memory>
#include <string>
#include <vector>

struct quote {
  std::string symbol;
  double bid, ask;
};

int main() {
  return goro::run([] {
    constexpr int consumers = 4;
    std::vector<goro::chan<std::shared_ptr<const quote>>> inboxes;
    goro::chan<const quote*> seen(consumers);  // which object each consumer got
    for (int i = 0; i < consumers; ++i) {
      inboxes.emplace_back(1);
      goro::go([in = inboxes.back(), seen]() mutable {
        for (std::shared_ptr<const quote> q : in) {
          // q->bid = 0;  would not compile: the quote is const for every reader
          seen.send(q.get());
        }
      });
    }
    auto q = std::make_shared<const quote>(quote{"ACME", 10.0, 10.5});  // parsed once
    for (auto& in : inboxes) in.send(q);  // a reference count each, no copy of the quote
    bool same_object = true;
    for (int i = 0; i < consumers; ++i) same_object = same_object && *seen.recv() == q.get();
    for (auto& in : inboxes) in.close();
    std::weak_ptr<const quote> watch = q;
    q.reset();  // main's reference; the consumers' go when they are done with it

    // Ownership transfer: after the send, the sender has nothing left to touch.
    goro::chan<std::unique_ptr<std::vector<int>>> handoff(1);
    auto batch = std::make_unique<std::vector<int>>(1000, 7);
    handoff.send(std::move(batch));
    const bool moved = batch == nullptr && (*handoff.recv())->size() == 1000;

    while (!watch.expired()) goro::yield();  // the consumers drop their references and end
    return same_object && moved ? 0 : 1;
  });
}
