// A receive case on a send-only view (Go: "invalid operation: cannot receive from send-only
// channel") is rejected by goro::on_recv's static_assert.
// expect-error: goro::on_recv: a receive case needs a goro::chan<T> or a goro::recv_chan<T>
#include <goro/goro.hpp>

int main() {
  goro::chan<int> c(1);
  goro::send_chan<int> only_out = c;
#ifdef GORO_COMPILE_FAIL
  goro::select(goro::on_recv(only_out));
#else
  goro::select(goro::on_send(only_out, 1));
  goro::select(goro::on_recv(c));
#endif
}
