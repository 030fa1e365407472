// goro/runtime/io.hpp: Go's io package for goro streams: the reader/writer concepts, io.Pipe,
// io.Copy, io.ReadAll.
//
//   auto [r, w] = goro::io::pipe();                 // synchronous, in memory, between coroutines
//   goro::go([w = std::move(w)]() mutable { w.write_all("hello"); w.close(); });
//   std::string all = goro::io::read_all(r);        // "hello"
//   std::size_t n = goro::io::copy(conn, file);     // file -> conn until end of file
//
// The stream convention (what net::conn, fs::file, pipe ends, exec's pipes and bufio share):
//   - reader: `std::size_t read(void* buf, std::size_t n, std::error_code& ec)`: at most n
//     bytes, waiting for at least one; returns 0 with ec clear at end of stream (Go's io.EOF);
//     on failure sets ec.
//   - writer: `std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec)`: all
//     n bytes or a failure (Go's Write contract); returns how many were written.
// Each also has a throwing form (std::system_error) without the ec argument.
#pragma once

#include <goro/runtime/error.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace goro::io {

template <class R>
concept reader = requires(R& r, void* p, std::size_t n, std::error_code& ec) {
  { r.read(p, n, ec) } -> std::convertible_to<std::size_t>;
};

template <class W>
concept writer = requires(W& w, const void* p, std::size_t n, std::error_code& ec) {
  { w.write_all(p, n, ec) } -> std::convertible_to<std::size_t>;
};

// ---- io.Pipe ----

namespace detail {
struct pipe_state;
}

// The reading half of pipe(). Move-only; destroying it closes it (as close()).
class pipe_reader {
 public:
  pipe_reader() noexcept = default;
  pipe_reader(pipe_reader&&) noexcept = default;
  pipe_reader& operator=(pipe_reader&& o) noexcept;
  ~pipe_reader();

  // Waits for a writer and takes at most n bytes of its data (the writer stays blocked until
  // its data is all taken, by this read and later ones). Returns 0 with ec clear once the writer
  // closed with close() (end of stream); close_with_error(e) on the writer gives e. After this
  // end's own close: std::errc::broken_pipe. n == 0 returns 0 at once.
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t read(void* buf, std::size_t n);

  // Writes in progress and later ones fail with std::errc::broken_pipe ("io: read/write on
  // closed pipe" in Go), or with e for close_with_error(e) (e empty: broken_pipe). The first
  // close wins; later ones do nothing.
  void close() noexcept { close_with_error({}); }
  void close_with_error(std::error_code e) noexcept;

 private:
  friend std::pair<pipe_reader, class pipe_writer> pipe();
  explicit pipe_reader(std::shared_ptr<detail::pipe_state> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::pipe_state> s_;
};

// The writing half of pipe(). Move-only; destroying it closes it (readers then see end of stream).
class pipe_writer {
 public:
  pipe_writer() noexcept = default;
  pipe_writer(pipe_writer&&) noexcept = default;
  pipe_writer& operator=(pipe_writer&& o) noexcept;
  ~pipe_writer();

  // Blocks until readers have taken all n bytes (or the pipe closes: returns what they took,
  // with ec std::errc::broken_pipe, or the reader's close_with_error code). Concurrent writers
  // are serialized: one write's bytes are never interleaved with another's. n == 0 returns 0 at
  // once (no empty message reaches a reader, which would read as end of stream).
  std::size_t write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept;
  std::size_t write_all(const void* buf, std::size_t n);
  std::size_t write_all(std::string_view s) { return write_all(s.data(), s.size()); }
  std::size_t write_all(std::string_view s, std::error_code& ec) noexcept {
    return write_all(s.data(), s.size(), ec);
  }
  std::size_t write(const void* buf, std::size_t n) { return write_all(buf, n); }
  std::size_t write(std::string_view s) { return write_all(s); }

  // Readers in progress and later ones see end of stream (close()) or e (close_with_error; e
  // empty is end of stream); a later write fails with std::errc::broken_pipe.
  void close() noexcept { close_with_error({}); }
  void close_with_error(std::error_code e) noexcept;

 private:
  friend std::pair<pipe_reader, pipe_writer> pipe();
  explicit pipe_writer(std::shared_ptr<detail::pipe_state> s) noexcept : s_(std::move(s)) {}
  std::shared_ptr<detail::pipe_state> s_;
};

// Go's io.Pipe: a synchronous in-memory pipe. No buffering: each write is handed to readers
// directly. Safe from coroutines on any worker and from plain threads; reads run in parallel
// with each other and with a write (they take successive parts of it).
std::pair<pipe_reader, pipe_writer> pipe();

// ---- helpers over any reader / writer ----

// Go's io.Copy: reads src until end of stream, writing everything to dst. Returns the bytes
// copied; on a read or write error stops with ec set (end of stream is not an error).
template <reader R, writer W>
std::size_t copy(W& dst, R& src, std::error_code& ec) {
  ec.clear();
  constexpr std::size_t chunk = 32 * 1024;
  auto buf = std::make_unique<char[]>(chunk);  // not on the coroutine's stack
  std::size_t total = 0;
  for (;;) {
    std::size_t n = src.read(buf.get(), chunk, ec);
    if (ec || n == 0) return total;
    std::size_t k = dst.write_all(buf.get(), n, ec);
    total += k;
    if (ec) return total;
    if (k != n) {  // a writer that broke its contract: Go's io.ErrShortWrite
      ec = std::make_error_code(std::errc::io_error);
      return total;
    }
  }
}
template <reader R, writer W>
std::size_t copy(W& dst, R& src) {
  std::error_code ec;
  std::size_t n = copy(dst, src, ec);
  if (ec) throw std::system_error(ec, "goro::io::copy");
  return n;
}

// Go's io.ReadFull: exactly n bytes. At end of stream: goro::errc::eof if none came,
// goro::errc::unexpected_eof if some did. Returns how many arrived.
template <reader R>
std::size_t read_full(R& src, void* buf, std::size_t n, std::error_code& ec) {
  ec.clear();
  auto* p = static_cast<char*>(buf);
  std::size_t done = 0;
  while (done < n) {
    std::size_t k = src.read(p + done, n - done, ec);
    if (ec) return done;
    if (k == 0) {
      ec = done == 0 ? errc::eof : errc::unexpected_eof;
      return done;
    }
    done += k;
  }
  return done;
}
template <reader R>
std::size_t read_full(R& src, void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = read_full(src, buf, n, ec);
  if (ec) throw std::system_error(ec, "goro::io::read_full");
  return k;
}

// Go's io.ReadAll: everything up to end of stream (what arrived before an error, with ec set).
template <reader R>
std::string read_all(R& src, std::error_code& ec) {
  ec.clear();
  std::string out;
  std::size_t len = 0;
  for (;;) {
    if (out.size() - len < 512) out.resize(out.size() < 512 ? 1024 : out.size() * 2);
    std::size_t k = src.read(out.data() + len, out.size() - len, ec);
    if (ec || k == 0) break;
    len += k;
  }
  out.resize(len);
  return out;
}
template <reader R>
std::string read_all(R& src) {
  std::error_code ec;
  std::string s = read_all(src, ec);
  if (ec) throw std::system_error(ec, "goro::io::read_all");
  return s;
}

// Go's io.WriteString.
template <writer W>
std::size_t write_string(W& dst, std::string_view s, std::error_code& ec) {
  return dst.write_all(s.data(), s.size(), ec);
}

}  // namespace goro::io
