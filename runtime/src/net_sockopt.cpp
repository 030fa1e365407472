// net_sockopt.cpp: listen_config (Go's net.ListenConfig) and the socket options on conn.
//
// Options are plain setsockopt calls on the descriptor, made while holding a use of it
// (netfd::acquire), so they never reach a descriptor number that close() has given back.
// listen_config sets its options on the listening socket before bind (SO_REUSEPORT must precede
// bind); Linux copies SO_KEEPALIVE, TCP_KEEPIDLE/TCP_KEEPINTVL and the buffer sizes into every
// connection the listener accepts, so accept costs no extra system calls for them.
#include "net_internal.hpp"

#include <goro/runtime/net.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <string>

namespace goro::net {

using namespace detail;

namespace {

int set_int(int fd, int level, int opt, int v) noexcept {
  return ::setsockopt(fd, level, opt, &v, sizeof v) == 0 ? 0 : errno;
}

// Keep-alive on (period > 0) or off. Returns 0 or an errno.
int keep_alive(int fd, std::chrono::seconds period) noexcept {
  if (period.count() <= 0) return set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 0);
  const int s = period.count() > INT_MAX / 2 ? INT_MAX / 2 : static_cast<int>(period.count());
  if (int e = set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1)) return e;
  if (int e = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, s)) return e;
  return set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, s);
}

// Options for a socket about to bind. Returns 0 or an errno.
int apply_listen_options(int fd, const listen_config& lc, bool tcp) noexcept {
  if (tcp) {
    if (int e = set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)) return e;
    if (lc.reuse_port)
      if (int e = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1)) return e;
    if (int e = keep_alive(fd, lc.keep_alive)) return e;
  }
  if (lc.read_buffer > 0)
    if (int e = set_int(fd, SOL_SOCKET, SO_RCVBUF, lc.read_buffer)) return e;
  if (lc.write_buffer > 0)
    if (int e = set_int(fd, SOL_SOCKET, SO_SNDBUF, lc.write_buffer)) return e;
  return 0;
}

listener listen_tcp(const listen_config& lc, std::string_view network, std::string_view address,
                    std::error_code& ec) {
  const int want = network == "tcp4" ? AF_INET : network == "tcp6" ? AF_INET6 : AF_UNSPEC;
  std::string addr(address);
  std::string host;
  std::uint16_t port = 0;
  if (want != AF_UNSPEC && split(address, host, port) && host.empty())
    addr = (want == AF_INET ? "0.0.0.0:" : "[::]:") + std::to_string(port);
  resolved r;
  ec = resolve(addr, true, r);
  if (ec) return listener();
  if (want != AF_UNSPEC && r.ss.ss_family != want) {
    ec = std::make_error_code(std::errc::address_family_not_supported);
    return listener();
  }
  const int fd = ::socket(r.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = sys(errno);
    return listener();
  }
  int e = apply_listen_options(fd, lc, true);
  // "tcp" on the IPv6 any address takes IPv4 too; "tcp6" only IPv6 (as Go).
  if (e == 0 && r.ss.ss_family == AF_INET6)
    e = set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, want == AF_INET6 ? 1 : 0);
  if (e == 0 &&
      (::bind(fd, reinterpret_cast<sockaddr*>(&r.ss), r.len) != 0 || ::listen(fd, lc.backlog) != 0))
    e = errno;
  if (e != 0) {
    ec = sys(e);
    ::close(fd);
    return listener();
  }
  netfd_ptr f(new netfd(fd, "tcp"));
  f->laddr = sock_name(fd, false);
  return listener(std::move(f));
}

}  // namespace

listener listen_config::listen(std::string_view network, std::string_view address,
                               std::error_code& ec) const noexcept {
  ec.clear();
  try {
    if (network == "tcp" || network == "tcp4" || network == "tcp6")
      return listen_tcp(*this, network, address, ec);
    if (network == "unix") return listen_unix(*this, address, ec);
    ec = std::make_error_code(std::errc::invalid_argument);  // unknown network
  } catch (...) {  // std::bad_alloc; a name lookup's failure
    ec = std::make_error_code(std::errc::host_unreachable);
  }
  return listener();
}

