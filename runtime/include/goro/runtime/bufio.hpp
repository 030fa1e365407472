// goro/runtime/bufio.hpp: Go's bufio.Reader and bufio.Writer over any goro stream (net::conn,
// fs::file, io::pipe ends, exec's pipes: anything meeting goro::io::reader / writer).
//
//   goro::bufio::reader in(conn);                    // keeps a reference: conn must outlive it
//   while (auto line = in.read_line()) handle(*line); // without "\n" / "\r\n"; nullopt at the end
//   goro::bufio::writer out(conn);
//   out.write("HTTP/1.0 200 OK\r\n");
//   out.flush();                                     // as in Go, nothing is flushed implicitly
//
// Both are themselves a reader / writer, so they compose (io::copy(out, in)). Not thread-safe:
// one coroutine uses a bufio object at a time.
#pragma once

#include <goro/runtime/error.hpp>
#include <goro/runtime/io.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace goro::bufio {

inline constexpr std::size_t default_size = 4096;

template <io::reader R>
class reader {
 public:
  // size: the buffer's capacity (at least 16), hence the largest peek().
  explicit reader(R& src, std::size_t size = default_size)
      : src_(&src), buf_(std::max<std::size_t>(size, 16)) {}

  std::size_t size() const noexcept { return buf_.size(); }
  // Bytes that can be read without touching the underlying stream.
  std::size_t buffered() const noexcept { return w_ - r_; }

  // Go's Read: what is buffered (at most n); if nothing is, one read of the stream (straight
  // into buf when n is at least the buffer's size). 0 with ec clear at end of stream.
  std::size_t read(void* buf, std::size_t n, std::error_code& ec) {
    ec.clear();
    if (n == 0) return 0;
    if (r_ == w_) {
      if (eof_) return 0;
      if (n >= buf_.size()) {
        std::size_t k = src_->read(buf, n, ec);
        if (!ec && k == 0) eof_ = true;
        return k;
      }
      r_ = w_ = 0;
      std::size_t k = src_->read(buf_.data(), buf_.size(), ec);
      if (ec) return 0;
      if (k == 0) {
        eof_ = true;
        return 0;
      }
      w_ = k;
    }
    std::size_t k = std::min(n, w_ - r_);
    std::memcpy(buf, buf_.data() + r_, k);
    r_ += k;
    return k;
  }
  std::size_t read(void* buf, std::size_t n) {
    std::error_code ec;
    std::size_t k = read(buf, n, ec);
    if (ec) throw std::system_error(ec, "goro::bufio::reader::read");
    return k;
  }

  // Go's Peek: the next n bytes without consuming them (valid until the next call on this
  // reader). Fewer than n only with ec set: goro::errc::eof (the stream ended first),
  // std::errc::value_too_large (n > size(), Go's ErrBufferFull), or the stream's error.
  std::string_view peek(std::size_t n, std::error_code& ec) {
    ec.clear();
    if (n > buf_.size()) {
      ec = std::make_error_code(std::errc::value_too_large);
      n = buf_.size();
    }
    std::error_code fill_ec;
    while (w_ - r_ < n && fill(fill_ec)) {
    }
    if (w_ - r_ < n && !ec) ec = fill_ec ? fill_ec : make_error_code(errc::eof);
    return {buf_.data() + r_, std::min(n, w_ - r_)};
  }
  std::string_view peek(std::size_t n) {
    std::error_code ec;
    std::string_view v = peek(n, ec);
    if (ec) throw std::system_error(ec, "goro::bufio::reader::peek");
    return v;
  }

  // Go's ReadString(delim): everything up to and including the first delim. If the stream ends
  // first: what came before the end, with ec goro::errc::eof (so "" with eof at the very end).
  std::string read_until(char delim, std::error_code& ec) {
    ec.clear();
    std::string out;
    for (;;) {
      const char* b = buf_.data() + r_;
      if (const void* hit = std::memchr(b, delim, w_ - r_)) {
        std::size_t k = static_cast<std::size_t>(static_cast<const char*>(hit) - b) + 1;
        out.append(b, k);
        r_ += k;
        return out;
      }
      out.append(b, w_ - r_);
      r_ = w_ = 0;
      if (!fill(ec)) {
        if (!ec) ec = errc::eof;
        return out;
      }
    }
  }
  // The throwing form: nullopt at the end of the stream when nothing remains; a last part
  // without delim is returned as it is (check back() == delim); other errors throw.
  std::optional<std::string> read_until(char delim) {
    std::error_code ec;
    std::string s = read_until(delim, ec);
    if (ec == errc::eof) {
      if (s.empty()) return std::nullopt;
      return s;
    }
    if (ec) throw std::system_error(ec, "goro::bufio::reader::read_until");
    return s;
  }

