// exec.cpp: child processes (see goro/runtime/exec.hpp for the contract).
//
// Spawning: posix_spawn (glibc runs it as clone(CLONE_VM | CLONE_VFORK) + execve: the parent's
// other threads, the workers, keep running and nothing of the runtime is duplicated). Every
// descriptor we make is O_CLOEXEC / SOCK_CLOEXEC, so a child spawned concurrently by another
// coroutine inherits none of ours; the child's stdio are dup2'd by the spawn's file actions (dup2
// clears close-on-exec on the copy).
//
// Killing and reaping go through a pidfd (pidfd_open right after the spawn, Linux 5.3): the
// child cannot be reaped by anyone but us before we have it (it is our child and we reap only
// through wait()), and a pidfd names that process and no later one with a recycled pid. The
// context's stop_callback sends SIGKILL through it; wait() destroys that callback (its destructor
// waits for a callback running on another thread) before it closes the pidfd.
#include <goro/runtime/blocking.hpp>
#include <goro/runtime/exec.hpp>
#include <goro/runtime/go.hpp>
#include <goro/sched/io.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

extern char** environ;

namespace goro::exec {

namespace {

std::error_code errno_code(int e) {
  return {e, std::system_category()};
}

int pidfd_open(pid_t pid) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

void kill_child(int pidfd, pid_t pid) noexcept {
  if (pidfd >= 0)
    (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
  else
    (void)::kill(pid, SIGKILL);  // no pidfd (see start): the pid is ours until wait() reaps it
}

// Waits for the child to end (blocking the calling thread). 0, or an errno.
int reap(int pidfd, pid_t pid, siginfo_t& info) noexcept {
  int r;
  do {
    std::memset(&info, 0, sizeof info);
    r = pidfd >= 0 ? ::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED)
                   : ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED);
  } while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(std::exchange(fd, -1));
}

bool is_executable(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::string exit_status::to_string() const {
  if (signaled()) {
    const char* d = ::sigdescr_np(signal);
    std::string s = "signal: ";
    if (d) {
      s += d;
      // Go prints strsignal's words in lower case for the common ones ("signal: killed").
      std::transform(s.begin(), s.end(), s.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    } else {
      s += std::to_string(signal);
    }
    return s;
  }
  return "exit status " + std::to_string(code);
}

std::string look_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  if (!name.empty()) {
    const char* env = std::getenv("PATH");
    std::string path = env ? env : "";
    std::size_t i = 0;
    for (;;) {
      std::size_t j = path.find(':', i);
      std::string dir = path.substr(i, j == std::string::npos ? std::string::npos : j - i);
      if (dir.empty()) dir = ".";  // an empty entry is the current directory (POSIX)
      std::string cand = dir + "/" + name;
      if (is_executable(cand)) return cand;
      if (j == std::string::npos) break;
      i = j + 1;
    }
  }
  throw error(std::make_error_code(std::errc::no_such_file_or_directory),
              "exec: \"" + name + "\": executable file not found in $PATH");
}

// ==== pipe ========================================================================================

pipe& pipe::operator=(pipe&& o) noexcept {
  if (this != &o) {
    close();
    fd_ = std::exchange(o.fd_, -1);
    sock_ = o.sock_;
  }
  return *this;
}

pipe::~pipe() {
  close();
}

void pipe::close() noexcept {
  close_fd(fd_);
}

std::size_t pipe::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  ec.clear();
  if (fd_ < 0) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return 0;
  }
  if (n == 0) return 0;
  const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(n, 1u << 30));
  long r;
  if (sched::in_coroutine()) {
    sched::io_op op(
        sched::io_args{.kind = sched::io_kind::read, .fd = fd_, .buf = buf, .len = len});
    r = op.run();
  } else {
    do r = ::read(fd_, buf, len);
    while (r < 0 && errno == EINTR);
    if (r < 0) r = -errno;
  }
  if (r < 0) {
    ec = errno_code(static_cast<int>(-r));
    return 0;
  }
  return static_cast<std::size_t>(r);
}

