// panic.cpp: the program's two abnormal exits, in Go's words: fatal() for a fatal error, panic()
// for an exception that escaped a coroutine.
#include <cxxabi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <typeinfo>

#include "core.hpp"

namespace goro::sched {

namespace {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> p(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                          std::free);
  return status == 0 && p ? std::string(p.get()) : std::string(mangled);
}

// "std::runtime_error: boom", or the type alone for exceptions not derived from std::exception.
std::string describe(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return demangle(typeid(ex).name()) + ": " + ex.what();
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return t ? demangle(t->name()) + " (not derived from std::exception)" : "unknown exception";
  }
}

}  // namespace

void fatal(const char* msg) noexcept {
  // Plain write(2)s, no allocation: the heap may be what is broken.
  auto put = [](const char* s) { (void)!::write(2, s, std::strlen(s)); };
  std::fflush(stdout);
  std::fflush(stderr);
  put("fatal error: ");
  put(msg);
  const std::size_t n = std::strlen(msg);
  if (n == 0 || msg[n - 1] != '\n') put("\n");
  if (const coroutine* co = current()) {
    char line[64];
    std::snprintf(line, sizeof line, "\ngoroutine %llu ", static_cast<unsigned long long>(id_of(co)));
    put(line);
    if (const char* name = name_of(co); name && *name) {
      put("\"");
      put(name);
      put("\" ");
    }
    put("[running]\n");
  }
  const char* tb = std::getenv("GOTRACEBACK");
  if (tb && std::strcmp(tb, "crash") == 0) std::abort();
  std::_Exit(2);
}

void panic(std::exception_ptr e, std::uint64_t co_id, const char* co_name) noexcept {
  std::string msg;
  try {
    msg = "panic: " + describe(e) + "\n\ngoroutine " + std::to_string(co_id);
    if (co_name && *co_name) msg += std::string(" \"") + co_name + "\"";
    msg += " [running]:\n\tthe exception escaped the coroutine's function\n";
  } catch (...) {
    msg = "panic: (out of memory while describing the exception)\n";
  }
  std::fflush(stdout);
  (void)!::write(2, msg.data(), msg.size());
  std::_Exit(2);
}

}  // namespace goro::sched
