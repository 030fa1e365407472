// udp_echo (goro_bench udp_echo [rounds]): 16 clients x n round trips of 64-byte datagrams on
// loopback against one server socket; req/s, p50/p99. gobench's twin: bench/go/udp_echo.go.
//
// One process: a server socket on 127.0.0.1:0 whose one coroutine reads a datagram (read_from)
// and sends it back to its sender (write_to), as Go's ReadFrom/WriteTo loop; 16 client
// coroutines, each with a connected socket (dial_udp), do n round trips: write 64 bytes, read
// the echo, check it, record the latency. The clock runs from the moment every client has its
// socket (a closed channel starts them together) until the last one is done. A lost datagram
// (loopback drops only when the server's receive buffer is full, which 16 in flight never fill)
// fails the run through a 2 s read deadline instead of hanging it.
#include <goro/goro.hpp>
#include <goro/runtime/net_udp.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {
constexpr const char* prog = "goro_bench";
constexpr unsigned udp_clients = 16;
constexpr std::size_t udp_size = 64;
}  // namespace

void bench_udp_echo(std::uint64_t rounds) {
  namespace net = goro::net;
  net::packet_conn srv = net::listen_udp("127.0.0.1:0");
  const std::string addr = srv.local_addr();
  auto server = goro::spawn([&] {
    char buf[2048];
    for (;;) {
      std::error_code ec;
      auto d = srv.read_from(buf, sizeof buf, ec);
      if (ec == goro::errc::closed) return;
      if (ec) bench::die(prog, "udp_echo: server read: " + ec.message());
      srv.write_to(buf, d.n, d.from, ec);
      if (ec) bench::die(prog, "udp_echo: server write: " + ec.message());
    }
  });
  std::vector<std::int64_t> lat(udp_clients * rounds);  // ns, client i's at [i * rounds, ...)
  goro::wait_group ready;
  goro::chan<int> start;
  ready.add(udp_clients);
  std::vector<goro::join_handle<void>> clients;
  for (unsigned i = 0; i < udp_clients; ++i)
    clients.push_back(goro::spawn([&, i] {
      std::error_code ec;
      net::packet_conn c = net::dial_udp(addr, ec);
      if (ec) bench::die(prog, "udp_echo: dial " + addr + ": " + ec.message());
      ready.done();
      start.recv();  // until start is closed
      char out[udp_size], in[udp_size];
      std::memset(out, 'a' + int(i % 26), sizeof out);
      std::int64_t* my = lat.data() + i * rounds;
      for (std::uint64_t r = 0; r < rounds; ++r) {
        const std::uint64_t tag = (std::uint64_t(i) << 40) | r;  // every datagram differs
        std::memcpy(out, &tag, sizeof tag);
        const std::int64_t t0 = goro::sched::now_ns();
        c.set_read_deadline(std::chrono::steady_clock::now() + std::chrono::seconds(2));
        c.write(out, sizeof out, ec);
        if (ec) bench::die(prog, "udp_echo: client write: " + ec.message());
        const std::size_t n = c.read(in, sizeof in, ec);
        if (ec) bench::die(prog, "udp_echo: client read (a lost datagram?): " + ec.message());
        my[r] = goro::sched::now_ns() - t0;
        if (n != sizeof in || std::memcmp(in, out, sizeof in) != 0)
          bench::die(prog, "udp_echo: client " + std::to_string(i) + ", round " +
                               std::to_string(r) + ": the echo differs");
      }
    }));
  ready.wait();
  auto t0 = bench::clock::now();
  start.close();
  for (auto& h : clients) h.get();
  double ns = bench::ns_since(t0);
  srv.close();
  server.get();
  const double total = double(udp_clients) * double(rounds);
  std::sort(lat.begin(), lat.end());
  std::fprintf(stderr, "%s: udp_echo: %.0f round trips in %.1f ms, latency max %.1f us\n", prog,
               total, ns / 1e6, double(lat.back()) / 1e3);
  bench::result("udp_rps", total / (ns / 1e9), "req/s");
  bench::result("udp_p50_us", double(bench::percentile(lat, 50)) / 1e3, "us");
  bench::result("udp_p99_us", double(bench::percentile(lat, 99)) / 1e3, "us");
}
