// net_udp.cpp: UDP sockets (goro/runtime/net_udp.hpp) on the netfd of net_internal.hpp.
//
// Reading: the direction mutex rmu is held for the whole read, so one reader at a time. It tries
// recvfrom(MSG_DONTWAIT); when nothing is queued it parks in netfd::run on a 1-byte
// recv(MSG_PEEK) on the ring, which completes once a datagram is queued without consuming it, and
// tries again. The retry is bounded by arrivals: the peek completing means a datagram is there,
// and only a reader holding rmu takes datagrams (a user of native_handle() could race, then the
// loop simply waits again). close(), a deadline and a context end the peek through netfd::run's
// cancellation, so they wake a parked reader.
//
// Writing (wmu held): sendto(MSG_DONTWAIT). EAGAIN (the socket's send buffer is full: rare, Linux
// drops datagrams at the receiver instead) waits on the ring for a connected socket (a ring send
// of the datagram itself), and for an unconnected one retries after a sleep doubling from 50 us
// to 2 ms, checking close, deadline and context each round (the ring's send carries no address).
#include "net_internal.hpp"

#include <goro/runtime/net_udp.hpp>
#include <goro/runtime/time.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>

namespace goro::net {

using namespace detail;

// ---- ip_address ----

bool ip_address::try_parse(std::string_view text, ip_address& out) noexcept {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ip_address a;
  if (::inet_pton(AF_INET, buf, a.bytes_.data()) == 1) {
    a.family_ = 4;
  } else if (::inet_pton(AF_INET6, buf, a.bytes_.data()) == 1) {
    a.family_ = 6;
  } else {
    return false;
  }
  out = a;
  return true;
}

ip_address ip_address::parse(std::string_view text) {
  ip_address a;
  if (!try_parse(text, a))
    throw std::invalid_argument("goro::net: \"" + std::string(text) + "\" is not an IP address");
  return a;
}

ip_address ip_address::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept {
  ip_address r;
  r.family_ = 4;
  r.bytes_[0] = a;
  r.bytes_[1] = b;
  r.bytes_[2] = c;
  r.bytes_[3] = d;
  return r;
}

bool ip_address::is_loopback() const noexcept {
  if (is_v4()) return bytes_[0] == 127;
  if (!is_v6()) return false;
  for (int i = 0; i < 15; ++i)
    if (bytes_[static_cast<std::size_t>(i)] != 0) return false;
  return bytes_[15] == 1;
}

bool ip_address::is_unspecified() const noexcept {
  if (!is_valid()) return false;
  return std::all_of(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(size()),
                     [](std::uint8_t b) { return b == 0; });
}

std::string ip_address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = "";
  if (is_v4()) ::inet_ntop(AF_INET, bytes_.data(), buf, sizeof buf);
  if (is_v6()) ::inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

// ---- udp_addr <-> sockaddr ----

namespace {

// family: the socket's (AF_INET6 sockets take IPv4 destinations v4-mapped), 0: the address's own.
socklen_t to_sockaddr(const udp_addr& a, int family, sockaddr_storage& ss) noexcept {
  std::memset(&ss, 0, sizeof ss);
  if (a.ip.is_v4() && family != AF_INET6) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(a.port);
    std::memcpy(&in->sin_addr, a.ip.bytes(), 4);
    return sizeof(sockaddr_in);
  }
  if (!a.ip.is_valid()) return 0;
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(a.port);
  in6->sin6_scope_id = a.scope_id;
  if (a.ip.is_v4()) {  // v4-mapped ::ffff:a.b.c.d
    in6->sin6_addr.s6_addr[10] = 0xff;
    in6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&in6->sin6_addr.s6_addr[12], a.ip.bytes(), 4);
  } else {
    std::memcpy(&in6->sin6_addr, a.ip.bytes(), 16);
  }
  return sizeof(sockaddr_in6);
}

