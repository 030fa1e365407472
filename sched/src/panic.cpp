// panic.cpp: the unrecovered-panic exit, in Go's words.
#include <cxxabi.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
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
