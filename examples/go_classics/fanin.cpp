// fanin: generators, fan-in, restoring sequence and a quit channel, ported line by line from
// fanin.go.
//
// Porting notes:
//   - A Go closure that sends on a captured channel is a `[=]() mutable` lambda in C++: the
//     copies a lambda captures are const unless it is mutable, and send() is not a const member.
//   - A select case that must leave the loop (`return` inside a Go case body) cannot return from
//     a handler (the handler is a lambda): use the index goro::select returns.
//   - Go evaluates the arguments of fanIn(boring("Joe", ...), boring("Ann", ...)) left to right;
//     C++ leaves the order unspecified (g++ goes right to left). The port computes them into
//     locals first, so Joe's goroutine starts first as in Go.
//   - fmt's %q is spelled out as quotes around the string (it holds no character %q escapes).
#include <goro/goro.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <optional>
#include <string>

struct Message {
  std::string str;
  goro::chan<bool> wait;
};

static goro::recv_chan<Message> boring(std::string name, goro::chan<std::string> quit) {
  goro::chan<Message> c;
  goro::go([=]() mutable {
    goro::chan<bool> wait;
    for (int i = 0;; i++) {
      c.send(Message{name + " " + std::to_string(i), wait});
      std::optional<std::string> bye;
      std::size_t fired = goro::select(
          goro::on_recv(wait),                                                  // main says: go on
          goro::on_recv(quit, [&](std::optional<std::string> v) { bye = v; }));  // main says: stop
      if (fired == 1) {
        quit.send(name + " heard \"" + *bye + "\": see you!");
        return;
      }
    }
  });
  return c;
}

static goro::recv_chan<Message> fanIn(goro::recv_chan<Message> input1, goro::recv_chan<Message> input2) {
  goro::chan<Message> c;
  goro::go([=]() mutable {
    for (;;) {
      goro::select(
          goro::on_recv(input1, [&](std::optional<Message> s) { c.send(std::move(*s)); }),
          goro::on_recv(input2, [&](std::optional<Message> s) { c.send(std::move(*s)); }));
    }
  });
  return c;
}

int main() {
  return goro::run([] {
    goro::chan<std::string> joeQuit;
    goro::chan<std::string> annQuit;
    auto joe = boring("Joe", joeQuit);
    auto ann = boring("Ann", annQuit);
    auto c = fanIn(joe, ann);
    const int rounds = 5;
    for (int round = 1; round <= rounds; round++) {
      Message msg1 = *c.recv();
      Message msg2 = *c.recv();
      std::array<std::string, 2> heard{msg1.str, msg2.str};
      std::sort(heard.begin(), heard.end());
      std::printf("round %d: %s, %s\n", round, heard[0].c_str(), heard[1].c_str());
      if (round < rounds) {  // after the last round both speakers wait for quit instead
        msg1.wait.send(true);
        msg2.wait.send(true);
      }
    }
    joeQuit.send("bye");
    std::printf("%s\n", joeQuit.recv()->c_str());
    annQuit.send("bye");
    std::printf("%s\n", annQuit.recv()->c_str());
  });
}
