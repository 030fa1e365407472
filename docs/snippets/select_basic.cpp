// select with receive and send cases and a default. goro::select runs one case's handler and
// returns that case's index (argument order); several ready cases: one chosen at random.
#include <goro/goro.hpp>

#include <cstddef>
#include <optional>

int main() {
  return goro::run([] {
    goro::chan<int> in(1), out(1);

    // select { case v := <-in: ...; default: ... }  (nothing to receive: the default runs)
    bool defaulted = false;
    std::size_t i = goro::select(goro::on_recv(in, [](std::optional<int>) {}),
                                 goro::on_default([&] { defaulted = true; }));
    if (!defaulted || i != 1) return 1;

    // select {
    // case v, ok := <-in: got = v
    // case out <- 5:      sent = true
    // }
    in.send(3);
    out.send(0);  // out is full: only the receive can proceed
    int got = 0;
    bool sent = false;
    i = goro::select(goro::on_recv(in, [&](std::optional<int> v) { got = v.value_or(-1); }),
                     goro::on_send(out, 5, [&] { sent = true; }));
    if (i != 0 || got != 3 || sent) return 1;

    // Cases without a handler: the index says which fired.
    out.recv();
    i = goro::select(goro::on_recv(in), goro::on_send(out, 6));
    if (i != 1 || out.recv() != 6) return 1;

    // Both ready: Go and goro pick uniformly at random. Over 1000 rounds each side wins often.
    int wins[2] = {0, 0};
    for (int round = 0; round < 1000; ++round) {
      in.send(1);
      out.try_recv();
      ++wins[goro::select(goro::on_recv(in), goro::on_send(out, 1))];
      in.try_recv();
    }
    if (wins[0] < 350 || wins[1] < 350) return 1;

    // A send case that finds its channel closed throws from select (Go: panic); a receive case
    // on a closed channel fires with an empty optional.
    goro::chan<int> closed(1);
    closed.close();
    bool threw = false;
    try {
      goro::select(goro::on_send(closed, 1));
    } catch (const goro::closed_channel_error&) {
      threw = true;
    }
    bool empty = false;
    goro::select(goro::on_recv(closed, [&](std::optional<int> v) { empty = !v; }));
    return threw && empty ? 0 : 1;
  });
}
