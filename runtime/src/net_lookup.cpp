// net_lookup.cpp: lookup_host / lookup_ip (goro/runtime/net_lookup.hpp).
//
// The plain overloads call getaddrinfo through goro::blocking (the caller parks; its arguments
// live on its stack for the call). The context overloads cannot leave a pool thread writing into
// a returned caller's stack, so the lookup's inputs and answer live in a shared_ptr'd job on the
// same pool (lookup_job); the caller waits on a sched::waiter that either the job or the
// context's stop callback wakes, whichever comes first.
#include "net_internal.hpp"

#include <goro/runtime/blocking.hpp>
#include <goro/sched/sched.hpp>
#include <goro/runtime/net_lookup.hpp>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stop_token>
#include <string>

namespace goro::net {

namespace {

class resolver_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro.resolver"; }
  std::string message(int c) const override {
    switch (static_cast<resolver_errc>(c)) {
      case resolver_errc::no_such_host: return "no such host";
      case resolver_errc::temporary_failure: return "temporary failure in name resolution";
      case resolver_errc::failure: return "name resolution failed";
    }
    return "unknown resolver error";
  }
};

// Go's isDomainName, reduced: labels of letters, digits, '-' and '_' (and a trailing dot), each
// 1..63 bytes, not starting or ending with '-', at most 253 bytes in all.
bool is_domain_name(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : s) {
    const bool alnum =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (alnum) {
      ++label;
    } else if (c == '-') {
      if (prev == '.') return false;
      ++label;
    } else if (c == '.') {
      if (prev == '.' || prev == '-') return false;
      label = 0;
    } else {
      return false;
    }
    if (label > 63) return false;
    prev = c;
  }
  return prev != '-';
}

// RFC 6761 section 6.4: "invalid" and its subdomains never resolve.
bool is_invalid_domain(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  auto lower_eq = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == y;
           });
  };
  if (lower_eq(s, "invalid")) return true;
  return s.size() > 8 && lower_eq(s.substr(s.size() - 8), ".invalid");
}

// The lookup itself: returns the addresses, or sets ec. Runs anywhere (no parking).
std::vector<ip_address> getaddrinfo_ips(const std::string& host, std::error_code& ec) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  std::vector<ip_address> out;
  if (rc != 0) {
    if (rc == EAI_NONAME
#ifdef EAI_NODATA
        || rc == EAI_NODATA
#endif
    )
      ec = resolver_errc::no_such_host;
    else if (rc == EAI_AGAIN)
      ec = resolver_errc::temporary_failure;
    else if (rc == EAI_MEMORY)
      ec = std::make_error_code(std::errc::not_enough_memory);
    else
      ec = resolver_errc::failure;
    return out;
  }
  for (addrinfo* p = res; p; p = p->ai_next) {
    ip_address a;
    if (p->ai_family == AF_INET) {
      auto* in = reinterpret_cast<const sockaddr_in*>(p->ai_addr);
      const auto* b = reinterpret_cast<const std::uint8_t*>(&in->sin_addr);
      a = ip_address::v4(b[0], b[1], b[2], b[3]);
    } else if (p->ai_family == AF_INET6) {
      char text[INET6_ADDRSTRLEN];
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(p->ai_addr);
      if (!::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text)) continue;
      if (!ip_address::try_parse(text, a)) continue;
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  }
  ::freeaddrinfo(res);
  if (out.empty()) ec = resolver_errc::no_such_host;
  return out;
}

// What every lookup checks first: a literal needs no lookup; an impossible name fails at once.
// Returns true when done (out or ec set).
bool precheck(std::string_view host, std::vector<ip_address>& out, std::error_code& ec) {
  ip_address lit;
  if (ip_address::try_parse(host, lit)) {
    out.push_back(lit);
    return true;
  }
  if (!is_domain_name(host) || is_invalid_domain(host)) {
    ec = resolver_errc::no_such_host;
    return true;
  }
  return false;
}

// A context-aware lookup's job, shared by the caller and the pool thread. state decides who
// wakes the caller, exactly once: the pool thread when the answer is in (0 -> 1), or the
// context's stop callback (0 -> 2), after which the pool thread finishes alone and drops the
// answer. The pool's reference (self) keeps the job alive until run() returns, however long the
// caller has been gone; the pool touches a job no more once its run() has returned.
struct lookup_job final : goro::detail::blocking_job {
  std::string host;
  std::vector<ip_address>
      out;  // written by run() before its 0 -> 1 (release); read after (acquire)
  std::error_code ec;
  sched::waiter* w = nullptr;        // the caller's; used only by the winner of state
  std::atomic<int> state{0};         // 0 pending, 1 answered, 2 abandoned
  std::shared_ptr<lookup_job> self;  // the pool's reference

