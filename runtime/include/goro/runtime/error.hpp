// goro/runtime/error.hpp: the runtime's own error codes, as std::error_code values.
//
// goro reports failures the C++ way Go users will recognise: an operation either throws a
// std::system_error (the default) or, in its overload taking `std::error_code& ec`, sets ec and
// returns. Codes from the operating system keep their std::system_category() (compare them with
// std::errc: connection_refused, connection_reset, timed_out, too_many_files_open, ...); the
// conditions that have no errno get a goro::errc, with Go's wording:
//
//   goro::errc::canceled           "context canceled"                 (Go: context.Canceled)
//   goro::errc::deadline_exceeded  "context deadline exceeded"        (Go: context.DeadlineExceeded)
//   goro::errc::closed             "use of closed network connection" (Go: net.ErrClosed)
//   goro::errc::eof                "EOF"                              (Go: io.EOF)
//   goro::errc::unexpected_eof     "unexpected EOF"                   (Go: io.ErrUnexpectedEOF)
//   goro::errc::io_timeout         "i/o timeout"                      (Go: os.ErrDeadlineExceeded)
//
// canceled compares equal to std::errc::operation_canceled, deadline_exceeded and io_timeout to
// std::errc::timed_out, so generic code can test either way.
#pragma once

#include <string>
#include <system_error>
#include <type_traits>

namespace goro {

enum class errc {
  canceled = 1,
  deadline_exceeded,
  closed,
  unexpected_eof,
  io_timeout,
  eof,
};

const std::error_category& goro_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), goro_category()};
}

}  // namespace goro

template <>
struct std::is_error_code_enum<goro::errc> : std::true_type {};