std::size_t pipe::write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept {
  ec.clear();
  if (fd_ < 0) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return 0;
  }
  const auto* p = static_cast<const char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(n - done, 1u << 30));
    long r;
    // The stdin end is a socket (see stdin_pipe): MSG_NOSIGNAL turns a write after the child
    // has gone into EPIPE instead of a SIGPIPE that would end this whole process.
    if (sched::in_coroutine()) {
      sched::io_op op(sched::io_args{.kind = sock_ ? sched::io_kind::send : sched::io_kind::write,
                                     .fd = fd_,
                                     .buf = const_cast<char*>(p + done),
                                     .len = len,
                                     .flags = sock_ ? MSG_NOSIGNAL : 0});
      r = op.run();
    } else {
      do r = sock_ ? ::send(fd_, p + done, len, MSG_NOSIGNAL) : ::write(fd_, p + done, len);
      while (r < 0 && errno == EINTR);
      if (r < 0) r = -errno;
    }
    if (r < 0) {
      ec = errno_code(static_cast<int>(-r));
      break;
    }
    done += static_cast<std::size_t>(r);
  }
  return done;
}

std::size_t pipe::read(void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = read(buf, n, ec);
  if (ec) throw std::system_error(ec, "goro::exec::pipe: read");
  return k;
}

std::size_t pipe::write_all(const void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = write_all(buf, n, ec);
  if (ec) throw std::system_error(ec, "goro::exec::pipe: write");
  return k;
}

// ==== cmd =========================================================================================

namespace {
struct killer {
  int pidfd;
  pid_t pid;
  void operator()() const noexcept { kill_child(pidfd, pid); }
};
}  // namespace

struct cmd::impl {
  context ctx;
  std::string path;
  std::vector<std::string> args;
  std::optional<std::string> dir;
  std::optional<std::vector<std::string>> env;
  int child_fd[3] = {-1, -1, -1};  // the child's ends of our pipes (ours to close)
  int user_fd[3] = {-1, -1, -1};   // set_stdin/... (the caller's)
  bool stderr_to_stdout = false;   // combined_output
  bool started = false;
  bool waited = false;
  pid_t pid = 0;
  // Lock order: a leaf. Guards pidfd and `reaped` against a concurrent signal(): wait() closes
  // the pidfd under it once the child is reaped.
  std::mutex fd_mu;
  int pidfd = -1;
  bool reaped = false;
  std::optional<std::stop_callback<killer>> on_cancel;

  ~impl() {
    for (int& fd : child_fd) close_fd(fd);
    if (started && !waited) {
      on_cancel.reset();
      // Nobody will wait: reap it on a thread of its own, so that it does not stay a zombie.
      const int fd = pidfd;
      const pid_t p = pid;
      try {
        std::thread([fd, p] {
          siginfo_t info;
          (void)reap(fd, p, info);
          if (fd >= 0) ::close(fd);
        }).detach();
      } catch (...) {  // no thread: the zombie stays until this process ends
        if (fd >= 0) ::close(fd);
      }
    }
  }

  void before_start(const char* who) const {
    if (started) throw std::logic_error(std::string("goro::exec::cmd::") + who + ": after start()");
  }

  void set_fd(int which, int fd, const char* who) {
    before_start(who);
    if (fd < 0)
      throw std::invalid_argument(std::string("goro::exec::cmd::") + who + ": negative descriptor");
    if (child_fd[which] >= 0 || user_fd[which] >= 0)
      throw std::logic_error(std::string("goro::exec::cmd::") + who + ": already set");
    user_fd[which] = fd;
  }

  pipe make_pipe(int which, const char* who) {
    before_start(who);
    if (child_fd[which] >= 0 || user_fd[which] >= 0)
      throw std::logic_error(std::string("goro::exec::cmd::") + who + ": already set");
    int fds[2];
    if (which == 0) {
      // stdin: a stream socket pair rather than a pipe, so that our writes can carry
      // MSG_NOSIGNAL (a pipe write after the child's end closed raises SIGPIPE, whose default
      // action would end this process; Go's runtime ignores it, goro leaves it alone).
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
        throw std::system_error(errno_code(errno), std::string("goro::exec::cmd::") + who);
      ::shutdown(fds[0], SHUT_RD);  // ours only writes
      ::shutdown(fds[1], SHUT_WR);  // the child's only reads
      child_fd[0] = fds[1];
      pipe p(fds[0]);
      p.sock_ = true;
      return p;
    }
    if (::pipe2(fds, O_CLOEXEC) != 0)
      throw std::system_error(errno_code(errno), std::string("goro::exec::cmd::") + who);
    child_fd[which] = fds[1];
    return pipe(fds[0]);
  }
};

