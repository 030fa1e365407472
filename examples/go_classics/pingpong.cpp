// pingpong: two players and a ball on a table, ported line by line from pingpong.go.
//
// Porting notes: Go passes a *Ball around and the garbage collector frees it. Here the ball is
// a std::unique_ptr<Ball> moved through the channels: whoever holds the ball owns it, which is
// what the Go program means, and now the type says so (a player cannot keep using a ball it
// has sent: it is moved from). chan<T> needs T nothrow move constructible: unique_ptr is.
#include <goro/goro.hpp>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

using namespace std::chrono_literals;

struct Ball {
  int hits = 0;
  std::string last;
  std::map<std::string, int> perPlayer;
  bool twice = false;  // someone hit the ball twice in a row
};

constexpr int totalHits = 20;

static void player(std::string name, goro::chan<std::unique_ptr<Ball>> table,
                   goro::send_chan<std::unique_ptr<Ball>> done) {
  for (;;) {
    std::unique_ptr<Ball> ball = *table.recv();
    if (ball->last == name) {
      ball->twice = true;
    }
    ball->hits++;
    ball->last = name;
    ball->perPlayer[name]++;
    goro::sleep_for(1ms);
    if (ball->hits == totalHits) {
      done.send(std::move(ball));
      return;
    }
    table.send(std::move(ball));
  }
}

int main() {
  return goro::run([] {
    goro::chan<std::unique_ptr<Ball>> table;
    goro::chan<std::unique_ptr<Ball>> done;
    goro::go(player, "ping", table, done);
    goro::go(player, "pong", table, done);

    table.send(std::make_unique<Ball>());          // game on; toss the ball
    std::unique_ptr<Ball> ball = *done.recv();     // game over; grab the ball
    std::printf("the ball was hit %d times: ping %d, pong %d\n", ball->hits,
                ball->perPlayer["ping"], ball->perPlayer["pong"]);
    std::printf("the players alternated: %s\n", !ball->twice ? "true" : "false");
  });
}
