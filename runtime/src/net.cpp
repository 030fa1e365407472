// net.cpp: TCP on the workers' io_uring rings (goro/runtime/net.hpp).
//
// The netfd (Go's netFD), its lock order and close protocol: net_internal.hpp. An op stays
// registered in ops[] until after its run() has returned; a close() or deadline change that
// reaches it in between finds it finished (state 5) and does nothing.
//
// Cancellation reasons (sched::io_op::cancel): io_timeout (the direction's deadline, armed by
// io_op::run), reason_ctx (the context passed to the call, via std::stop_callback on its
// stop_token), reason_closed (close()). The first reason wins and picks the error.
//
// Writes are tried directly first (send with MSG_DONTWAIT: a socket with room in its buffer takes
// the bytes without a round through the ring); only a full buffer goes to the ring, which waits
// for room. Reads go to the ring at once: a reader usually arrives before its data (a server
// reading the next request right after answering one), and the ring tries the read once before
// it waits.
#include "net_internal.hpp"

#include <goro/runtime/blocking.hpp>
#include <goro/runtime/net.hpp>
#include <goro/runtime/sync.hpp>
#include <goro/sched/io.hpp>
#include <goro/sched/spin_lock.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

namespace goro::net {

namespace detail {

std::string format(const sockaddr* sa, socklen_t len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET6 &&
      IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr)) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(in6->sin6_port));
  }
  if (sa->sa_family == AF_UNIX) {
    auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    const std::size_t off = offsetof(sockaddr_un, sun_path);
    if (len <= off) return std::string();  // unnamed
    const std::size_t n = len - off;
    if (un->sun_path[0] == '\0') return "@" + std::string(un->sun_path + 1, n - 1);  // abstract
    return std::string(un->sun_path, ::strnlen(un->sun_path, n));
  }
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    ::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
    return "[" + std::string(ip) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "?";
}

std::string sock_name(int fd, bool peer) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  auto* sa = reinterpret_cast<sockaddr*>(&ss);
  int r = peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len);
  return r == 0 ? format(sa, len) : std::string("?");
}

[[noreturn]] void throw_error(std::error_code ec, const std::string& what) {
  if (ec == std::errc::operation_not_permitted && !sched::in_coroutine())
    throw std::logic_error("goro::net: " + what + ": must be called from a coroutine (inside goro::run)");
  throw std::system_error(ec, "goro::net: " + what);
}

bool outside(std::error_code& ec) noexcept {
  if (sched::in_coroutine()) return false;
  ec = std::make_error_code(std::errc::operation_not_permitted);
  return true;
}

// ---- addresses ----

bool split(std::string_view a, std::string& host, std::uint16_t& port) {
  const auto colon = a.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = a.substr(0, colon), p = a.substr(colon + 1);
  if (!h.empty() && h.front() == '[') {
    if (h.size() < 2 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;  // a v6 literal needs brackets
  }
  if (p.empty() || p.size() > 5) return false;
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535) return false;
  host.assign(h);
  port = static_cast<std::uint16_t>(v);
  return true;
}

std::error_code resolve(std::string_view address, bool for_listen, resolved& out) {
  std::string host;
  std::uint16_t port = 0;
  if (!split(address, host, port)) return std::make_error_code(std::errc::invalid_argument);
  if (host.empty()) host = for_listen ? "::" : "127.0.0.1";
  if (host == "localhost") host = "127.0.0.1";
  auto* in = reinterpret_cast<sockaddr_in*>(&out.ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return {};
  }
  if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    return {};
  }
  // A name: getaddrinfo blocks (files, DNS), so it runs on the blocking pool.
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  addrinfo* res = nullptr;
  const int rc = goro::blocking([&] { return ::getaddrinfo(host.c_str(), nullptr, &hints, &res); });
  if (rc != 0 || !res) return std::make_error_code(std::errc::host_unreachable);
  std::memcpy(&out.ss, res->ai_addr, res->ai_addrlen);
  out.len = static_cast<socklen_t>(res->ai_addrlen);
  ::freeaddrinfo(res);
  if (out.ss.ss_family == AF_INET)
    in->sin_port = htons(port);
  else
    in6->sin6_port = htons(port);
  return {};
}

namespace {
struct ctx_canceller {
  sched::io_op* op;
  void operator()() const noexcept { op->cancel(reason_ctx); }
};
}  // namespace