  void run() noexcept override {
    std::shared_ptr<lookup_job> keep = std::move(self);
    try {
      out = getaddrinfo_ips(host, ec);
    } catch (...) {  // std::bad_alloc
      ec = std::make_error_code(std::errc::not_enough_memory);
    }
    int pending = 0;
    if (state.compare_exchange_strong(pending, 1, std::memory_order_acq_rel)) w->wake();
  }  // keep: the last reference may go here
};

struct abandon {
  lookup_job* job;
  sched::waiter* w;
  void operator()() const noexcept {
    int pending = 0;
    if (job->state.compare_exchange_strong(pending, 2, std::memory_order_acq_rel)) w->wake();
  }
};

std::vector<ip_address> do_lookup(const context* ctx, std::string_view host, std::error_code& ec) {
  ec.clear();
  std::vector<ip_address> out;
  if (ctx && ctx->is_done()) {
    ec = ctx->err();
    return out;
  }
  if (precheck(host, out, ec)) return out;
  if (!ctx) {
    std::string h(host);
    return goro::blocking([&] { return getaddrinfo_ips(h, ec); });
  }
  // A coroutine parks, a plain thread blocks, until the answer or the context's end, whichever
  // comes first (a wake before the wait is kept: wait() then returns at once).
  auto job = std::make_shared<lookup_job>();
  job->host.assign(host);
  sched::waiter w;
  job->w = &w;
  job->self = job;
  {
    std::stop_callback<abandon> cb(ctx->stop_token(), abandon{job.get(), &w});
    goro::detail::submit_blocking(job.get());
    w.wait("goro::net::lookup");
  }  // cb's destructor waits for a callback running on another thread
  if (job->state.load(std::memory_order_acquire) == 2) {
    ec = ctx->err();
    if (!ec) ec = goro::errc::canceled;
    return out;
  }
  ec = job->ec;
  return std::move(job->out);
}

std::vector<std::string> to_strings(const std::vector<ip_address>& ips) {
  std::vector<std::string> s;
  s.reserve(ips.size());
  for (const auto& a : ips) s.push_back(a.to_string());
  return s;
}

[[noreturn]] void throw_lookup(std::error_code ec, std::string_view host) {
  throw std::system_error(ec, "goro::net: lookup " + std::string(host));
}

template <class F>
auto noexcept_call(std::error_code& ec, F&& f) noexcept -> decltype(f()) {
  try {
    return f();
  } catch (...) {  // std::bad_alloc
    ec = std::make_error_code(std::errc::not_enough_memory);
    return {};
  }
}

}  // namespace

const std::error_category& resolver_category() noexcept {
  static const resolver_category_impl c;
  return c;
}

std::vector<ip_address> lookup_ip(std::string_view host, std::error_code& ec) noexcept {
  return noexcept_call(ec, [&] { return do_lookup(nullptr, host, ec); });
}
std::vector<ip_address> lookup_ip(const context& ctx, std::string_view host,
                                  std::error_code& ec) noexcept {
  return noexcept_call(ec, [&] { return do_lookup(&ctx, host, ec); });
}
std::vector<ip_address> lookup_ip(std::string_view host) {
  std::error_code ec;
  auto r = do_lookup(nullptr, host, ec);
  if (ec) throw_lookup(ec, host);
  return r;
}
std::vector<ip_address> lookup_ip(const context& ctx, std::string_view host) {
  std::error_code ec;
  auto r = do_lookup(&ctx, host, ec);
  if (ec) throw_lookup(ec, host);
  return r;
}

std::vector<std::string> lookup_host(std::string_view host, std::error_code& ec) noexcept {
  return noexcept_call(ec, [&] { return to_strings(do_lookup(nullptr, host, ec)); });
}
std::vector<std::string> lookup_host(const context& ctx, std::string_view host,
                                     std::error_code& ec) noexcept {
  return noexcept_call(ec, [&] { return to_strings(do_lookup(&ctx, host, ec)); });
}
std::vector<std::string> lookup_host(std::string_view host) {
  return to_strings(lookup_ip(host));
}
std::vector<std::string> lookup_host(const context& ctx, std::string_view host) {
  return to_strings(lookup_ip(ctx, host));
}

}  // namespace goro::net
