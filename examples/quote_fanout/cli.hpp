// cli.hpp: command-line helpers shared by the quote_fanout programs (quote_fanout, fix_exchange).
//
//   qf::cli::set_program("fix_exchange", usage_text);
//   double rate = qf::cli::number("--rate", argv[k], 0, 1e9);  // exit 2 with the usage if bad
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace qf::cli {

struct program_info {
  const char* name = "";
  const char* usage = "";
};
inline program_info& program() noexcept {
  static program_info p;
  return p;
}
inline void set_program(const char* name, const char* usage_text) noexcept { program() = {name, usage_text}; }

// "NAME: why" (when why is not empty) and the usage text on stderr, then exit code 2.
[[noreturn]] inline void usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "%s: %s\n", program().name, why.c_str());
  std::fputs(program().usage, stderr);
  std::exit(2);
}

// A number in [lo, hi] (strtod's syntax), or usage().
inline double number(const std::string& opt, const char* s, double lo, double hi) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (!*s || *end || errno || !(v >= lo && v <= hi)) {
    char range[64];
    std::snprintf(range, sizeof range, "%g to %g", lo, hi);
    usage(opt + " takes a number from " + range + ", not '" + s + "'");
  }
  return v;
}

}  // namespace qf::cli
