// goro/runtime/net.hpp: TCP for coroutines, Go's net package in C++ clothes.
//
//   auto ln = goro::net::listen("127.0.0.1:0");          // or "[::1]:8080", ":8080"
//   goro::go([&] { for (;;) { auto c = ln.accept(); goro::go(serve, std::move(c)); } });
//   auto c = goro::net::dial(ln.addr());
//   c.write_all("ping", 4);
//   char buf[4];
//   c.read_full(buf, 4);
//
// Every call parks only the calling coroutine: requests go through its worker's io_uring
// (goro/sched/io.hpp). Errors are values: each operation throws std::system_error (with the
// operation and the addresses in what()), or sets the std::error_code passed as its last
// argument and returns. Compare with std::errc (connection_refused, connection_reset, broken_pipe,
// too_many_files_open, ...) or goro::errc (closed, io_timeout, eof, unexpected_eof, canceled,
// deadline_exceeded).
//
// Deadlines and cancellation, as in Go:
//   - set_read_deadline / set_write_deadline / set_deadline: an absolute time after which a
//     pending or future operation in that direction fails with goro::errc::io_timeout; the
//     connection stays usable (extend the deadline and read again). time_point{} clears it.
//   - every operation has an overload taking a goro::context first: if the context is done
//     before the operation completes, it fails with ctx.err() (canceled or deadline_exceeded).
//   - close() from another coroutine or thread makes the operations in progress fail with
//     goro::errc::closed; the descriptor is closed once they have returned.
// A connection is used from one coroutine per direction at a time (one reader and one writer may
// run concurrently; two readers are serialized). It must outlive the operations in progress on
// it. Calls from outside a coroutine throw std::logic_error.
#pragma once

#include <goro/runtime/context.hpp>
#include <goro/runtime/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace goro::net {

namespace detail {
struct netfd;
struct netfd_deleter {
  void operator()(netfd* f) const noexcept;
};
using netfd_ptr = std::unique_ptr<netfd, netfd_deleter>;
}  // namespace detail

using time_point = std::chrono::steady_clock::time_point;

enum class shutdown_how { read, write, both };

class conn {
 public:
  conn() noexcept = default;  // not connected: every operation fails with goro::errc::closed
  conn(conn&&) noexcept = default;
  conn& operator=(conn&&) noexcept = default;
  ~conn() = default;  // closes

  // Reads what has arrived, at most n bytes, waiting for at least one. Returns 0 at end of
  // stream (the peer shut down its side) or for n == 0.
  std::size_t read(void* buf, std::size_t n);
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t read(const context& ctx, void* buf, std::size_t n);
  std::size_t read(const context& ctx, void* buf, std::size_t n, std::error_code& ec) noexcept;

