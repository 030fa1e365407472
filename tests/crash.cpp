// crash.cpp: programs that end badly on purpose, run as children by test_errors.cpp.
//   overflow       - unbounded recursion in a named coroutine (must report a stack overflow)
//   overflow_16k_frames, overflow_300k_frame - frames larger than the guard page (recursion of
//                    16 KiB frames; one 300 KiB frame): still a stack overflow report
//   guard_mode     - prints the stack guard mode in use (GORO_STACK_GUARD decides)
//   panic          - an exception escapes a go() coroutine
//   panic_foreign  - a non-std::exception escapes a go() coroutine
//   unobserved     - a spawned coroutine throws and its handle is dropped without get()
//   nil_blocks     - send, recv and range on a nil channel, a select of nil cases only and a
//                    select with no cases must block forever (reports and _Exits)
//   unlock_unlocked - goro::mutex::unlock of an unlocked mutex (a fatal error: exit code 2)
//   deadlock       - every coroutine blocks (chan receive, chan send, mutex): the runtime must
//                    report Go's "all goroutines are asleep - deadlock!" with each one's wait
//   no_deadlock    - every coroutine waits, but on a timer, a blocking call and a pipe read that
//                    will complete: no deadlock may be reported ("survived", exit 0)
//   sigquit        - SIGQUIT prints a goroutine dump and exits 2
//   no_io_uring    - a seccomp filter refuses io_uring_setup (as container runtimes do): goro::run
//                    must throw a clear error, printed here, exit code 3
#include <goro/goro.hpp>
#include <goro/sched/io.hpp>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>

