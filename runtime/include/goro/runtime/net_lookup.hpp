// goro/runtime/net_lookup.hpp: name resolution (Go's net.LookupHost, net.LookupIP).
//
//   std::vector<std::string> addrs = goro::net::lookup_host("localhost");  // {"127.0.0.1", ...}
//   std::vector<goro::net::ip_address> ips = goro::net::lookup_ip("example.com");
//
// getaddrinfo runs on the goro::blocking pool (inside a coroutine only that coroutine parks; on a
// plain thread it runs there). An IP literal is returned as itself without a lookup. Names that
// cannot exist fail at once, with no query, as in Go: an empty or malformed name, and names in
// the reserved ".invalid" domain (RFC 6761). Failures throw std::system_error whose what() names
// the host ("lookup no-such-host.invalid: no such host"), or set the error_code argument:
// compare with goro::net::resolver_errc::no_such_host (Go's DNSError.IsNotFound),
// temporary_failure (Go's IsTemporary: retry later), or failure.
//
// The context overloads (coroutines and plain threads alike) return ctx.err() as soon as the
// context is done; the lookup itself cannot be interrupted (getaddrinfo has no cancellation), so
// it finishes on its pool thread and its answer is dropped.
#pragma once

#include <goro/runtime/context.hpp>
#include <goro/runtime/net_udp.hpp>

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

namespace goro::net {

enum class resolver_errc {
  no_such_host = 1,   // "no such host" (EAI_NONAME, EAI_NODATA; a malformed or .invalid name)
  temporary_failure,  // "temporary failure in name resolution" (EAI_AGAIN)
  failure,            // "name resolution failed" (any other getaddrinfo failure)
};

const std::error_category& resolver_category() noexcept;

inline std::error_code make_error_code(resolver_errc e) noexcept {
  return {static_cast<int>(e), resolver_category()};
}

// The host's addresses as strings, in getaddrinfo's order (its RFC 6724 preference), without
// duplicates.
std::vector<std::string> lookup_host(std::string_view host);
std::vector<std::string> lookup_host(std::string_view host, std::error_code& ec) noexcept;
std::vector<std::string> lookup_host(const context& ctx, std::string_view host);
std::vector<std::string> lookup_host(const context& ctx, std::string_view host,
                                     std::error_code& ec) noexcept;

// The same, as ip_address values.
std::vector<ip_address> lookup_ip(std::string_view host);
std::vector<ip_address> lookup_ip(std::string_view host, std::error_code& ec) noexcept;
std::vector<ip_address> lookup_ip(const context& ctx, std::string_view host);
std::vector<ip_address> lookup_ip(const context& ctx, std::string_view host,
                                  std::error_code& ec) noexcept;

}  // namespace goro::net

template <>
struct std::is_error_code_enum<goro::net::resolver_errc> : std::true_type {};
