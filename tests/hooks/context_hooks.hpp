// Test-only views of runtime internals; never installed, never included by goro's own headers.
#pragma once

#include <goro/runtime/context.hpp>

#include <cstddef>

namespace goro::detail {

struct context_test_access {
  // How many children are registered with c right now (0 for background).
  static std::size_t child_count(const context& c) noexcept {
    return c.n_.get() ? c.n_.get()->child_count() : 0;
  }
};

inline std::size_t context_child_count(const context& c) noexcept {
  return context_test_access::child_count(c);
}

}  // namespace goro::detail