  // A line without its "\n" or "\r\n" (what Go's bufio.Scanner gives). A last line without a
  // newline counts as a line; after it, ec is goro::errc::eof with "" returned.
  std::string read_line(std::error_code& ec) {
    std::string s = read_until('\n', ec);
    if (ec == errc::eof && !s.empty()) ec.clear();
    if (!s.empty() && s.back() == '\n') s.pop_back();
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return s;
  }
  // nullopt at the end of the stream; other errors throw.
  std::optional<std::string> read_line() {
    std::error_code ec;
    std::string s = read_line(ec);
    if (ec == errc::eof) return std::nullopt;
    if (ec) throw std::system_error(ec, "goro::bufio::reader::read_line");
    return s;
  }

  // Go's Discard: skips n bytes; returns how many were skipped (fewer only with ec set).
  std::size_t discard(std::size_t n, std::error_code& ec) {
    ec.clear();
    std::size_t done = 0;
    while (done < n) {
      if (r_ == w_) {
        r_ = w_ = 0;
        if (!fill(ec)) {
          if (!ec) ec = errc::eof;
          return done;
        }
      }
      std::size_t k = std::min(n - done, w_ - r_);
      r_ += k;
      done += k;
    }
    return done;
  }

 private:
  // One read of the stream into the free space (moving the unread bytes to the front first).
  // false at end of stream (ec clear) or on error (ec set); true if bytes arrived.
  bool fill(std::error_code& ec) {
    ec.clear();
    if (eof_) return false;
    if (r_ > 0) {
      std::memmove(buf_.data(), buf_.data() + r_, w_ - r_);
      w_ -= r_;
      r_ = 0;
    }
    if (w_ == buf_.size()) return false;  // full (callers never ask for more than size())
    std::size_t k = src_->read(buf_.data() + w_, buf_.size() - w_, ec);
    if (ec) return false;
    if (k == 0) {
      eof_ = true;
      return false;
    }
    w_ += k;
    return true;
  }

  R* src_;
  std::vector<char> buf_;
  std::size_t r_ = 0;  // next unread byte
  std::size_t w_ = 0;  // end of the buffered bytes; invariant r_ <= w_ <= buf_.size()
  bool eof_ = false;   // the stream returned end of stream (sticky, as Go's)
};

template <io::writer W>
class writer {
 public:
  explicit writer(W& dst, std::size_t size = default_size)
      : dst_(&dst), buf_(std::max<std::size_t>(size, 16)) {}

  std::size_t size() const noexcept { return buf_.size(); }
  std::size_t buffered() const noexcept { return n_; }
  std::size_t available() const noexcept { return buf_.size() - n_; }

  // Buffers the bytes, writing full buffers to the stream (a write at least as large as the
  // buffer, with nothing buffered, goes straight through). As in Go, an error is sticky: every
  // later write and flush returns it.
  std::size_t write_all(const void* p, std::size_t n, std::error_code& ec) {
    ec = err_;
    if (ec) return 0;
    const char* s = static_cast<const char*>(p);
    std::size_t done = 0;
    while (n - done > available()) {
      std::size_t k;
      if (n_ == 0) {
        k = dst_->write_all(s + done, n - done, ec);
        if (ec) {
          err_ = ec;
          return done + k;
        }
      } else {
        k = available();
        std::memcpy(buf_.data() + n_, s + done, k);
        n_ += k;
        if (!flush(ec)) return done;  // bytes still in the buffer are not counted as written
      }
      done += k;
    }
    std::memcpy(buf_.data() + n_, s + done, n - done);
    n_ += n - done;
    return n;
  }
  std::size_t write_all(const void* p, std::size_t n) {
    std::error_code ec;
    std::size_t k = write_all(p, n, ec);
    if (ec) throw std::system_error(ec, "goro::bufio::writer::write");
    return k;
  }
  std::size_t write(const void* p, std::size_t n) { return write_all(p, n); }
  std::size_t write(std::string_view s) { return write_all(s.data(), s.size()); }
  std::size_t write(std::string_view s, std::error_code& ec) { return write_all(s.data(), s.size(), ec); }
  void write_byte(char c) { write_all(&c, 1); }

  // Writes the buffered bytes to the stream. false (ec set) on error; the bytes the stream did
  // not take stay buffered.
  bool flush(std::error_code& ec) {
    ec = err_;
    if (ec) return false;
    if (n_ == 0) return true;
    std::size_t k = dst_->write_all(buf_.data(), n_, ec);
    if (ec) {
      err_ = ec;
      std::memmove(buf_.data(), buf_.data() + k, n_ - std::min(k, n_));
      n_ -= std::min(k, n_);
      return false;
    }
    n_ = 0;
    return true;
  }
  void flush() {
    std::error_code ec;
    if (!flush(ec)) throw std::system_error(ec, "goro::bufio::writer::flush");
  }

 private:
  W* dst_;
  std::vector<char> buf_;
  std::size_t n_ = 0;     // bytes buffered
  std::error_code err_;   // the first write error (sticky)
};

}  // namespace goro::bufio
