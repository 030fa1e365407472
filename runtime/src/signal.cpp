// signal.cpp: goro::signal (goro/runtime/signal.hpp).
//
// A sigaction handler writes the signal's number (one byte) to a non-blocking self-pipe: write()
// is async-signal-safe and never blocks (a full pipe drops the byte, as a full channel would).
// A plain thread, started at the first notify, blocks in read() on the pipe and, under reg_mu,
// try_sends the number to each channel registered for it. reg_mu is a leaf: try_send never
// parks. The registry and the thread live for the whole process (never destroyed: a handler may
// run during exit).
#include <goro/channels/select.hpp>
#include <goro/runtime/go.hpp>
#include <goro/runtime/signal.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace goro::signal {

namespace {

struct registration {
  chan<int> ch;
  bool sigs[NSIG] = {};
};

struct registry {
  std::mutex mu;
  std::vector<registration> regs;  // guarded by mu
  bool handled[NSIG] = {};         // guarded by mu: our handler is installed
  int pipe_w = -1;
  int pipe_r = -1;
};

registry& reg() {
  static registry* r = new registry;  // never destroyed (see above)
  return *r;
}

int g_pipe_w = -1;  // the handler's view; set once before any handler is installed

extern "C" void on_signal(int sig) {
  const int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] ssize_t n = ::write(g_pipe_w, &b, 1);
  errno = saved;
}

void deliver_loop(int fd) {
  for (;;) {
    unsigned char b;
    ssize_t n = ::read(fd, &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    registry& r = reg();
    std::lock_guard lk(r.mu);
    for (auto& x : r.regs)
      if (b < NSIG && x.sigs[b]) (void)x.ch.try_send(static_cast<int>(b));
  }
}

// Under r.mu.
void start_locked(registry& r) {
  if (r.pipe_w >= 0) return;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::system_category(), "goro::signal::notify: pipe2");
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
  r.pipe_r = fds[0];
  r.pipe_w = fds[1];
  g_pipe_w = fds[1];
  std::thread(deliver_loop, fds[0]).detach();
}

}  // namespace

void notify(const chan<int>& ch, std::initializer_list<int> sigs) {
  if (!ch) throw std::invalid_argument("goro::signal::notify: nil channel");
  for (int s : sigs)
    if (s <= 0 || s >= NSIG || s == SIGKILL || s == SIGSTOP)
      throw std::invalid_argument("goro::signal::notify: signal " + std::to_string(s) +
                                  " cannot be caught");
  registry& r = reg();
  std::lock_guard lk(r.mu);
  start_locked(r);
  registration* mine = nullptr;
  for (auto& x : r.regs)
    if (x.ch == ch) mine = &x;
  if (!mine) {
    r.regs.push_back({ch, {}});
    mine = &r.regs.back();
  }
  for (int s : sigs) {
    mine->sigs[s] = true;
    if (!r.handled[s]) {
      struct sigaction sa {};
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      ::sigaction(s, &sa, nullptr);
      r.handled[s] = true;
    }
  }
}

void stop(const chan<int>& ch) {
  registry& r = reg();
  std::lock_guard lk(r.mu);
  std::erase_if(r.regs, [&](const registration& x) { return x.ch == ch; });
  for (int s = 1; s < NSIG; ++s) {
    if (!r.handled[s]) continue;
    bool wanted = false;
    for (auto& x : r.regs) wanted = wanted || x.sigs[s];
    if (!wanted) {
      struct sigaction sa {};
      sa.sa_handler = SIG_DFL;
      sigemptyset(&sa.sa_mask);
      ::sigaction(s, &sa, nullptr);
      r.handled[s] = false;
    }
  }
}

std::pair<context, cancel_func> notify_context(const context& parent, std::initializer_list<int> sigs) {
  auto [ctx, cancel] = with_cancel(parent);
  chan<int> ch(1);
  notify(ch, sigs);
  goro::go([ch, ctx = ctx, cancel = cancel] {
    goro::select(goro::on_recv(ch), goro::on_recv(ctx.done()));
    stop(ch);
    cancel();
  });
  return {ctx, cancel};
}

}  // namespace goro::signal
