// net_internal.hpp: what the net sources share (net.cpp: TCP; net_udp.cpp: UDP; net_unix.cpp:
// Unix-domain sockets and the network-named listen/dial; net_sockopt.cpp: listen_config and
// socket options; net_lookup.cpp: the resolver). Private to runtime/src.
//
// A netfd is Go's netFD: the descriptor, one goro::mutex per direction (a second reader waits
// for the first), and, under `mu`, the closed flag, the requests in progress (one per direction:
// [0] read/accept, [1] write/connect) and how many operations are using the descriptor. The
// descriptor is closed by whoever leaves it unused after close(): close() itself when nothing is
// in progress, else the last operation to finish. So a descriptor number is never reused while
// an operation could still pass it to the kernel.
//
// Lock order: the direction mutex (rmu/wmu), then mu, then an op's deadline lock (set_deadline),
// then the timer heap's. mu is a spin lock held only for a few stores; io_op::cancel() and
// io_op::set_deadline() are called under it (neither parks).
#pragma once

#include <goro/runtime/context.hpp>
#include <goro/runtime/error.hpp>
#include <goro/runtime/net.hpp>
#include <goro/runtime/sync.hpp>
#include <goro/sched/io.hpp>
#include <goro/sched/spin_lock.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace goro::net::detail {

// Cancellation reasons (sched::io_op::cancel) beside sched::io_timeout.
inline constexpr int reason_ctx = 16;
inline constexpr int reason_closed = 17;

inline std::error_code sys(int e) noexcept {
  return {e, std::system_category()};
}

inline std::int64_t to_ns(time_point t) noexcept {
  if (t == time_point{}) return INT64_MAX;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// "127.0.0.1:40512", "[::1]:8080" (a v4-mapped v6 address prints as IPv4, as Go's), a Unix
// socket's path, "@name" for an abstract one, "" for an unnamed one; "?" otherwise.
std::string format(const sockaddr* sa, socklen_t len);
std::string sock_name(int fd, bool peer);

[[noreturn]] void throw_error(std::error_code ec, const std::string& what);

// The operations park: outside a coroutine they fail with operation_not_permitted (the throwing
// overloads turn that into std::logic_error).
bool outside(std::error_code& ec) noexcept;

struct resolved {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

// Splits "host:port" (host may be "[v6]" or empty). Returns false if malformed.
bool split(std::string_view a, std::string& host, std::uint16_t& port);

// for_listen: an empty host means every interface (IPv6 any, accepting IPv4 too); for dial, the
// local machine. Names are resolved with getaddrinfo on the blocking pool.
std::error_code resolve(std::string_view address, bool for_listen, resolved& out);

struct netfd {
  explicit netfd(int d, const char* network = "tcp") : fd(d), net(network) {}

  int fd;
  const char* net;       // "tcp", "udp", "unix": for messages
  goro::mutex rmu, wmu;  // one operation per direction at a time
  sched::spin_lock mu{sched::lock_rank::netfd};
  bool closed GORO_GUARDED_BY(mu) = false;
  int users GORO_GUARDED_BY(mu) = 0;  // operations using fd now
  sched::io_op* ops[2] GORO_GUARDED_BY(mu) = {nullptr, nullptr};
  std::atomic<std::int64_t> deadline[2] = {INT64_MAX, INT64_MAX};
  std::string laddr, raddr;  // set once, before the netfd is shared
  // A Unix listener's socket file, removed by close() (Go's UnixListener.Close); empty: none.
  std::string unlink_path;

  // Takes a use of the descriptor; false (and ec = closed) after close().
  bool acquire(std::error_code& ec) {
    sched::spin_guard g(mu);
    if (closed) {
      ec = goro::errc::closed;
      return false;
    }
    ++users;
    return true;
  }
  void release() {
    bool last;
    {
      sched::spin_guard g(mu);
      last = --users == 0 && closed;
    }
    if (last) ::close(fd);
  }
  void close() noexcept {
    bool now;
    {
      sched::spin_guard g(mu);
      if (closed) return;
      closed = true;
      for (sched::io_op* op : ops)
        if (op) op->cancel(reason_closed);
      now = users == 0;
    }
    // First close only (the flag above): the path is removed before the descriptor goes, so a
    // new listener on the same path cannot be unlinked by this one.
    if (!unlink_path.empty()) ::unlink(unlink_path.c_str());
    if (now) ::close(fd);
  }
  bool is_closed() noexcept {
    sched::spin_guard g(mu);
    return closed;
  }

  std::string describe(const char* op) const {
    return std::string(op) + " " + net + " " + laddr + (raddr.empty() ? "" : "->" + raddr);
  }

  // One request in direction d, with the descriptor acquired by the caller. Returns the result
  // (>= 0), or -1 with ec set.
  long run(int d, const sched::io_args& a, const context* ctx, std::error_code& ec);
};

// Stores the direction's deadline and applies it to an operation in progress (Go: a deadline
// set while a read waits applies to that read; one in the past ends it now).
void apply_deadline(netfd* f, int d, time_point t) noexcept;

// The deadline or context has ended the operation before it starts (each retry loop checks).
inline bool expired(netfd* f, int d, const context* ctx, std::error_code& ec) noexcept {
  if (ctx && ctx->is_done()) {
    ec = ctx->err();
    return true;
  }
  const std::int64_t dl = f->deadline[d].load(std::memory_order_acquire);
  if (dl != INT64_MAX && dl <= sched::now_ns()) {
    ec = goro::errc::io_timeout;
    return true;
  }
  return false;
}

// Unix-domain stream sockets (net_unix.cpp). path: a file path or "@name" (abstract).
listener listen_unix(const listen_config& lc, std::string_view path, std::error_code& ec);
conn dial_unix(const context* ctx, std::string_view path, std::error_code& ec);

}  // namespace goro::net::detail
