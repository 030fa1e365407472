// error.cpp: goro's error category (see goro/runtime/error.hpp).
#include <goro/runtime/error.hpp>

namespace goro {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "goro"; }
  std::string message(int c) const override {
    switch (static_cast<errc>(c)) {
      case errc::canceled: return "context canceled";
      case errc::deadline_exceeded: return "context deadline exceeded";
      case errc::closed: return "use of closed network connection";
      case errc::unexpected_eof: return "unexpected EOF";
      case errc::io_timeout: return "i/o timeout";
      case errc::eof: return "EOF";
    }
    return "goro error " + std::to_string(c);
  }
  std::error_condition default_error_condition(int c) const noexcept override {
    switch (static_cast<errc>(c)) {
      case errc::canceled: return std::errc::operation_canceled;
      case errc::deadline_exceeded:
      case errc::io_timeout: return std::errc::timed_out;
      default: return {c, *this};
    }
  }
};

}  // namespace

const std::error_category& goro_category() noexcept {
  static const category c;
  return c;
}

}  // namespace goro
