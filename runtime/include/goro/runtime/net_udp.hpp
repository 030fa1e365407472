// goro/runtime/net_udp.hpp: UDP for coroutines (Go's net.ListenUDP, net.DialUDP, *net.UDPConn).
//
//   auto srv = goro::net::listen_udp("127.0.0.1:0");         // or "[::1]:0", ":5353"
//   goro::go([&] {
//     char buf[1500];
//     for (;;) {
//       auto [n, from] = srv.read_from(buf, sizeof buf);     // one datagram, and who sent it
//       srv.write_to(buf, n, from);                          // echo it back
//     }
//   });
//   auto c = goro::net::dial_udp(srv.local_addr());          // a connected socket: read/write
//   c.write("ping", 4);
//   c.read(buf, sizeof buf);
//
// Datagram semantics: each read returns one datagram; a buffer smaller than the datagram gets its
// first bytes and the rest is dropped (Go's ReadFrom; datagram::truncated says so). Each write
// sends one datagram, all of it or nothing (std::errc::message_size when it is larger than the
// socket allows). Errors, deadlines, contexts and close() as for goro::net::conn (net.hpp):
// std::system_error or an error_code argument; set_read_deadline/set_write_deadline fail a pending
// or later operation with goro::errc::io_timeout; a context argument ends the call with ctx.err();
// close() from any coroutine or thread ends operations in progress with goro::errc::closed. A
// connected socket reports the peer's ICMP "port unreachable" as std::errc::connection_refused on
// a later read or write, as Go does.
//
// The wait for a datagram parks the coroutine on its worker's io_uring (a peek that consumes
// nothing); the datagram and its sender are then taken with one recvfrom. Sends are direct; a
// full send buffer on a connected socket waits on the ring, on an unconnected one it is retried
// with a short sleep (Linux rarely fills a UDP send buffer: the datagram is dropped instead).
#pragma once

#include <goro/runtime/context.hpp>
#include <goro/runtime/net.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

struct sockaddr;

namespace goro::net {

// An IPv4 or IPv6 address (Go's net.IP). IPv4 is held as itself, not v4-mapped; an address read
// from a dual-stack socket that is v4-mapped comes back as IPv4, as Go prints it.
class ip_address {
 public:
  ip_address() noexcept = default;  // unspecified: is_valid() false, to_string() ""
  // "127.0.0.1", "::1", "fe80::1%eth0" is not accepted (zones: udp_addr's scope_id). Throws
  // std::invalid_argument naming the text if it is not a literal.
  static ip_address parse(std::string_view text);
  static bool try_parse(std::string_view text, ip_address& out) noexcept;
  static ip_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) noexcept;

  bool is_valid() const noexcept { return family_ != 0; }
  bool is_v4() const noexcept { return family_ == 4; }
  bool is_v6() const noexcept { return family_ == 6; }
  bool is_loopback() const noexcept;
  bool is_unspecified() const noexcept;  // 0.0.0.0 or ::
  std::string to_string() const;
  // 4 bytes for IPv4, 16 for IPv6, in network order.
  const std::uint8_t* bytes() const noexcept { return bytes_.data(); }
  std::size_t size() const noexcept { return family_ == 4 ? 4 : family_ == 6 ? 16 : 0; }

  friend bool operator==(const ip_address&, const ip_address&) noexcept = default;

 private:
  std::uint8_t family_ = 0;  // 0, 4 or 6
  std::array<std::uint8_t, 16> bytes_{};
};

// A UDP endpoint (Go's *net.UDPAddr): address, port, and for link-local IPv6 a scope (interface
// index). Printed "127.0.0.1:53", "[::1]:53".
struct udp_addr {
  ip_address ip;
  std::uint16_t port = 0;
  std::uint32_t scope_id = 0;

  std::string to_string() const;
  // "host:port" with an IP literal, "localhost" or an empty host (127.0.0.1); a name is resolved
  // with getaddrinfo (on the goro::blocking pool inside a coroutine). Throws std::system_error
  // naming the text (std::errc::invalid_argument when malformed).
  static udp_addr resolve(std::string_view address);
  static udp_addr resolve(std::string_view address, std::error_code& ec) noexcept;