long netfd::run(int d, const sched::io_args& a, const context* ctx, std::error_code& ec) {
  if (ctx && ctx->is_done()) {
    ec = ctx->err();
    return -1;
  }
  sched::io_op op(a);
  std::int64_t dl;
  {
    sched::spin_guard g(mu);
    if (closed) {
      ec = goro::errc::closed;
      return -1;
    }
    ops[d] = &op;
    // Read under mu, after registering: a set_*_deadline() either stored before this load, or
    // finds the op registered and updates it (set_deadline).
    dl = deadline[d].load(std::memory_order_acquire);
  }
  if (dl != INT64_MAX && dl <= sched::now_ns()) {
    sched::spin_guard g(mu);
    ops[d] = nullptr;
    ec = goro::errc::io_timeout;
    return -1;
  }
  int res;
  {
    // Runs ctx_canceller at once if ctx is already done; its destructor waits for a canceller
    // running on another thread, so the op is not touched after run() returns.
    std::optional<std::stop_callback<ctx_canceller>> cb;
    if (ctx) cb.emplace(ctx->stop_token(), ctx_canceller{&op});
    res = op.run(dl);
  }
  {
    sched::spin_guard g(mu);
    ops[d] = nullptr;
  }
  if (res >= 0) return res;
  if (res == -ECANCELED) {
    switch (op.reason()) {
      case sched::io_timeout: ec = goro::errc::io_timeout; return -1;
      case reason_closed: ec = goro::errc::closed; return -1;
      case reason_ctx:
        ec = ctx ? ctx->err() : std::error_code(goro::errc::canceled);
        if (!ec) ec = goro::errc::canceled;
        return -1;
      default: break;
    }
  }
  ec = sys(-res);
  return -1;
}

void netfd_deleter::operator()(netfd* f) const noexcept {
  f->close();
  // Operations in progress hold the object too: the caller guarantees none are (the connection
  // must outlive its operations), so only the descriptor's own release remains, done above.
  delete f;
}

}  // namespace detail

using namespace detail;

namespace {

// A fresh socket wrapped, with Go's defaults: no Nagle delay (TCP).
detail::netfd_ptr wrap(int fd, const char* network) {
  int one = 1;
  if (network[0] == 't') ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  detail::netfd_ptr f(new netfd(fd, network));
  f->laddr = sock_name(fd, false);
  f->raddr = sock_name(fd, true);
  return f;
}

std::size_t do_read(netfd* f, const context* ctx, void* buf, std::size_t n, std::error_code& ec) {
  ec.clear();
  if (!f) {
    ec = goro::errc::closed;
    return 0;
  }
  if (n == 0 || outside(ec)) return 0;
  std::lock_guard lk(f->rmu);
  if (!f->acquire(ec)) return 0;
  sched::io_args a{.kind = sched::io_kind::recv, .fd = f->fd, .buf = buf,
                   .len = static_cast<std::uint32_t>(std::min<std::size_t>(n, 1u << 30))};
  long r = f->run(0, a, ctx, ec);
  f->release();
  return r < 0 ? 0 : static_cast<std::size_t>(r);
}

std::size_t do_read_full(netfd* f, const context* ctx, void* buf, std::size_t n,
                         std::error_code& ec) {
  ec.clear();
  auto* p = static_cast<char*>(buf);
  std::size_t got = 0;
  while (got < n) {
    std::size_t k = do_read(f, ctx, p + got, n - got, ec);
    if (ec) return got;
    if (k == 0) {
      ec = got == 0 ? goro::errc::eof : goro::errc::unexpected_eof;
      return got;
    }
    got += k;
  }
  return got;
}

std::size_t do_write(netfd* f, const context* ctx, const void* buf, std::size_t n,
                     std::error_code& ec) {
  ec.clear();
  if (!f) {
    ec = goro::errc::closed;
    return 0;
  }
  if (outside(ec)) return 0;
  std::lock_guard lk(f->wmu);
  if (!f->acquire(ec)) return 0;
  const char* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    if (ctx && ctx->is_done()) {
      ec = ctx->err();
      break;
    }
    const std::int64_t dl = f->deadline[1].load(std::memory_order_acquire);
    if (dl != INT64_MAX && dl <= sched::now_ns()) {
      ec = goro::errc::io_timeout;
      break;
    }
    ssize_t k = ::send(f->fd, p + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (k > 0) {
      done += static_cast<std::size_t>(k);
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && errno != EAGAIN) {
      ec = sys(errno);
      break;
    }
    // The socket's buffer is full: let the ring wait for room.
    sched::io_args a{.kind = sched::io_kind::send, .fd = f->fd, .buf = const_cast<char*>(p + done),
                     .len = static_cast<std::uint32_t>(std::min<std::size_t>(n - done, 1u << 30)),
                     .flags = MSG_NOSIGNAL};
    long r = f->run(1, a, ctx, ec);
    if (r < 0) break;
    done += static_cast<std::size_t>(r);
  }
  f->release();
  return done;
}

}  // namespace