cmd::cmd(context ctx, std::string name, std::vector<std::string> args)
    : p_(std::make_unique<impl>()) {
  p_->ctx = std::move(ctx);
  p_->path = std::move(name);
  p_->args = std::move(args);
}
cmd::cmd(cmd&&) noexcept = default;
cmd& cmd::operator=(cmd&&) noexcept = default;
cmd::~cmd() = default;

const std::string& cmd::path() const noexcept {
  return p_->path;
}
const std::vector<std::string>& cmd::args() const noexcept {
  return p_->args;
}
const context& cmd::ctx() const noexcept {
  return p_->ctx;
}
int cmd::pid() const noexcept {
  return p_->started ? p_->pid : 0;
}

pipe cmd::stdin_pipe() {
  return p_->make_pipe(0, "stdin_pipe");
}
pipe cmd::stdout_pipe() {
  return p_->make_pipe(1, "stdout_pipe");
}
pipe cmd::stderr_pipe() {
  return p_->make_pipe(2, "stderr_pipe");
}

void cmd::set_stdin(int fd) {
  p_->set_fd(0, fd, "set_stdin");
}
void cmd::set_stdout(int fd) {
  p_->set_fd(1, fd, "set_stdout");
}
void cmd::set_stderr(int fd) {
  p_->set_fd(2, fd, "set_stderr");
}
void cmd::set_dir(std::string dir) {
  p_->before_start("set_dir");
  p_->dir = std::move(dir);
}
void cmd::set_env(std::vector<std::string> env) {
  p_->before_start("set_env");
  p_->env = std::move(env);
}

void cmd::start() {
  impl& p = *p_;
  if (p.started) throw std::logic_error("goro::exec::cmd::start: already started");
  if (std::error_code e = p.ctx.err()) throw error(e, "exec: " + e.message());
  p.path = look_path(p.path);
  const std::stop_token st = p.ctx.stop_token();  // may allocate: before the child exists

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  if (int e = posix_spawn_file_actions_init(&fa))
    throw std::system_error(errno_code(e), "goro::exec::cmd::start");
  if (int e = posix_spawnattr_init(&attr)) {
    posix_spawn_file_actions_destroy(&fa);
    throw std::system_error(errno_code(e), "goro::exec::cmd::start");
  }
  struct cleanup {
    posix_spawn_file_actions_t* fa;
    posix_spawnattr_t* attr;
    ~cleanup() {
      posix_spawn_file_actions_destroy(fa);
      posix_spawnattr_destroy(attr);
    }
  } c{&fa, &attr};

  int e = 0;
  for (int i = 0; i < 3 && !e; ++i) {
    int src = p.child_fd[i] >= 0 ? p.child_fd[i] : p.user_fd[i];
    if (i == 2 && p.stderr_to_stdout) src = p.child_fd[1];
    e = src >= 0 ? posix_spawn_file_actions_adddup2(&fa, src, i)
                 : posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
                                                    i == 0 ? O_RDONLY : O_WRONLY, 0);
  }
  if (!e && p.dir) e = posix_spawn_file_actions_addchdir_np(&fa, p.dir->c_str());
  sigset_t none, def;
  sigemptyset(&none);
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  if (!e) e = posix_spawnattr_setsigmask(&attr, &none);
  if (!e) e = posix_spawnattr_setsigdefault(&attr, &def);
  if (!e) e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (e) throw std::system_error(errno_code(e), "goro::exec::cmd::start");

  std::vector<char*> argv;
  argv.reserve(p.args.size() + 1);
  for (std::string& a : p.args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (p.env) {
    envp.reserve(p.env->size() + 1);
    for (std::string& v : *p.env) envp.push_back(v.data());
    envp.push_back(nullptr);
  }
  pid_t pid = 0;
  e = posix_spawn(&pid, p.path.c_str(), &fa, &attr, argv.data(), p.env ? envp.data() : environ);
  // The child has its copies (or there is no child): ours go either way, so that our reads see
  // end of file once the child's copies close.
  for (int& fd : p.child_fd) close_fd(fd);
  if (e) throw error(errno_code(e), "fork/exec " + p.path + ": " + errno_code(e).message());
  p.pid = pid;
  p.pidfd = pidfd_open(pid);  // fails only on kernels without pidfds (< 5.3): pids then
  p.started = true;
  // Registered after `started`: from here the destructor reaps. Runs at once if ctx is done now.
  if (st.stop_possible()) p.on_cancel.emplace(st, killer{p.pidfd, pid});
}

