// stop_signals.hpp: SIGINT and SIGTERM as a channel, for the example programs.
//
//   int main() {
//     qf::stop_signals::block();              // before goro::run: every thread inherits the mask
//     goro::run([] {
//       qf::stop_signals sig;                 // a coroutine waits for the signal
//       goro::select(goro::on_recv(sig.c(), ...), ...);
//     });                                     // ~stop_signals ends the wait
//   }
//
// The signals stay blocked on every thread; a job of the goro::blocking pool takes them with
// sigwait and sends the number on c(). The destructor, if no signal came, raises a SIGTERM of
// its own (still blocked, so only that sigwait takes it) and joins the watcher.
#pragma once

#include <goro/goro.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <memory>

namespace qf {

class stop_signals {
 public:
  static void block() noexcept {
    sigset_t set = signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

  stop_signals() : ch_(1), done_(std::make_shared<std::atomic<bool>>(false)) {
    watcher_ = goro::spawn([ch = ch_, done = done_]() mutable {
      const sigset_t set = signals();
      int sig = 0;
      goro::blocking([&] { return ::sigwait(&set, &sig); });
      if (!done->load()) ch.try_send(sig);
    });
  }
  ~stop_signals() {
    done_->store(true);
    if (!watcher_.done()) ::kill(::getpid(), SIGTERM);
    watcher_.get();
  }
  stop_signals(const stop_signals&) = delete;
  stop_signals& operator=(const stop_signals&) = delete;

  // Receives the signal's number (SIGINT or SIGTERM) once one arrives.
  goro::recv_chan<int> c() const { return ch_; }

 private:
  static sigset_t signals() noexcept {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
  }
  goro::chan<int> ch_;
  std::shared_ptr<std::atomic<bool>> done_;
  goro::join_handle<void> watcher_;
};

}  // namespace qf
