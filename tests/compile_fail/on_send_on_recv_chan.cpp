// A send case on a receive-only view (Go: "invalid operation: cannot send to receive-only
// channel") is rejected by goro::on_send's static_assert.
// expect-error: goro::on_send: a send case needs a goro::chan<T> or a goro::send_chan<T>
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c(1);
  goro::recv_chan<int> only_in = c;
#ifdef GORO_COMPILE_FAIL
  goro::select(goro::on_send(only_in, 1));
#else
  goro::select(goro::on_send(c, 1));
  goro::select(goro::on_recv(only_in));
#endif
}
