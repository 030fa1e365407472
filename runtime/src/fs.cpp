// fs.cpp: files on the workers' io_uring rings (goro/runtime/fs.hpp). Every call is one or more
// sched::io_op requests (openat, read, write, fsync, close); the kernel runs them inline when it
// can (data in the page cache) and on its io-wq threads when they would block, so a goro worker
// never waits for a disk.
#include <goro/runtime/fs.hpp>
#include <goro/sched/io.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <utility>

namespace goro::fs {

namespace {

constexpr std::uint64_t at_position = static_cast<std::uint64_t>(-1);

[[noreturn]] void throw_error(std::error_code ec, const char* op, const std::string& path) {
  if (ec == std::errc::operation_not_permitted && !sched::in_coroutine())
    throw std::logic_error(std::string("goro::fs: ") + op + " " + path +
                           ": must be called from a coroutine (inside goro::run)");
  throw std::system_error(ec, std::string("goro::fs: ") + op + " " + path);
}

// Runs one request; result >= 0, or -1 with ec set.
long run(const sched::io_args& a, std::error_code& ec) noexcept {
  if (!sched::in_coroutine()) {
    ec = std::make_error_code(std::errc::operation_not_permitted);
    return -1;
  }
  sched::io_op op(a);
  int r = op.run();
  if (r < 0) {
    ec = std::error_code(-r, std::system_category());
    return -1;
  }
  return r;
}

}  // namespace

file& file::operator=(file&& o) noexcept {
  if (this != &o) {
    std::error_code ignored;
    close(ignored);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

file::~file() {
  if (fd_ >= 0) ::close(fd_);  // no parking in a destructor: a plain close
}

file file::open(const std::string& path, int flags, unsigned mode, std::error_code& ec) noexcept {
  ec.clear();
  sched::io_args a{.kind = sched::io_kind::openat, .fd = AT_FDCWD, .flags = flags | O_CLOEXEC,
                   .mode = mode, .path = path.c_str()};
  long fd = run(a, ec);
  if (fd < 0) return file();
  return file(static_cast<int>(fd), path);
}

file file::open(const std::string& path, int flags, unsigned mode) {
  std::error_code ec;
  file f = open(path, flags, mode, ec);
  if (ec) throw_error(ec, "open", path);
  return f;
}

std::size_t file::rw(bool writing, void* buf, std::size_t n, std::uint64_t off,
                     std::error_code& ec) noexcept {
  ec.clear();
  if (fd_ < 0) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return 0;
  }
  auto* p = static_cast<char*>(buf);
  std::size_t done = 0;
  do {
    const auto len = static_cast<std::uint32_t>(std::min<std::size_t>(n - done, 1u << 30));
    sched::io_args a{.kind = writing ? sched::io_kind::write : sched::io_kind::read, .fd = fd_,
                     .buf = p + done, .len = len,
                     .offset = off == at_position ? at_position : off + done};
    long r = run(a, ec);
    if (r < 0) break;
    done += static_cast<std::size_t>(r);
    if (!writing || r == 0) break;  // a read returns what it got; a write goes on until all is out
  } while (done < n);
  return done;
}

std::size_t file::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  return rw(false, buf, n, at_position, ec);
}
std::size_t file::read_at(void* buf, std::size_t n, std::uint64_t off, std::error_code& ec) noexcept {
  return rw(false, buf, n, off, ec);
}
std::size_t file::write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept {
  return rw(true, const_cast<void*>(buf), n, at_position, ec);
}
std::size_t file::write_at(const void* buf, std::size_t n, std::uint64_t off,
                           std::error_code& ec) noexcept {
  return rw(true, const_cast<void*>(buf), n, off, ec);
}

std::size_t file::read(void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = read(buf, n, ec);
  if (ec) throw_error(ec, "read", path_);
  return k;
}
std::size_t file::read_at(void* buf, std::size_t n, std::uint64_t off) {
  std::error_code ec;
  std::size_t k = read_at(buf, n, off, ec);
  if (ec) throw_error(ec, "read", path_);
  return k;
}
std::size_t file::write_all(const void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = write_all(buf, n, ec);
  if (ec) throw_error(ec, "write", path_);
  return k;
}
std::size_t file::write_at(const void* buf, std::size_t n, std::uint64_t off) {
  std::error_code ec;
  std::size_t k = write_at(buf, n, off, ec);
  if (ec) throw_error(ec, "write", path_);
  return k;
}

void file::fsync(std::error_code& ec) noexcept {
  ec.clear();
  if (fd_ < 0) {
    ec = std::make_error_code(std::errc::bad_file_descriptor);
    return;
  }
  run(sched::io_args{.kind = sched::io_kind::fsync, .fd = fd_}, ec);
}
void file::fsync() {
  std::error_code ec;
  fsync(ec);
  if (ec) throw_error(ec, "fsync", path_);
}

std::uint64_t file::size() const {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0)
    throw_error(std::error_code(fd_ < 0 ? EBADF : errno, std::system_category()), "stat", path_);
  return static_cast<std::uint64_t>(st.st_size);
}

void file::close(std::error_code& ec) noexcept {
  ec.clear();
  if (fd_ < 0) return;
  const int fd = std::exchange(fd_, -1);
  if (sched::in_coroutine())
    run(sched::io_args{.kind = sched::io_kind::close, .fd = fd}, ec);
  else if (::close(fd) != 0)
    ec = std::error_code(errno, std::system_category());
}
void file::close() {
  std::error_code ec;
  close(ec);
  if (ec) throw_error(ec, "close", path_);
}

std::string read_file(const std::string& path) {
  file f = file::open(path);
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    std::size_t n = f.read(buf, sizeof buf);
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

void write_file(const std::string& path, std::string_view data) {
  file f = file::create(path);
  f.write_all(data);
  f.close();
}

}  // namespace goro::fs