exit_status cmd::wait() {
  impl& p = *p_;
  if (!p.started) throw std::logic_error("goro::exec::cmd::wait: not started");
  if (p.waited) throw std::logic_error("goro::exec::cmd::wait: already waited");
  siginfo_t info;
  const int pidfd = p.pidfd;
  const pid_t pid = p.pid;
  const int e = goro::blocking([&] { return reap(pidfd, pid, info); });
  p.waited = true;
  p.on_cancel.reset();  // waits for a kill in progress elsewhere; no kill after this
  {
    std::lock_guard g(p.fd_mu);
    p.reaped = true;
    close_fd(p.pidfd);
  }
  if (e) throw std::system_error(errno_code(e), "goro::exec::cmd::wait: waitid");
  exit_status st;
  if (info.si_code == CLD_EXITED) {
    st.code = info.si_status;
  } else {
    st.code = -1;
    st.signal = info.si_status;
  }
  return st;
}

void cmd::signal(int sig) {
  impl& p = *p_;
  if (!p.started) throw std::logic_error("goro::exec::cmd::signal: not started");
  std::lock_guard g(p.fd_mu);
  if (p.reaped) throw std::logic_error("goro::exec::cmd::signal: process already finished");
  int r = p.pidfd >= 0
              ? static_cast<int>(::syscall(SYS_pidfd_send_signal, p.pidfd, sig, nullptr, 0))
              : ::kill(p.pid, sig);
  // ESRCH: it has ended and waits to be reaped; nothing to do, as Go's Signal on a dead process.
  if (r != 0 && errno != ESRCH)
    throw std::system_error(errno_code(errno), "goro::exec::cmd::signal");
}

std::string cmd::capture(bool combined) {
  impl& p = *p_;
  const char* who = combined ? "combined_output" : "output";
  p.before_start(who);
  if (p.child_fd[1] >= 0 || p.user_fd[1] >= 0)
    throw std::logic_error(std::string("goro::exec::cmd::") + who + ": stdout already set");
  if (combined && (p.child_fd[2] >= 0 || p.user_fd[2] >= 0))
    throw std::logic_error("goro::exec::cmd::combined_output: stderr already set");
  pipe out = p.make_pipe(1, who);
  std::optional<pipe> err;
  if (combined)
    p.stderr_to_stdout = true;
  else if (p.child_fd[2] < 0 && p.user_fd[2] < 0)
    err = p.make_pipe(2, who);  // Go keeps stderr in the ExitError when nobody else wants it
  start();
  std::string out_text, err_text;
  auto read_all = [](pipe& r, std::string& to) {
    constexpr std::size_t chunk = 16 * 1024;
    auto buf = std::make_unique<char[]>(chunk);  // not on the coroutine's stack
    std::error_code ec;
    while (std::size_t n = r.read(buf.get(), chunk, ec)) to.append(buf.get(), n);
    return ec;
  };
  std::error_code out_ec, err_ec;
  if (err) {
    // Both at once: a child that fills one pipe while we wait on the other would never end.
    if (sched::in_coroutine()) {
      auto h = goro::spawn([&] { return read_all(*err, err_text); });
      out_ec = read_all(out, out_text);
      err_ec = h.get();
    } else {
      std::thread t([&] { err_ec = read_all(*err, err_text); });
      out_ec = read_all(out, out_text);
      t.join();
    }
  } else {
    out_ec = read_all(out, out_text);
  }
  const exit_status st = wait();
  if (out_ec) throw std::system_error(out_ec, std::string("goro::exec::cmd::") + who + ": read");
  if (err_ec) throw std::system_error(err_ec, std::string("goro::exec::cmd::") + who + ": read");
  if (!st.success()) throw exit_error(st, std::move(out_text), std::move(err_text));
  return out_text;
}

std::string cmd::output() {
  return capture(false);
}
std::string cmd::combined_output() {
  return capture(true);
}

}  // namespace goro::exec
