// cli.hpp: command-line helpers shared by the quote_fanout programs (quote_fanout, fix_exchange).
//
//   qf::cli::set_program("fix_exchange", usage_text);
//   double rate = qf::cli::number("--rate", argv[k], 0, 1e9);  // exit 2 with the usage if bad
//   return qf::cli::run_main([&] { return serve(cmd); });      // main's body
#pragma once

#include "stop_signals.hpp"

#include <goro/goro.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <utility>

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

// main()'s body for a program that stops on SIGINT/SIGTERM: blocks them (before goro::run, so
// that every worker and pool thread inherits the mask), runs body() as the main coroutine and
// returns its exit code; an exception escaping it is reported as "NAME: what" with exit code 1.
template <class F>
int run_main(F&& body) {
  stop_signals::block();
  try {
    return goro::run(std::forward<F>(body));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program().name, e.what());
    return 1;
  }
}

}  // namespace qf::cli
