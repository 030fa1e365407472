// overflow.cpp: turning a coroutine stack overflow into a clear fatal error.
//
// Every stack has a guard page below it (stack.hpp). A coroutine that runs past its stack touches
// the guard and the kernel raises SIGSEGV, on the very stack that just ran out, so the handler
// runs on an alternate signal stack that each worker installs (sigaltstack). The handler checks
// whether the faulting address lies in the guard of the coroutine running on this thread; if so
// it writes what happened and exits with status 2, otherwise it hands the signal to whatever
// handler was installed before goro's (the default one dumps core).
//
// Limit: a single frame larger than the guard page can jump over it into the memory below, which
// belongs to another stack, and corrupt it silently; compile code with big stack frames with
// -fstack-clash-protection, which probes each page of a large frame.
//
// Everything in the handler is async-signal-safe: no allocation, no stdio, only write(2).
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <mutex>

#include "core.hpp"

namespace goro::sched::detail {

namespace {

constexpr std::size_t altstack_size = 64 * 1024;
struct sigaction g_previous_segv;
thread_local stack_t t_previous_altstack;

struct message {
  char d[768];
  std::size_t n = 0;
  void str(const char* s) {
    while (*s && n < sizeof d) d[n++] = *s++;
  }
  void dec(std::uint64_t v) {
    char t[24];
    int i = 0;
    do t[i++] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0);
    while (i > 0 && n < sizeof d) d[n++] = t[--i];
  }
  void hex(std::uintptr_t v) {
    str("0x");
    char t[24];
    int i = 0;
    do t[i++] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
    while (i > 0 && n < sizeof d) d[n++] = t[--i];
  }
};

void on_segv(int sig, siginfo_t* info, void* uctx) {
  worker* w = current_worker();
  coroutine* co = w ? w->current : nullptr;
  if (co && co->stk) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    const auto base = reinterpret_cast<std::uintptr_t>(co->stk.base);
    const std::uintptr_t guard_lo = base - page_size();
    if (addr >= guard_lo && addr < base) {
      message m;
      m.str("fatal error: stack overflow\n\ngoroutine ");
      m.dec(co->id);
      if (!co->name.empty()) {
        m.str(" \"");
        m.str(co->name.c_str());
        m.str("\"");
      }
      m.str(" [running]:\n\tstack of ");
      m.dec(co->stk.size);
      m.str(" bytes exhausted (fault at ");
      m.hex(addr);
      m.str(" in the guard page ");
      m.hex(guard_lo);
      m.str("-");
      m.hex(base);
      m.str(")\n\tgive it a bigger stack: goro::spawn_options{.stack_size = N} for one "
            "coroutine, goro::options{.stack_size = N} for all\n");
      (void)!::write(2, m.d, m.n);
      ::_exit(2);
    }
  }
  // Not a stack overflow of ours: defer to the previous handler.
  if ((g_previous_segv.sa_flags & SA_SIGINFO) && g_previous_segv.sa_sigaction) {
    g_previous_segv.sa_sigaction(sig, info, uctx);
    return;
  }
  if (g_previous_segv.sa_handler != SIG_DFL && g_previous_segv.sa_handler != SIG_IGN) {
    g_previous_segv.sa_handler(sig);
    return;
  }
  // Default action: restore it; returning re-executes the faulting access, which now kills us
  // with the usual SIGSEGV (and core dump).
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGSEGV, &dfl, nullptr);
}

}  // namespace

void install_overflow_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = &on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGSEGV, &sa, &g_previous_segv);
  });
}

void* enable_altstack() {
  void* p = ::mmap(nullptr, altstack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) return nullptr;  // overflow reports degrade to a plain SIGSEGV
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = altstack_size;
  ss.ss_flags = 0;
  if (::sigaltstack(&ss, &t_previous_altstack) != 0) {
    ::munmap(p, altstack_size);
    return nullptr;
  }
  return p;
}

void disable_altstack(void* p) {
  if (!p) return;
  if (t_previous_altstack.ss_sp && !(t_previous_altstack.ss_flags & SS_DISABLE)) {
    ::sigaltstack(&t_previous_altstack, nullptr);
  } else {
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    ::sigaltstack(&ss, nullptr);
  }
  ::munmap(p, altstack_size);
}

}  // namespace goro::sched::detail
