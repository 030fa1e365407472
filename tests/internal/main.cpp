// The internal unit tests' main: plain doctest, no runtime (these test sched's and channels'
// data structures on their own; tests/main.cpp is the runtime suite's).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
