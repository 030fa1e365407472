// Fatal errors say what went wrong and where: run as child processes.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include "support.hpp"

using goro_test::contains;
using goro_test::run_crash_helper;

TEST_CASE("a stack overflow is reported with the coroutine id and name and exit code 2") {
#if GORO_ASAN || GORO_TSAN
  // The sanitizers own SIGSEGV and the stack layout; they report overflows themselves.
  MESSAGE("skipped under a sanitizer");
#else
  auto r = run_crash_helper({"overflow"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "fatal error: stack overflow"));
  CHECK(contains(r.err, "\"deep-recursion\""));
  CHECK(contains(r.err, "stack of 65536 bytes exhausted"));
#endif
}

TEST_CASE("an exception escaping go() is a panic naming the coroutine with exit code 2") {
  auto r = run_crash_helper({"panic"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "panic: std::runtime_error: quote feed disconnected"));
  CHECK(contains(r.err, "\"worker-7\""));
  CHECK(contains(r.err, "goroutine "));
}

TEST_CASE("a panic with a non-standard exception names its type") {
  auto r = run_crash_helper({"panic_foreign"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "panic: int (not derived from std::exception)"));
}

TEST_CASE("an exception nobody can observe (handle dropped) is a panic and not silence") {
  auto r = run_crash_helper({"unobserved"});
  INFO("stderr: " << r.err);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.err, "panic: std::out_of_range: index 9 past the end"));
}
