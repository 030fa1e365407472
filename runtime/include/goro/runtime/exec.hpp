// goro/runtime/exec.hpp: Go's os/exec: run a program as a child process, its stdin, stdout and
// stderr as goro streams, its end (exit code or signal) as a value.
//
//   std::string out = goro::exec::command("git", "rev-parse", "HEAD").output();  // PATH lookup
//
//   auto cmd = goro::exec::command(ctx, "/bin/cat");     // ctx done: the child gets SIGKILL
//   goro::exec::pipe in = cmd.stdin_pipe();              // io::writer
//   goro::exec::pipe out = cmd.stdout_pipe();            // io::reader
//   cmd.start();
//   in.write_all("hello");
//   in.close();                                          // cat sees end of file
//   std::string s = goro::io::read_all(out);             // "hello"
//   goro::exec::exit_status st = cmd.wait();             // parks this coroutine only
//   if (!st.success()) std::puts(st.to_string().c_str());   // "exit status 1", "signal: killed"
//
// Semantics are Go's, with C++ spellings:
//   - command(name, args...) / command(ctx, name, args...): the program and its arguments (argv[0]
//     is name). A name without '/' is looked up in $PATH when start() runs (look_path); one with a
//     '/' is used as it is. Nothing runs before start().
//   - stdin_pipe(), stdout_pipe(), stderr_pipe(): before start(), a pipe connected to the child's
//     stream (Go's StdinPipe etc.); each at most once. Streams not piped (or set to a descriptor
//     with set_stdin/set_stdout/set_stderr, duplicated into the child) are /dev/null, as Go's nil.
//   - start(): spawns the child (posix_spawn: glibc's clone(CLONE_VFORK), never fork() of the
//     running runtime) with the parent's environment (or set_env's), in set_dir's directory, with
//     an empty signal mask and SIGPIPE at its default. Throws exec::error: `exec: "name":
//     executable file not found in $PATH` for a failed lookup (errc::no_such_file_or_directory),
//     `fork/exec <path>: <strerror>` when the kernel refuses (a missing path, no permission), or
//     `exec: <context error>` if ctx is already done; std::logic_error if started twice.
//   - wait(): parks until the child ends and returns its exit_status (an exit with a non-zero
//     code or a signal is a value here, not an exception). Called once, after start()
//     (std::logic_error otherwise). The pipes stay open (they are their holders'); read them to
//     the end before wait(), as Go requires.
//   - run() = start() + wait(). output(): runs with stdout captured and returns it; on a status
//     that is not success it throws exec::exit_error carrying the status, the output and (stderr
//     not set otherwise) the captured stderr, as Go's *ExitError. combined_output(): stdout and
//     stderr into one pipe, same rules.
//   - With a context: a ctx that ends while the child runs kills it with SIGKILL (Go's default
//     Cancel); wait() then reports signal SIGKILL; cmd.ctx().err() says why.
//   - The child is signalled through a pidfd, which the cmd holds until wait() has reaped the
//     child, so a kill never reaches a recycled pid.
// How wait() waits: on goro's blocking pool (goro::blocking), in waitid(P_PIDFD): the scheduler's
// ring offers no poll request to the runtime layer, and Go's Wait holds a thread in wait4 the same
// way. Each child being waited for holds one pool thread (the pool has 64). A cmd destroyed after
// start() without wait() hands its pidfd to a detached thread that reaps the child (no zombie).
// Pipes read and write through the worker's io_uring ring (read/write requests; a pipe read
// parks only the coroutine); on a plain thread they use plain blocking read()/write().
#pragma once

#include <goro/runtime/context.hpp>

#include <signal.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace goro::exec {

// How a child ended. code: the exit code, -1 if a signal ended it (Go's ExitCode()); signal: the
// signal that ended it, 0 if it exited.
struct exit_status {
  int code = -1;
  int signal = 0;

  bool exited() const noexcept { return signal == 0 && code >= 0; }
  bool signaled() const noexcept { return signal != 0; }
  bool success() const noexcept { return exited() && code == 0; }
  // Go's ProcessState.String(): "exit status 1", "signal: killed", "signal: terminated".
  std::string to_string() const;
  friend bool operator==(const exit_status&, const exit_status&) = default;
};

// start()'s failures (see above): a std::system_error with Go's wording in what().
// what() is the whole message (the code's text is part of it only where Go's has it).
class error : public std::system_error {
 public:
  error(std::error_code ec, std::string what) : std::system_error(ec), what_(std::move(what)) {}
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  std::string what_;
};

// output()/combined_output()/... on a status that is not success (Go's *ExitError).
class exit_error : public std::runtime_error {
 public:
  exit_error(exit_status st, std::string output, std::string err_output)
      : std::runtime_error(st.to_string()),
        st_(st),
        out_(std::move(output)),
        err_(std::move(err_output)) {}
  const exit_status& status() const noexcept { return st_; }
  const std::string& output() const noexcept { return out_; }  // what was captured before the end
  const std::string& stderr_output() const noexcept { return err_; }  // captured stderr (output())