  friend bool operator==(const udp_addr&, const udp_addr&) noexcept = default;
};

// What read_from returns. `auto [n, from, truncated] = pc.read_from(buf, size);`
struct datagram {
  std::size_t n = 0;       // bytes placed in the buffer
  udp_addr from;           // the sender
  bool truncated = false;  // the datagram was longer than the buffer; the rest is gone
};

class packet_conn {
 public:
  packet_conn() noexcept = default;  // not open: every operation fails with goro::errc::closed
  packet_conn(packet_conn&&) noexcept = default;
  packet_conn& operator=(packet_conn&&) noexcept = default;
  ~packet_conn() = default;  // closes

  // Waits for one datagram; its first min(n, its size) bytes go to buf.
  datagram read_from(void* buf, std::size_t n);
  datagram read_from(void* buf, std::size_t n, std::error_code& ec) noexcept;
  datagram read_from(const context& ctx, void* buf, std::size_t n);
  datagram read_from(const context& ctx, void* buf, std::size_t n, std::error_code& ec) noexcept;

  // Sends buf as one datagram to `to`. An IPv4 destination on a socket bound to an IPv6 address
  // (":0", "[::]:0") is sent v4-mapped, as Go does. On a connected socket, `to` must be the peer
  // or the kernel refuses (std::errc::already_connected / is_connected), as Go's WriteTo does.
  std::size_t write_to(const void* buf, std::size_t n, const udp_addr& to);
  std::size_t write_to(const void* buf, std::size_t n, const udp_addr& to,
                       std::error_code& ec) noexcept;
  std::size_t write_to(const context& ctx, const void* buf, std::size_t n, const udp_addr& to);
  std::size_t write_to(const context& ctx, const void* buf, std::size_t n, const udp_addr& to,
                       std::error_code& ec) noexcept;

  // Connected socket (dial_udp): one datagram from the peer / to the peer. read() on an
  // unconnected socket takes a datagram from anyone (Go's Read); write() on one fails with
  // std::errc::destination_address_required.
  std::size_t read(void* buf, std::size_t n);
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t read(const context& ctx, void* buf, std::size_t n);
  std::size_t read(const context& ctx, void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write(const void* buf, std::size_t n);
  std::size_t write(const void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write(const context& ctx, const void* buf, std::size_t n);
  std::size_t write(const context& ctx, const void* buf, std::size_t n,
                    std::error_code& ec) noexcept;
  std::size_t write(std::string_view s) { return write(s.data(), s.size()); }

  void set_deadline(time_point t) noexcept;
  void set_read_deadline(time_point t) noexcept;
  void set_write_deadline(time_point t) noexcept;

  // SO_RCVBUF / SO_SNDBUF (Go's SetReadBuffer / SetWriteBuffer); the kernel doubles the value and
  // caps it (net.core.rmem_max).
  void set_read_buffer(int bytes);
  void set_write_buffer(int bytes);

  void close() noexcept;  // idempotent; safe while other coroutines are in operations on it
  bool is_open() const noexcept;

  std::string local_addr() const;   // "127.0.0.1:40512"
  std::string remote_addr() const;  // "" unless connected
  udp_addr local_udp_addr() const;  // the same, as values
  udp_addr remote_udp_addr() const;
  int native_handle() const noexcept;

  explicit packet_conn(detail::netfd_ptr f) noexcept : f_(std::move(f)) {}

 private:
  detail::netfd_ptr f_;
};

// A socket bound to address ("host:port" as for listen; port 0: the kernel picks), receiving from
// anyone. An empty host binds every interface, IPv4 and IPv6.
packet_conn listen_udp(std::string_view address);
packet_conn listen_udp(std::string_view address, std::error_code& ec) noexcept;

// A socket connected to address: read/write exchange datagrams with that peer only. Needs no
// round trip (UDP has no handshake); a dead peer shows as connection_refused on a later call.
packet_conn dial_udp(std::string_view address);
packet_conn dial_udp(std::string_view address, std::error_code& ec) noexcept;

}  // namespace goro::net
