// goro/runtime/fs.hpp: files through the workers' io_uring rings (Go's os.File, reduced).
//
//   auto f = goro::fs::file::create("/tmp/out");     // O_RDWR | O_CREAT | O_TRUNC, 0644
//   f.write_all("hello\n");
//   f.fsync();
//   auto g = goro::fs::file::open("/tmp/out");       // read-only
//   char buf[64];
//   std::size_t n = g.read_at(buf, sizeof buf, 0);   // pread: the position is not moved
//   std::string all = goro::fs::read_file("/tmp/out");
//
// Each call parks only the calling coroutine while the kernel works (a cold read waits for the
// disk in the kernel's own worker threads, not on a goro worker). Errors: std::system_error with
// the operation and the path in what(), or the std::error_code overloads. Called outside a
// coroutine, they throw std::logic_error. A file is used by one coroutine at a time for read()
// and write() (they move the shared position); read_at/write_at may run concurrently.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace goro::fs {

class file {
 public:
  file() noexcept = default;
  file(file&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
  file& operator=(file&& o) noexcept;
  file(const file&) = delete;
  file& operator=(const file&) = delete;
  ~file();  // closes (errors ignored; call close() to see them)

  static file open(const std::string& path, int flags = O_RDONLY, unsigned mode = 0644);
  static file open(const std::string& path, int flags, unsigned mode, std::error_code& ec) noexcept;
  static file create(const std::string& path) { return open(path, O_RDWR | O_CREAT | O_TRUNC, 0644); }

  // Reads at most n bytes at the file position (advancing it); 0 at end of file.
  std::size_t read(void* buf, std::size_t n);
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  // Reads at most n bytes at offset off; 0 at or past end of file. The position is unchanged.
  std::size_t read_at(void* buf, std::size_t n, std::uint64_t off);
  std::size_t read_at(void* buf, std::size_t n, std::uint64_t off, std::error_code& ec) noexcept;
  // Writes all n bytes at the position (advancing it) or at off; returns n, or fewer on error.
  std::size_t write_all(const void* buf, std::size_t n);
  std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write_all(std::string_view s) { return write_all(s.data(), s.size()); }
  std::size_t write_at(const void* buf, std::size_t n, std::uint64_t off);
  std::size_t write_at(const void* buf, std::size_t n, std::uint64_t off, std::error_code& ec) noexcept;
  void fsync();
  void fsync(std::error_code& ec) noexcept;
  std::uint64_t size() const;  // fstat
  void close();
  void close(std::error_code& ec) noexcept;

  bool is_open() const noexcept { return fd_ >= 0; }
  int native_handle() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }

 private:
  file(int fd, std::string path) noexcept : fd_(fd), path_(std::move(path)) {}
  std::size_t rw(bool writing, void* buf, std::size_t n, std::uint64_t off, std::error_code& ec) noexcept;
  int fd_ = -1;
  std::string path_;
};

// The whole file as a string; the whole string as the file's new contents (created 0644).
std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view data);

}  // namespace goro::fs