// ---- conn ----

std::size_t conn::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_read(f_.get(), nullptr, buf, n, ec);
}
std::size_t conn::read(const context& ctx, void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_read(f_.get(), &ctx, buf, n, ec);
}
std::size_t conn::read_full(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_read_full(f_.get(), nullptr, buf, n, ec);
}
std::size_t conn::read_full(const context& ctx, void* buf, std::size_t n,
                            std::error_code& ec) noexcept {
  return do_read_full(f_.get(), &ctx, buf, n, ec);
}
std::size_t conn::write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept {
  return do_write(f_.get(), nullptr, buf, n, ec);
}
std::size_t conn::write_all(const context& ctx, const void* buf, std::size_t n,
                            std::error_code& ec) noexcept {
  return do_write(f_.get(), &ctx, buf, n, ec);
}

namespace {
template <class F>
std::size_t or_throw(const netfd* f, const char* what, F&& call) {
  std::error_code ec;
  std::size_t n = call(ec);
  if (ec) throw_error(ec, f ? f->describe(what) : std::string(what) + " on a closed connection");
  return n;
}
}  // namespace

std::size_t conn::read(void* buf, std::size_t n) {
  return or_throw(f_.get(), "read", [&](std::error_code& ec) { return read(buf, n, ec); });
}
std::size_t conn::read(const context& ctx, void* buf, std::size_t n) {
  return or_throw(f_.get(), "read", [&](std::error_code& ec) { return read(ctx, buf, n, ec); });
}
std::size_t conn::read_full(void* buf, std::size_t n) {
  return or_throw(f_.get(), "read", [&](std::error_code& ec) { return read_full(buf, n, ec); });
}
std::size_t conn::read_full(const context& ctx, void* buf, std::size_t n) {
  return or_throw(f_.get(), "read",
                  [&](std::error_code& ec) { return read_full(ctx, buf, n, ec); });
}
std::size_t conn::write_all(const void* buf, std::size_t n) {
  return or_throw(f_.get(), "write", [&](std::error_code& ec) { return write_all(buf, n, ec); });
}
std::size_t conn::write_all(const context& ctx, const void* buf, std::size_t n) {
  return or_throw(f_.get(), "write",
                  [&](std::error_code& ec) { return write_all(ctx, buf, n, ec); });
}

void conn::set_deadline(time_point t) noexcept {
  set_read_deadline(t);
  set_write_deadline(t);
}
namespace detail {
void apply_deadline(netfd* f, int d, time_point t) noexcept {
  if (!f) return;
  const std::int64_t ns = to_ns(t);
  f->deadline[d].store(ns, std::memory_order_release);
  sched::spin_guard g(f->mu);
  if (f->ops[d]) f->ops[d]->set_deadline(ns);
}
}  // namespace detail

void conn::set_read_deadline(time_point t) noexcept { apply_deadline(f_.get(), 0, t); }
void conn::set_write_deadline(time_point t) noexcept { apply_deadline(f_.get(), 1, t); }

void conn::shutdown(shutdown_how how, std::error_code& ec) noexcept {
  ec.clear();
  if (!f_ || !f_->acquire(ec)) {
    ec = goro::errc::closed;
    return;
  }
  const int h = how == shutdown_how::read ? SHUT_RD : how == shutdown_how::write ? SHUT_WR : SHUT_RDWR;
  if (::shutdown(f_->fd, h) != 0) ec = sys(errno);
  f_->release();
}
void conn::shutdown(shutdown_how how) {
  std::error_code ec;
  shutdown(how, ec);
  if (ec) throw_error(ec, f_ ? f_->describe("shutdown") : std::string("shutdown"));
}

void conn::close() noexcept {
  if (f_) f_->close();
}
bool conn::is_open() const noexcept {
  if (!f_) return false;
  sched::spin_guard g(f_->mu);
  return !f_->closed;
}
std::string conn::local_addr() const { return f_ ? f_->laddr : std::string(); }
std::string conn::remote_addr() const { return f_ ? f_->raddr : std::string(); }
int conn::native_handle() const noexcept { return is_open() ? f_->fd : -1; }