listener listen_config::listen(std::string_view network, std::string_view address) const {
  std::error_code ec;
  listener l = listen(network, address, ec);
  if (ec) {
    std::string what = "listen " + std::string(network) + " " + std::string(address);
    if (network == "udp" || network == "udp4" || network == "udp6")
      what += " (UDP: goro::net::listen_udp)";
    else if (ec == std::errc::invalid_argument && network != "tcp" && network != "tcp4" &&
             network != "tcp6" && network != "unix")
      what += " (unknown network; tcp, tcp4, tcp6 or unix)";
    throw_error(ec, what);
  }
  return l;
}

// ---- conn options ----

namespace {
// Runs fn(fd) -> errno (0: done) on the open descriptor.
template <class F>
void with_fd(netfd* f, std::error_code& ec, F&& fn) noexcept {
  ec.clear();
  if (!f || !f->acquire(ec)) {
    ec = goro::errc::closed;
    return;
  }
  const int e = fn(f->fd);
  f->release();
  if (e == EOPNOTSUPP || e == ENOPROTOOPT)
    ec = std::make_error_code(std::errc::operation_not_supported);
  else if (e != 0)
    ec = sys(e);
}

bool is_unix(netfd* f) noexcept {
  return f && f->net[0] == 'u';
}

void check(netfd* f, const char* what, std::error_code ec) {
  if (ec) throw_error(ec, f ? f->describe(what) : std::string(what) + " on a closed connection");
}
}  // namespace

void conn::set_no_delay(bool on, std::error_code& ec) noexcept {
  const bool unix_sock = is_unix(f_.get());
  with_fd(f_.get(), ec, [&](int fd) {
    return unix_sock ? EOPNOTSUPP : set_int(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
  });
}
void conn::set_keep_alive(bool on, std::error_code& ec) noexcept {
  const bool unix_sock = is_unix(f_.get());
  with_fd(f_.get(), ec, [&](int fd) {
    return unix_sock ? EOPNOTSUPP : set_int(fd, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
  });
}
void conn::set_keep_alive_period(std::chrono::seconds period, std::error_code& ec) noexcept {
  const bool unix_sock = is_unix(f_.get());
  if (period.count() <= 0) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  with_fd(f_.get(), ec, [&](int fd) {
    if (unix_sock) return EOPNOTSUPP;
    const int s = period.count() > INT_MAX / 2 ? INT_MAX / 2 : static_cast<int>(period.count());
    if (int e = set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, s)) return e;
    return set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, s);
  });
}
void conn::set_read_buffer(int bytes, std::error_code& ec) noexcept {
  if (bytes <= 0) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  with_fd(f_.get(), ec, [&](int fd) { return set_int(fd, SOL_SOCKET, SO_RCVBUF, bytes); });
}
void conn::set_write_buffer(int bytes, std::error_code& ec) noexcept {
  if (bytes <= 0) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return;
  }
  with_fd(f_.get(), ec, [&](int fd) { return set_int(fd, SOL_SOCKET, SO_SNDBUF, bytes); });
}

void conn::set_no_delay(bool on) {
  std::error_code ec;
  set_no_delay(on, ec);
  check(f_.get(), "set_no_delay", ec);
}
void conn::set_keep_alive(bool on) {
  std::error_code ec;
  set_keep_alive(on, ec);
  check(f_.get(), "set_keep_alive", ec);
}
void conn::set_keep_alive_period(std::chrono::seconds period) {
  std::error_code ec;
  set_keep_alive_period(period, ec);
  check(f_.get(), "set_keep_alive_period", ec);
}
void conn::set_read_buffer(int bytes) {
  std::error_code ec;
  set_read_buffer(bytes, ec);
  check(f_.get(), "set_read_buffer", ec);
}
void conn::set_write_buffer(int bytes) {
  std::error_code ec;
  set_write_buffer(bytes, ec);
  check(f_.get(), "set_write_buffer", ec);
}

}  // namespace goro::net
