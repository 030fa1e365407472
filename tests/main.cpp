// goro_tests' main: doctest's, plus one option of ours.
//
//   --gomaxprocs=N   run every goro::run in this process with N workers, as GOMAXPROCS=N in the
//                    environment would (it sets that variable, before any test starts).
//   --stack-guard=M  install stack guards with M (madvise, mprotect), as GORO_STACK_GUARD=M would:
//                    the pre-6.13 kernel path (mprotect) is tested on any kernel.
//
// CTest registers the suite three times (the default worker count, --gomaxprocs=1 and =2; see
// tests/CMakeLists.txt). The worker count is an argument rather than only an ENVIRONMENT property
// because doctest_discover_tests names its generated file after its arguments: three
// registrations with the same arguments write one file three times, which Ninja rejects
// ("multiple rules generate ...").
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

int main(int argc, char** argv) {
  constexpr std::string_view flag = "--gomaxprocs=";
  constexpr std::string_view guard_flag = "--stack-guard=";
  std::vector<char*> rest;
  rest.reserve(static_cast<std::size_t>(argc));
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (i > 0 && arg.starts_with(guard_flag)) {
      const std::string_view m = arg.substr(guard_flag.size());
      if (m != "madvise" && m != "mprotect") {
        std::fprintf(stderr, "goro_tests: %s: the guard mode is madvise or mprotect\n", argv[i]);
        return 2;
      }
      ::setenv("GORO_STACK_GUARD", m.data(), 1);
      continue;
    }
    if (i > 0 && arg.starts_with(flag)) {
      const std::string_view n = arg.substr(flag.size());
      const bool digits = !n.empty() && n.find_first_not_of("0123456789") == std::string_view::npos;
      if (!digits || std::atoi(n.data()) < 1) {
        std::fprintf(stderr, "goro_tests: %s: the worker count must be a positive integer\n", argv[i]);
        return 2;
      }
      ::setenv("GOMAXPROCS", n.data(), 1);
      continue;
    }
    rest.push_back(argv[i]);
  }
  doctest::Context context(static_cast<int>(rest.size()), rest.data());
  return context.run();
}