// ---- listener ----

namespace {
conn do_accept(netfd* f, const context* ctx, std::error_code& ec) {
  ec.clear();
  if (!f) {
    ec = goro::errc::closed;
    return conn();
  }
  if (outside(ec)) return conn();
  std::lock_guard lk(f->rmu);
  if (!f->acquire(ec)) return conn();
  sched::io_args a{.kind = sched::io_kind::accept, .fd = f->fd, .flags = SOCK_CLOEXEC};
  long r = f->run(0, a, ctx, ec);
  f->release();
  if (r < 0) return conn();
  return conn(wrap(static_cast<int>(r), f->net));
}
}  // namespace

conn listener::accept(std::error_code& ec) noexcept { return do_accept(f_.get(), nullptr, ec); }
conn listener::accept(const context& ctx, std::error_code& ec) noexcept {
  return do_accept(f_.get(), &ctx, ec);
}
conn listener::accept() {
  std::error_code ec;
  conn c = accept(ec);
  if (ec) throw_error(ec, std::string("accept ") + (f_ ? f_->net : "tcp") + " " + addr());
  return c;
}
conn listener::accept(const context& ctx) {
  std::error_code ec;
  conn c = accept(ctx, ec);
  if (ec) throw_error(ec, std::string("accept ") + (f_ ? f_->net : "tcp") + " " + addr());
  return c;
}
std::string listener::addr() const { return f_ ? f_->laddr : std::string(); }
std::uint16_t listener::port() const {
  if (!f_ || f_->net[0] == 'u') return 0;  // a Unix listener has no port (its path may hold ':')
  const std::string a = addr();
  const auto colon = a.rfind(':');
  return colon == std::string::npos ? 0 : static_cast<std::uint16_t>(std::stoi(a.substr(colon + 1)));
}
void listener::close() noexcept {
  if (f_) f_->close();
}
bool listener::is_open() const noexcept {
  if (!f_) return false;
  sched::spin_guard g(f_->mu);
  return !f_->closed;
}
int listener::native_handle() const noexcept { return is_open() ? f_->fd : -1; }

listener listen(std::string_view address, std::error_code& ec, int backlog) noexcept {
  listen_config lc;
  lc.backlog = backlog;
  return lc.listen("tcp", address, ec);  // net_sockopt.cpp
}

listener listen(std::string_view address, int backlog) {
  std::error_code ec;
  listener l = listen(address, ec, backlog);
  if (ec) throw_error(ec, "listen tcp " + std::string(address));
  return l;
}

namespace {
conn do_dial(const context* ctx, std::string_view address, std::error_code& ec) {
  ec.clear();
  if (outside(ec)) return conn();
  resolved r;
  ec = resolve(address, false, r);
  if (ec) return conn();
  const int fd = ::socket(r.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = sys(errno);
    return conn();
  }
  detail::netfd_ptr f(new netfd(fd));
  if (!f->acquire(ec)) return conn();
  sched::io_args a{.kind = sched::io_kind::connect, .fd = fd,
                   .len = static_cast<std::uint32_t>(r.len),
                   .addr = reinterpret_cast<sockaddr*>(&r.ss)};
  long res = f->run(1, a, ctx, ec);
  f->release();
  if (res < 0) return conn();  // f closes the socket
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  f->laddr = sock_name(fd, false);
  f->raddr = sock_name(fd, true);
  return conn(std::move(f));
}
}  // namespace

conn dial(std::string_view address, std::error_code& ec) noexcept {
  try {
    return do_dial(nullptr, address, ec);
  } catch (...) {  // std::bad_alloc, or a call outside a coroutine (logic_error) from blocking()
    ec = std::make_error_code(std::errc::not_enough_memory);
    return conn();
  }
}
conn dial(const context& ctx, std::string_view address, std::error_code& ec) noexcept {
  try {
    return do_dial(&ctx, address, ec);
  } catch (...) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return conn();
  }
}
conn dial(std::string_view address) {
  std::error_code ec;
  conn c = do_dial(nullptr, address, ec);
  if (ec) throw_error(ec, "dial tcp " + std::string(address));
  return c;
}
conn dial(const context& ctx, std::string_view address) {
  std::error_code ec;
  conn c = do_dial(&ctx, address, ec);
  if (ec) throw_error(ec, "dial tcp " + std::string(address));
  return c;
}

}  // namespace goro::net
