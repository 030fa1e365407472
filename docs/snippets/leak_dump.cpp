// A goroutine leak: a coroutine parked forever on a channel nobody will use. goro's goroutine
// dump lists every live coroutine with what it waits for (Go's format); kill -QUIT prints it
// too, as Go does. Name coroutines so the dump says which one leaked.
#include <goro/goro.hpp>

#include <chrono>
#include <optional>
#include <string>

int destroyed = 0;
struct on_stack {
  ~on_stack() { ++destroyed; }
};

// The classic leak: the caller gives up after a timeout, and the worker's send blocks forever
// because nobody will ever receive from the unbuffered channel.
std::optional<int> query_with_timeout() {
  goro::chan<int> result;  // the fix: goro::chan<int> result(1), so the send never blocks
  goro::go(goro::spawn_options{.name = "slow-query"}, [result]() mutable {
    on_stack guard;
    goro::sleep_for(std::chrono::milliseconds(5));
    result.send(42);  // nobody receives any more: parks forever
  });
  std::optional<int> v;
  goro::select(goro::on_recv(result, [&](std::optional<int> r) { v = r; }),
               goro::on_recv(goro::after(std::chrono::milliseconds(1))));
  return v;
}

int main() {
  bool in_dump = false;
  int code = goro::run([&] {
    const bool timed_out = !query_with_timeout().has_value();
    goro::sleep_for(std::chrono::milliseconds(20));  // the worker reaches its send and parks
    // One line per live coroutine, e.g.  goroutine 2 [chan send] "slow-query"
    const std::string dump = goro::goroutine_dump();
    in_dump = dump.find("[chan send] \"slow-query\"") != std::string::npos &&
              dump.find("goroutine 1 [runnable] \"main\"") != std::string::npos;
    return timed_out ? 0 : 1;
  });
  // A coroutine still parked when main returns is abandoned, as in Go: its stack is freed and
  // the objects on it are never destroyed.
  return code == 0 && in_dump && destroyed == 0 ? 0 : 1;
}