udp_addr from_sockaddr(const sockaddr_storage& ss) {
  udp_addr a;
  char text[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    a.port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
      ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
    else
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    a.port = ntohs(in6->sin6_port);
    a.scope_id = in6->sin6_scope_id;
  }
  ip_address::try_parse(text, a.ip);
  return a;
}

udp_addr sock_udp_addr(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  const int r = peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len);
  return r == 0 ? from_sockaddr(ss) : udp_addr{};
}

int socket_family(netfd* f) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(f->fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  return ss.ss_family;
}

}  // namespace

std::string udp_addr::to_string() const {
  if (!ip.is_valid()) return ":" + std::to_string(port);
  if (ip.is_v4()) return ip.to_string() + ":" + std::to_string(port);
  return "[" + ip.to_string() + "]:" + std::to_string(port);
}

udp_addr udp_addr::resolve(std::string_view address, std::error_code& ec) noexcept {
  ec.clear();
  resolved r;
  try {
    ec = detail::resolve(address, false, r);
  } catch (...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  if (ec) return {};
  return from_sockaddr(r.ss);
}

udp_addr udp_addr::resolve(std::string_view address) {
  std::error_code ec;
  udp_addr a = resolve(address, ec);
  if (ec) throw_error(ec, "resolve udp " + std::string(address));
  return a;
}

// ---- packet_conn ----

namespace {

datagram do_read_from(netfd* f, const context* ctx, void* buf, std::size_t n, bool want_from,
                      std::error_code& ec) {
  ec.clear();
  datagram d;
  if (!f) {
    ec = goro::errc::closed;
    return d;
  }
  if (outside(ec)) return d;
  std::lock_guard lk(f->rmu);
  if (!f->acquire(ec)) return d;
  for (;;) {
    if (expired(f, 0, ctx, ec)) break;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t k = ::recvfrom(f->fd, buf, n, MSG_DONTWAIT | MSG_TRUNC,
                                 want_from ? reinterpret_cast<sockaddr*>(&ss) : nullptr,
                                 want_from ? &len : nullptr);
    if (k >= 0) {
      d.n = std::min(n, static_cast<std::size_t>(k));
      d.truncated = static_cast<std::size_t>(k) > n;
      if (want_from) d.from = from_sockaddr(ss);
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = sys(errno);
      break;
    }
    // Nothing queued: park on the ring until a datagram is (a peek consumes nothing).
    char peek;
    sched::io_args a{
        .kind = sched::io_kind::recv, .fd = f->fd, .buf = &peek, .len = 1, .flags = MSG_PEEK};
    if (f->run(0, a, ctx, ec) < 0) {
      // A connected socket's pending ICMP error is reported by the peek: the same error Go gives.
      break;
    }
  }
  f->release();
  return d;
}

std::size_t do_write_to(netfd* f, const context* ctx, const void* buf, std::size_t n,
                        const udp_addr* to, std::error_code& ec) {
  ec.clear();
  if (!f) {
    ec = goro::errc::closed;
    return 0;
  }
  if (outside(ec)) return 0;
  std::lock_guard lk(f->wmu);
  if (!f->acquire(ec)) return 0;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (to) {
    len = to_sockaddr(*to, socket_family(f), ss);  // the descriptor is acquired: still open
    if (len == 0) {
      ec = std::make_error_code(std::errc::invalid_argument);
      f->release();
      return 0;
    }
  }
  std::size_t done = 0;
  auto backoff = std::chrono::microseconds(50);
  for (;;) {
    if (expired(f, 1, ctx, ec)) break;
    const ssize_t k = ::sendto(f->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL,
                               to ? reinterpret_cast<sockaddr*>(&ss) : nullptr, len);
    if (k >= 0) {
      done = static_cast<std::size_t>(k);
      break;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = sys(errno);
      break;
    }
    if (!to) {
      // Connected: the ring sends the datagram once there is room.
      sched::io_args a{.kind = sched::io_kind::send,
                       .fd = f->fd,
                       .buf = const_cast<void*>(buf),
                       .len = static_cast<std::uint32_t>(std::min<std::size_t>(n, 1u << 30)),
                       .flags = MSG_NOSIGNAL};
      const long r = f->run(1, a, ctx, ec);
      if (r >= 0) done = static_cast<std::size_t>(r);
      break;
    }
    if (f->is_closed()) {
      ec = goro::errc::closed;
      break;
    }
    goro::sleep_for(backoff);
    backoff = std::min<std::chrono::microseconds>(backoff * 2, std::chrono::milliseconds(2));
  }
  f->release();
  return done;
}

std::string what_of(const netfd* f, const char* op) {
  return f ? f->describe(op) : std::string(op) + " udp on a closed connection";
}

template <class R, class F>
R or_throw(const netfd* f, const char* op, F&& call) {
  std::error_code ec;
  R r = call(ec);
  if (ec) throw_error(ec, what_of(f, op));
  return r;
}

}  // namespace

datagram packet_conn::read_from(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_read_from(f_.get(), nullptr, buf, n, true, ec);
}
datagram packet_conn::read_from(const context& ctx, void* buf, std::size_t n,
                                std::error_code& ec) noexcept {
  return do_read_from(f_.get(), &ctx, buf, n, true, ec);
}
datagram packet_conn::read_from(void* buf, std::size_t n) {
  return or_throw<datagram>(f_.get(), "read",
                            [&](std::error_code& ec) { return read_from(buf, n, ec); });
}
datagram packet_conn::read_from(const context& ctx, void* buf, std::size_t n) {
  return or_throw<datagram>(f_.get(), "read",
                            [&](std::error_code& ec) { return read_from(ctx, buf, n, ec); });
}

std::size_t packet_conn::write_to(const void* buf, std::size_t n, const udp_addr& to,
                                  std::error_code& ec) noexcept {
  return do_write_to(f_.get(), nullptr, buf, n, &to, ec);
}
std::size_t packet_conn::write_to(const context& ctx, const void* buf, std::size_t n,
                                  const udp_addr& to, std::error_code& ec) noexcept {
  return do_write_to(f_.get(), &ctx, buf, n, &to, ec);
}
std::size_t packet_conn::write_to(const void* buf, std::size_t n, const udp_addr& to) {
  std::error_code ec;
  std::size_t k = write_to(buf, n, to, ec);
  if (ec) throw_error(ec, what_of(f_.get(), "write") + " to " + to.to_string());
  return k;
}
std::size_t packet_conn::write_to(const context& ctx, const void* buf, std::size_t n,
                                  const udp_addr& to) {
  std::error_code ec;
  std::size_t k = write_to(ctx, buf, n, to, ec);
  if (ec) throw_error(ec, what_of(f_.get(), "write") + " to " + to.to_string());
  return k;
}

std::size_t packet_conn::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_read_from(f_.get(), nullptr, buf, n, false, ec).n;
}
std::size_t packet_conn::read(const context& ctx, void* buf, std::size_t n,
                              std::error_code& ec) noexcept {
  return do_read_from(f_.get(), &ctx, buf, n, false, ec).n;
}
std::size_t packet_conn::read(void* buf, std::size_t n) {
  return or_throw<std::size_t>(f_.get(), "read",
                               [&](std::error_code& ec) { return read(buf, n, ec); });
}
std::size_t packet_conn::read(const context& ctx, void* buf, std::size_t n) {
  return or_throw<std::size_t>(f_.get(), "read",
                               [&](std::error_code& ec) { return read(ctx, buf, n, ec); });
}
std::size_t packet_conn::write(const void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_write_to(f_.get(), nullptr, buf, n, nullptr, ec);
}
std::size_t packet_conn::write(const context& ctx, const void* buf, std::size_t n,
                               std::error_code& ec) noexcept {
  return do_write_to(f_.get(), &ctx, buf, n, nullptr, ec);
}
std::size_t packet_conn::write(const void* buf, std::size_t n) {
  return or_throw<std::size_t>(f_.get(), "write",
                               [&](std::error_code& ec) { return write(buf, n, ec); });
}
std::size_t packet_conn::write(const context& ctx, const void* buf, std::size_t n) {
  return or_throw<std::size_t>(f_.get(), "write",
                               [&](std::error_code& ec) { return write(ctx, buf, n, ec); });
}