namespace {

// noinline + a volatile buffer so the compiler can neither inline nor turn this into a loop.
#pragma GCC diagnostic ignored "-Winfinite-recursion"  // unbounded on purpose
__attribute__((noinline)) int recurse(int depth) {
  volatile char pad[512];
  pad[0] = static_cast<char>(depth);
  return recurse(depth + 1) + pad[0];
}

// Frames larger than the 4 KiB guard page: without -fstack-clash-protection (which goro::goro
// passes to its users) the first write lands past the guard, in the neighbouring stack.
__attribute__((noinline)) int recurse_16k(int depth) {
  volatile char pad[16 * 1024];
  pad[0] = static_cast<char>(depth);  // the lowest byte of the frame: the first one past a guard
  return recurse_16k(depth + 1) + pad[0];
}

__attribute__((noinline)) int one_big_frame() {
  volatile char big[300 * 1024];  // larger than the whole default (256 KiB) stack
  big[0] = 1;
  return big[0];
}

// io_uring_setup fails with EPERM from here on, as under Docker's default seccomp profile.
bool refuse_io_uring() {
  sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof f / sizeof f[0]), f};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 100;
  const std::string mode = argv[1];
  if (mode == "no_io_uring") {
    if (!refuse_io_uring()) {
      std::perror("seccomp");
      return 101;
    }
    try {
      goro::run([] { std::fprintf(stderr, "the runtime started without io_uring\n"); });
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 3;
    }
    return 0;
  }
  return goro::run([mode]() -> int {
    if (mode == "overflow") {
      auto h = goro::spawn(goro::spawn_options{.name = "deep-recursion", .stack_size = 64 * 1024},
                           [] { return recurse(0); });
      return h.get();
    }
    if (mode == "overflow_16k_frames") {  // on a pooled default-size stack
      auto h = goro::spawn(goro::spawn_options{.name = "big-frames"}, [] { return recurse_16k(0); });
      std::fprintf(stderr, "the 16 KiB-frame recursion returned %d\n", h.get());
      return 0;
    }
    if (mode == "overflow_300k_frame") {
      auto h = goro::spawn(goro::spawn_options{.name = "huge-frame"}, [] { return one_big_frame(); });
      std::fprintf(stderr, "the 300 KiB frame returned %d\n", h.get());
      return 0;
    }
    if (mode == "guard_mode") {  // which guard mode GORO_STACK_GUARD led to
      goro::spawn([] { return 0; }).get();
      std::fprintf(stderr, "guard mode: %s\n", goro::sched::stack_guard_mode());
      return 0;
    }
    if (mode == "deadlock") {
      auto m = std::make_shared<goro::mutex>();
      m->lock();
      goro::chan<int> nobody_receives, nobody_sends;
      goro::go(goro::spawn_options{.name = "stuck-sender"},
               [nobody_receives]() mutable { nobody_receives.send(1); });
      goro::go(goro::spawn_options{.name = "stuck-locker"}, [m] { m->lock(); });
      (void)nobody_sends.recv();
      std::fprintf(stderr, "the receive returned\n");
      return 0;
    }
    if (mode == "no_deadlock") {
      goro::chan<int> done;
      auto waiter = goro::spawn(goro::spawn_options{.name = "waits-on-main"},
                                [done]() mutable { return done.recv().has_value(); });
      goro::sleep_for(std::chrono::milliseconds(150));  // a timer: not a deadlock
      goro::blocking([] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); });
      // A pipe whose writer is another process: pending I/O and no other thread.
      int fds[2];
      if (::pipe(fds) != 0) return 4;
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
      posix_spawn_file_actions_addclose(&fa, fds[0]);
      char sh[] = "/bin/sh", c[] = "-c", cmd[] = "sleep 0.2; echo x";
      char* args[] = {sh, c, cmd, nullptr};
      pid_t pid = 0;
      if (posix_spawn(&pid, "/bin/sh", &fa, nullptr, args, environ) != 0) return 5;
      posix_spawn_file_actions_destroy(&fa);
      ::close(fds[1]);
      char buf[4] = {};
      goro::sched::io_op op({.kind = goro::sched::io_kind::read, .fd = fds[0], .buf = buf, .len = 2});
      int n = op.run();
      ::waitpid(pid, nullptr, 0);
      done.close();
      (void)waiter.get();
      std::fprintf(stderr, "survived (read %d: %c)\n", n, buf[0]);
      return 0;
    }
    if (mode == "sigquit") {
      goro::chan<int> never;
      for (int i = 0; i < 3; ++i)
        goro::go(goro::spawn_options{.name = "parked-reader"}, [never]() mutable { (void)never.recv(); });
      goro::go(goro::spawn_options{.name = "sleeper"}, [] { goro::sleep_for(std::chrono::seconds(10)); });
      goro::sleep_for(std::chrono::milliseconds(20));  // all of them are parked by now
      ::kill(::getpid(), SIGQUIT);
      for (int i = 0; i < 500; ++i) goro::sleep_for(std::chrono::milliseconds(10));
      std::fprintf(stderr, "SIGQUIT did not end the program\n");
      return 0;
    }
    if (mode == "panic") {
      goro::go(goro::spawn_options{.name = "worker-7"},
               [] { throw std::runtime_error("quote feed disconnected"); });
    } else if (mode == "panic_foreign") {
      goro::go([] { throw 42; });
    } else if (mode == "nil_blocks") {
      // Coroutines that send or receive on a nil channel must never return. They are abandoned
      // parked, so the helper leaves with _Exit (no leak report for what it abandons on purpose).
      auto returned = std::make_shared<std::atomic<int>>(0);
      goro::chan<int> nil(nullptr);
      goro::go([nil, returned]() mutable {
        nil.send(1);
        returned->fetch_add(1);
      });
      goro::go([nil, returned]() mutable {
        (void)nil.recv();
        returned->fetch_add(1);
      });
      goro::go([nil, returned]() mutable {
        for (int v : nil) returned->fetch_add(1 + v);  // ranging over nil: blocks, never ends
        returned->fetch_add(1);
      });
      goro::go([nil, returned]() mutable {
        goro::select(goro::on_recv(nil), goro::on_send(nil, 1));  // only nil cases, no default
        returned->fetch_add(1);
      });
      goro::go([returned] {
        goro::select();  // Go's select {}
        returned->fetch_add(1);
      });
      for (int i = 0; i < 10000; ++i) goro::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      for (int i = 0; i < 10000; ++i) goro::yield();
      std::fprintf(stderr, "nil channel operations returned: %d\n", returned->load());
      std::fflush(stderr);
      std::_Exit(0);
    } else if (mode == "unlock_unlocked") {
      goro::mutex m;
      m.unlock();
      std::fprintf(stderr, "unlock of an unlocked mutex returned\n");
      return 0;
    } else if (mode == "unobserved") {
      auto h = goro::spawn([]() -> int { throw std::out_of_range("index 9 past the end"); });
      h.wait();
      // h goes out of scope without get(): the error must not vanish.
    } else if (mode == "goexit_swallowed") {  // a catch (...) that does not rethrow goexit
      auto h = goro::spawn([] {
        try {
          goro::goexit();
        } catch (...) {
        }
        return 1;
      });
      (void)h.get();
    } else {
      return 100;
    }
    for (int i = 0; i < 1000000; ++i) goro::yield();  // the panic ends the program first
    return 0;
  });
}
