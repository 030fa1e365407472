// make(chan T), make(chan T, n), len, cap, close, and the receive and send rules on a closed
// channel.
#include <goro/goro.hpp>

#include <optional>
#include <string>

int main() {
  return goro::run([] {
    goro::chan<int> unbuffered;   // make(chan int); goro::chan<int>(0) is the same
    goro::chan<int> buffered(2);  // make(chan int, 2)

    goro::go([unbuffered]() mutable { unbuffered.send(1); });  // parks until received
    std::optional<int> v = unbuffered.recv();                   // v, ok := <-unbuffered

    buffered.send(10);  // does not park: the buffer has room
    buffered.send(20);
    bool len_cap = buffered.size() == 2 && buffered.capacity() == 2;  // len(ch), cap(ch)
    bool full = !buffered.try_send(30);  // select { case ch <- 30: default: } with no room

    buffered.close();                              // close(ch)
    std::optional<int> a = buffered.recv();        // values sent before close still arrive
    std::optional<int> b = buffered.recv();
    std::optional<int> c = buffered.recv();        // then: empty at once (Go: 0, false)

    bool send_threw = false, close_threw = false;
    try {
      buffered.send(1);  // Go: panic: send on closed channel
    } catch (const goro::closed_channel_error& e) {
      send_threw = std::string(e.what()) == "send on closed channel";
    }
    try {
      buffered.close();  // Go: panic: close of closed channel
    } catch (const goro::closed_channel_error& e) {
      close_threw = std::string(e.what()) == "close of closed channel";
    }
    bool ok = v == 1 && len_cap && full && a == 10 && b == 20 && !c && buffered.closed() &&
              send_threw && close_threw;
    return ok ? 0 : 1;
  });
}
