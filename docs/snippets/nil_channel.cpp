// The nil channel: send and receive block forever, a select case on it never fires (the way to
// switch a case off), close panics (here: throws goro::channel_error).
#include <goro/goro.hpp>

#include <optional>
#include <string>

int main() {
  return goro::run([] {
    goro::chan<int> in(1), off = nullptr;  // var off chan int
    in.send(7);
    goro::chan<int> other = in;
    other = nullptr;  // `other = nil`: switch a case off

    int from_in = 0, from_off = 0;
    goro::select(goro::on_recv(off, [&](std::optional<int>) { ++from_off; }),
                 goro::on_recv(other, [&](std::optional<int>) { ++from_off; }),
                 goro::on_recv(in, [&](std::optional<int> v) { from_in = *v; }));

    bool never = !off.try_send(1) && !off.try_recv();  // never ready
    bool threw = false;
    try {
      off.close();  // Go: panic: close of nil channel
    } catch (const goro::channel_error& e) {
      threw = std::string(e.what()) == "close of nil channel";
    }
    bool is_nil = off == nullptr && !off;  // ch == nil
    return from_in == 7 && from_off == 0 && never && threw && is_nil ? 0 : 1;
  });
}