void packet_conn::set_deadline(time_point t) noexcept {
  set_read_deadline(t);
  set_write_deadline(t);
}
void packet_conn::set_read_deadline(time_point t) noexcept {
  apply_deadline(f_.get(), 0, t);
}
void packet_conn::set_write_deadline(time_point t) noexcept {
  apply_deadline(f_.get(), 1, t);
}

namespace {
void set_buffer(netfd* f, int opt, int bytes, const char* what) {
  std::error_code ec;
  if (!f || !f->acquire(ec)) throw_error(goro::errc::closed, std::string(what) + " udp");
  const int r = ::setsockopt(f->fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
  const int e = errno;
  f->release();
  if (r != 0) throw_error(sys(e), f->describe(what));
}
}  // namespace

void packet_conn::set_read_buffer(int bytes) {
  set_buffer(f_.get(), SO_RCVBUF, bytes, "set_read_buffer");
}
void packet_conn::set_write_buffer(int bytes) {
  set_buffer(f_.get(), SO_SNDBUF, bytes, "set_write_buffer");
}

void packet_conn::close() noexcept {
  if (f_) f_->close();
}
bool packet_conn::is_open() const noexcept {
  return f_ && !f_->is_closed();
}
std::string packet_conn::local_addr() const {
  return f_ ? f_->laddr : std::string();
}
std::string packet_conn::remote_addr() const {
  return f_ ? f_->raddr : std::string();
}
udp_addr packet_conn::local_udp_addr() const {
  return is_open() ? sock_udp_addr(f_->fd, false) : udp_addr{};
}
udp_addr packet_conn::remote_udp_addr() const {
  return is_open() ? sock_udp_addr(f_->fd, true) : udp_addr{};
}
int packet_conn::native_handle() const noexcept {
  return is_open() ? f_->fd : -1;
}

// ---- listen_udp / dial_udp ----

namespace {
packet_conn open_udp(std::string_view address, bool listen, std::error_code& ec) {
  ec.clear();
  resolved r;
  ec = detail::resolve(address, listen, r);
  if (ec) return packet_conn();
  const int fd = ::socket(r.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = sys(errno);
    return packet_conn();
  }
  if (listen) {
    int zero = 0;
    if (r.ss.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  const int rc = listen ? ::bind(fd, reinterpret_cast<sockaddr*>(&r.ss), r.len)
                        : ::connect(fd, reinterpret_cast<sockaddr*>(&r.ss), r.len);
  if (rc != 0) {
    ec = sys(errno);
    ::close(fd);
    return packet_conn();
  }
  netfd_ptr f(new netfd(fd, "udp"));
  f->laddr = sock_name(fd, false);
  if (!listen) f->raddr = sock_name(fd, true);
  return packet_conn(std::move(f));
}

packet_conn open_udp_noexcept(std::string_view address, bool listen, std::error_code& ec) noexcept {
  try {
    return open_udp(address, listen, ec);
  } catch (...) {  // std::bad_alloc
    ec = std::make_error_code(std::errc::not_enough_memory);
    return packet_conn();
  }
}
}  // namespace

packet_conn listen_udp(std::string_view address, std::error_code& ec) noexcept {
  return open_udp_noexcept(address, true, ec);
}
packet_conn listen_udp(std::string_view address) {
  std::error_code ec;
  packet_conn c = open_udp(address, true, ec);
  if (ec) throw_error(ec, "listen udp " + std::string(address));
  return c;
}
packet_conn dial_udp(std::string_view address, std::error_code& ec) noexcept {
  return open_udp_noexcept(address, false, ec);
}
packet_conn dial_udp(std::string_view address) {
  std::error_code ec;
  packet_conn c = open_udp(address, false, ec);
  if (ec) throw_error(ec, "dial udp " + std::string(address));
  return c;
}

}  // namespace goro::net