 private:
  exit_status st_;
  std::string out_;
  std::string err_;
};

// One end of a pipe to a child: an io::reader (stdout_pipe, stderr_pipe) or an io::writer
// (stdin_pipe). Move-only; owns its descriptor (closed on destruction). One coroutine at a time.
class pipe {
 public:
  pipe() noexcept = default;
  pipe(pipe&& o) noexcept : fd_(std::exchange(o.fd_, -1)), sock_(o.sock_) {}
  pipe& operator=(pipe&& o) noexcept;
  pipe(const pipe&) = delete;
  pipe& operator=(const pipe&) = delete;
  ~pipe();

  // At most n bytes, waiting for one; 0 with ec clear at end of stream (the child closed it).
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t read(void* buf, std::size_t n);
  // All n bytes or a failure (errc::broken_pipe once the child has closed its end).
  std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write_all(const void* buf, std::size_t n);
  std::size_t write_all(std::string_view s) { return write_all(s.data(), s.size()); }
  std::size_t write_all(std::string_view s, std::error_code& ec) noexcept {
    return write_all(s.data(), s.size(), ec);
  }
  // Closes this end (the child's stdin then sees end of file). Idempotent.
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int native_handle() const noexcept { return fd_; }

 private:
  friend class cmd;
  explicit pipe(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
  bool sock_ = false;  // the stdin end: a socket, written with MSG_NOSIGNAL (see exec.cpp)
};

// Go's exec.LookPath: the path of an executable named `name` in $PATH (name itself if it has a
// '/'); throws exec::error (`exec: "name": executable file not found in $PATH`) if none.
std::string look_path(const std::string& name);

// A command to run (Go's *exec.Cmd). Move-only.
class cmd {
 public:
  cmd(context ctx, std::string name, std::vector<std::string> args);
  cmd(cmd&&) noexcept;
  cmd& operator=(cmd&&) noexcept;
  ~cmd();

  const std::string& path() const noexcept;               // the name as given, then as looked up
  const std::vector<std::string>& args() const noexcept;  // argv, argv[0] included
  const context& ctx() const noexcept;

  // Before start():
  pipe stdin_pipe();
  pipe stdout_pipe();
  pipe stderr_pipe();
  void set_stdin(int fd);  // duplicated into the child; the caller keeps its descriptor
  void set_stdout(int fd);
  void set_stderr(int fd);
  void set_dir(std::string dir);
  void set_env(std::vector<std::string> env);  // "KEY=value" entries (default: the parent's)

  void start();
  exit_status wait();
  exit_status run() {
    start();
    return wait();
  }
  std::string output();
  std::string combined_output();

  // Sends sig to the child (Go's cmd.Process.Signal / Kill), through its pidfd. After start();
  // a child already reaped by wait(): std::logic_error ("process already finished", as Go's
  // os.ErrProcessDone); one that has ended but is not reaped yet gets nothing (no error). May
  // be called from any coroutine or thread, also while another waits in wait().
  void signal(int sig);
  void kill() { signal(SIGKILL); }

  int pid() const noexcept;  // after start(); 0 before

 private:
  struct impl;
  std::unique_ptr<impl> p_;
  std::string capture(bool combined);
};

namespace detail {
inline void append_args(std::vector<std::string>&) {}
template <class A, class... More>
void append_args(std::vector<std::string>& v, A&& a, More&&... more) {
  v.emplace_back(std::forward<A>(a));
  append_args(v, std::forward<More>(more)...);
}
}  // namespace detail

template <class... Args>
requires(std::is_constructible_v<std::string, Args&&>&&...) cmd
    command(const context& ctx, std::string name, Args&&... args) {
  std::vector<std::string> v;
  v.reserve(sizeof...(Args) + 1);
  v.push_back(name);
  detail::append_args(v, std::forward<Args>(args)...);
  return cmd(ctx, std::move(name), std::move(v));
}
template <class... Args>
requires(std::is_constructible_v<std::string, Args&&>&&...) cmd
    command(std::string name, Args&&... args) {
  return command(context::background(), std::move(name), std::forward<Args>(args)...);
}
inline cmd command(const context& ctx, std::string name, const std::vector<std::string>& args) {
  std::vector<std::string> v;
  v.reserve(args.size() + 1);
  v.push_back(name);
  v.insert(v.end(), args.begin(), args.end());
  return cmd(ctx, std::move(name), std::move(v));
}
inline cmd command(std::string name, const std::vector<std::string>& args) {
  return command(context::background(), std::move(name), args);
}

}  // namespace goro::exec