  // Reads exactly n bytes. At end of stream: goro::errc::eof if none had arrived,
  // goro::errc::unexpected_eof if some had. Returns how many arrived (n unless an error).
  std::size_t read_full(void* buf, std::size_t n);
  std::size_t read_full(void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t read_full(const context& ctx, void* buf, std::size_t n);
  std::size_t read_full(const context& ctx, void* buf, std::size_t n, std::error_code& ec) noexcept;

  // Writes all n bytes (Go's Write), or fails; returns how many were written.
  std::size_t write_all(const void* buf, std::size_t n);
  std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write_all(const context& ctx, const void* buf, std::size_t n);
  std::size_t write_all(const context& ctx, const void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write_all(std::string_view s) { return write_all(s.data(), s.size()); }
  std::size_t write_all(std::string_view s, std::error_code& ec) noexcept {
    return write_all(s.data(), s.size(), ec);
  }
  std::size_t write(const void* buf, std::size_t n) { return write_all(buf, n); }
  std::size_t write(std::string_view s) { return write_all(s.data(), s.size()); }

  void set_deadline(time_point t) noexcept;
  void set_read_deadline(time_point t) noexcept;
  void set_write_deadline(time_point t) noexcept;

  // shutdown(write) is Go's CloseWrite: the peer reads end of stream, this side can still read.
  void shutdown(shutdown_how how = shutdown_how::write);
  void shutdown(shutdown_how how, std::error_code& ec) noexcept;
  void close() noexcept;  // idempotent; safe while other coroutines are in operations on it
  bool is_open() const noexcept;

  std::string local_addr() const;  // "127.0.0.1:40512", "[::1]:8080"; Unix: the path, "" unnamed
  std::string remote_addr() const;
  int native_handle() const noexcept;  // -1 if not connected

  // Socket options (Go's TCPConn.SetNoDelay, SetKeepAlive, SetKeepAlivePeriod, SetReadBuffer,
  // SetWriteBuffer; net_sockopt.cpp). TCP connections start with no_delay on, as in Go; buffer
  // sizes go to SO_RCVBUF/SO_SNDBUF (the kernel doubles them and caps them at net.core.*mem_max).
  // The TCP-only ones fail with std::errc::operation_not_supported on a Unix socket.
  void set_no_delay(bool on);
  void set_no_delay(bool on, std::error_code& ec) noexcept;
  void set_keep_alive(bool on);
  void set_keep_alive(bool on, std::error_code& ec) noexcept;
  // Idle time before the first probe and between probes (TCP_KEEPIDLE and TCP_KEEPINTVL, as Go).
  void set_keep_alive_period(std::chrono::seconds period);
  void set_keep_alive_period(std::chrono::seconds period, std::error_code& ec) noexcept;
  void set_read_buffer(int bytes);
  void set_read_buffer(int bytes, std::error_code& ec) noexcept;
  void set_write_buffer(int bytes);
  void set_write_buffer(int bytes, std::error_code& ec) noexcept;

  explicit conn(detail::netfd_ptr f) noexcept : f_(std::move(f)) {}

 private:
  detail::netfd_ptr f_;
};

class listener {
 public:
  listener() noexcept = default;
  listener(listener&&) noexcept = default;
  listener& operator=(listener&&) noexcept = default;
  ~listener() = default;  // closes

  // Waits for the next connection. Failing to accept one (goro::errc::closed after close(),
  // std::errc::too_many_files_open when the process is out of descriptors) leaves the listener
  // usable: the caller decides whether to wait and retry.
  conn accept();
  conn accept(std::error_code& ec) noexcept;
  conn accept(const context& ctx);
  conn accept(const context& ctx, std::error_code& ec) noexcept;

  std::string addr() const;  // the bound address, with the port the kernel chose for ":0"
  std::uint16_t port() const;  // 0 for a Unix listener
  // A pending accept fails with goro::errc::closed. A Unix listener removes its socket file (not
  // an abstract "@name"), as Go's does.
  void close() noexcept;
  bool is_open() const noexcept;
  int native_handle() const noexcept;

  explicit listener(detail::netfd_ptr f) noexcept : f_(std::move(f)) {}

 private:
  detail::netfd_ptr f_;
};

// "host:port": host is an IPv4 or IPv6 literal ("[::1]"), "localhost", or empty (every
// interface, IPv4 and IPv6). Names other than localhost are resolved with getaddrinfo on the
// goro::blocking pool. backlog: the kernel's accept queue length.
listener listen(std::string_view address, int backlog = 4096);
listener listen(std::string_view address, std::error_code& ec, int backlog = 4096) noexcept;

conn dial(std::string_view address);
conn dial(std::string_view address, std::error_code& ec) noexcept;
conn dial(const context& ctx, std::string_view address);
conn dial(const context& ctx, std::string_view address, std::error_code& ec) noexcept;

// Go's net.Listen(network, address) and net.Dial(network, address) (net_unix.cpp): network is
// "tcp", "tcp4", "tcp6" (address as above; tcp4/tcp6 take only that family: an empty host binds
// 0.0.0.0 or [::]) or "unix": address is a socket file path, or "@name" for Linux's abstract
// namespace (no file). A Unix listener's file must not exist yet (std::errc::address_in_use, as
// Go) and is removed by close(). Another network fails with std::errc::invalid_argument ("udp":
// listen_udp/dial_udp in net_udp.hpp).
listener listen(std::string_view network, std::string_view address);
listener listen(std::string_view network, std::string_view address, std::error_code& ec) noexcept;
conn dial(std::string_view network, std::string_view address);
conn dial(std::string_view network, std::string_view address, std::error_code& ec) noexcept;
conn dial(const context& ctx, std::string_view network, std::string_view address);
conn dial(const context& ctx, std::string_view network, std::string_view address,
          std::error_code& ec) noexcept;

// Go's net.ListenConfig (net_sockopt.cpp): options set on the listening socket before it binds;
// connections it accepts inherit the keep-alive and buffer settings (Linux copies them from the
// listener). listen(address) is listen_config{}.listen("tcp", address).
struct listen_config {
  int backlog = 4096;
  // SO_REUSEPORT: several listeners (each with it set) bind the same address and the kernel
  // spreads incoming connections among them.
  bool reuse_port = false;
  // Keep-alive probes on accepted TCP connections after this idle time, and this often after
  // (Go's ListenConfig.KeepAlive, whose default is also 15 s). Zero or negative: off (Go: negative).
  std::chrono::seconds keep_alive{15};
  int read_buffer = 0;   // SO_RCVBUF; 0: the system's default
  int write_buffer = 0;  // SO_SNDBUF; 0: the system's default

  listener listen(std::string_view network, std::string_view address) const;
  listener listen(std::string_view network, std::string_view address,
                  std::error_code& ec) const noexcept;
};

}  // namespace goro::net
