// net_unix.cpp: Unix-domain stream sockets, and Go's network-named listen/dial (net.hpp).
//
// A Unix listener and its connections are the TCP types (listener, conn) on an AF_UNIX
// descriptor: the same netfd, ring operations (accept, connect, recv, send), deadlines, contexts
// and close(). What differs: addresses are paths ("@name": Linux's abstract namespace, no file),
// no TCP options, and the listener removes its socket file on close() (netfd::unlink_path, set
// only once bind has created the file, so a failed listen never removes someone else's).
#include "net_internal.hpp"

#include <goro/runtime/net.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>

namespace goro::net {

using namespace detail;

namespace {

// path -> sockaddr_un. A file path is NUL-terminated when it leaves room; "@name" becomes a
// leading NUL and the name, its length given by len (abstract names are not terminated).
std::error_code unix_sockaddr(std::string_view path, sockaddr_un& sa, socklen_t& len) noexcept {
  std::memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (path.empty() || (path[0] != '@' && path.find('\0') != std::string_view::npos))
    return std::make_error_code(std::errc::invalid_argument);
  if (path.size() > sizeof sa.sun_path) return std::make_error_code(std::errc::filename_too_long);
  std::memcpy(sa.sun_path, path.data(), path.size());
  std::size_t n = path.size();
  if (path[0] == '@') {
    sa.sun_path[0] = '\0';
  } else if (n < sizeof sa.sun_path) {
    ++n;  // the terminating NUL
  }
  len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n);
  return {};
}

}  // namespace

namespace detail {

listener listen_unix(const listen_config& lc, std::string_view path, std::error_code& ec) {
  sockaddr_un sa;
  socklen_t len = 0;
  ec = unix_sockaddr(path, sa, len);
  if (ec) return listener();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = sys(errno);
    return listener();
  }
  int e = 0;
  if (lc.read_buffer > 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &lc.read_buffer, sizeof lc.read_buffer) != 0)
    e = errno;
  if (e == 0 && lc.write_buffer > 0 &&
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &lc.write_buffer, sizeof lc.write_buffer) != 0)
    e = errno;
  if (e == 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0) e = errno;
  const bool bound = e == 0;
  if (e == 0 && ::listen(fd, lc.backlog) != 0) e = errno;
  if (e != 0) {
    if (bound && path[0] != '@') ::unlink(std::string(path).c_str());  // the file bind made
    ::close(fd);
    ec = sys(e);
    return listener();
  }
  netfd_ptr f(new netfd(fd, "unix"));
  f->laddr.assign(path);
  if (path[0] != '@') f->unlink_path.assign(path);
  return listener(std::move(f));
}

conn dial_unix(const context* ctx, std::string_view path, std::error_code& ec) {
  ec.clear();
  if (outside(ec)) return conn();
  sockaddr_un sa;
  socklen_t len = 0;
  ec = unix_sockaddr(path, sa, len);
  if (ec) return conn();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = sys(errno);
    return conn();
  }
  netfd_ptr f(new netfd(fd, "unix"));
  if (!f->acquire(ec)) return conn();
  sched::io_args a{.kind = sched::io_kind::connect,
                   .fd = fd,
                   .len = static_cast<std::uint32_t>(len),
                   .addr = reinterpret_cast<sockaddr*>(&sa)};
  const long res = f->run(1, a, ctx, ec);
  f->release();
  if (res < 0) return conn();       // f closes the socket
  f->laddr = sock_name(fd, false);  // "" (unnamed), as Go's
  f->raddr.assign(path);
  return conn(std::move(f));
}

}  // namespace detail

// ---- network-named listen and dial ----

listener listen(std::string_view network, std::string_view address, std::error_code& ec) noexcept {
  return listen_config{}.listen(network, address, ec);
}
listener listen(std::string_view network, std::string_view address) {
  return listen_config{}.listen(network, address);
}

namespace {

conn dial_network(const context* ctx, std::string_view network, std::string_view address,
                  std::error_code& ec) {
  ec.clear();
  if (network == "unix") return dial_unix(ctx, address, ec);
  if (network == "tcp") return ctx ? dial(*ctx, address, ec) : dial(address, ec);
  if (network == "tcp4" || network == "tcp6") {
    if (outside(ec)) return conn();
    resolved r;
    ec = resolve(address, false, r);
    if (ec) return conn();
    if (r.ss.ss_family != (network == "tcp4" ? AF_INET : AF_INET6)) {
      ec = std::make_error_code(std::errc::address_family_not_supported);
      return conn();
    }
    const std::string literal = format(reinterpret_cast<sockaddr*>(&r.ss), r.len);
    return ctx ? dial(*ctx, literal, ec) : dial(literal, ec);
  }
  ec = std::make_error_code(std::errc::invalid_argument);  // unknown network
  return conn();
}

conn dial_network_noexcept(const context* ctx, std::string_view network, std::string_view address,
                           std::error_code& ec) noexcept {
  try {
    return dial_network(ctx, network, address, ec);
  } catch (...) {  // std::bad_alloc; a name lookup's failure
    ec = std::make_error_code(std::errc::not_enough_memory);
    return conn();
  }
}

conn dial_network_throw(const context* ctx, std::string_view network, std::string_view address) {
  std::error_code ec;
  conn c = dial_network(ctx, network, address, ec);
  if (ec) {
    std::string what = "dial " + std::string(network) + " " + std::string(address);
    if (network == "udp" || network == "udp4" || network == "udp6")
      what += " (UDP: goro::net::dial_udp)";
    else if (network != "tcp" && network != "tcp4" && network != "tcp6" && network != "unix")
      what += " (unknown network; tcp, tcp4, tcp6 or unix)";
    throw_error(ec, what);
  }
  return c;
}

}  // namespace

conn dial(std::string_view network, std::string_view address, std::error_code& ec) noexcept {
  return dial_network_noexcept(nullptr, network, address, ec);
}
conn dial(const context& ctx, std::string_view network, std::string_view address,
          std::error_code& ec) noexcept {
  return dial_network_noexcept(&ctx, network, address, ec);
}
conn dial(std::string_view network, std::string_view address) {
  return dial_network_throw(nullptr, network, address);
}
conn dial(const context& ctx, std::string_view network, std::string_view address) {
  return dial_network_throw(&ctx, network, address);
}

}  // namespace goro::net
