// io.cpp: goro::io::pipe (goro/runtime/io.hpp), Go's io.Pipe on goro channels.
//
// The handshake: a writer sends its whole remaining buffer (pointer, length) on wr_ch, an
// unbuffered channel, so the send completes only when a reader has taken it; that reader copies
// what fits and sends the count back on rd_ch; the writer waits for the count, advances and goes
// round again until nothing is left. The writer's buffer is only read while the writer is parked
// in rd_ch.recv(), so it stays alive. done is closed once, by the first close of either end;
// every wait also selects on done, so a close ends the waits in progress on both sides.
// Writers hold wr_mu for the whole write: two writes never interleave.
//
// Lock order: wr_mu (a goro::mutex, held across parks), then the channels' own locks; err_mu is a
// leaf held for a few loads and stores (never across a park or a channel operation).
#include <goro/channels/chan.hpp>
#include <goro/channels/select.hpp>
#include <goro/runtime/io.hpp>
#include <goro/runtime/sync.hpp>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <variant>

namespace goro::io {

namespace detail {

struct pipe_state {
  goro::mutex wr_mu;
  chan<std::pair<const char*, std::size_t>> wr_ch;  // unbuffered: the send is the hand-over
  chan<std::size_t> rd_ch;                           // unbuffered: bytes the reader took
  chan<std::monostate> done;                         // closed by the first close of either end

  std::mutex err_mu;
  bool rclosed = false;  // guarded by err_mu
  bool wclosed = false;  // guarded by err_mu
  std::error_code rerr;  // the reader's close error (broken_pipe if none was given)
  std::error_code werr;  // the writer's close error (empty: end of stream)

  void close(bool reading, std::error_code e) noexcept {
    bool first;
    {
      std::lock_guard lk(err_mu);
      bool& mine = reading ? rclosed : wclosed;
      if (mine) return;  // the first close of an end wins
      first = !rclosed && !wclosed;
      mine = true;
      if (reading)
        rerr = e ? e : std::make_error_code(std::errc::broken_pipe);
      else
        werr = e;
    }
    if (first) done.close();
  }
  // What a read returns once done is closed: the writer's code (empty: end of stream) if only
  // the writer closed, else broken_pipe.
  std::error_code read_close_error() noexcept {
    std::lock_guard lk(err_mu);
    if (!rclosed && wclosed) return werr;
    return std::make_error_code(std::errc::broken_pipe);
  }
  std::error_code write_close_error() noexcept {
    std::lock_guard lk(err_mu);
    if (!wclosed && rclosed) return rerr;
    return std::make_error_code(std::errc::broken_pipe);
  }
};

}  // namespace detail

std::pair<pipe_reader, pipe_writer> pipe() {
  auto s = std::make_shared<detail::pipe_state>();
  return {pipe_reader(s), pipe_writer(s)};
}

// ---- reader ----

pipe_reader& pipe_reader::operator=(pipe_reader&& o) noexcept {
  if (this != &o) {
    close();
    s_ = std::move(o.s_);
  }
  return *this;
}
pipe_reader::~pipe_reader() { close(); }

void pipe_reader::close_with_error(std::error_code e) noexcept {
  if (s_) s_->close(true, e);
}

std::size_t pipe_reader::read(void* buf, std::size_t n, std::error_code& ec) noexcept {
  ec.clear();
  if (!s_) {
    ec = std::make_error_code(std::errc::broken_pipe);
    return 0;
  }
  if (n == 0) return 0;
  detail::pipe_state& s = *s_;
  if (s.done.closed()) {
    ec = s.read_close_error();
    return 0;
  }
  std::optional<std::pair<const char*, std::size_t>> msg;
  try {
    goro::select(goro::on_recv(s.wr_ch, [&](std::optional<std::pair<const char*, std::size_t>> m) {
                   msg = m;
                 }),
                 goro::on_recv(s.done));
    if (!msg) {
      ec = s.read_close_error();
      return 0;
    }
    const std::size_t k = std::min(n, msg->second);
    std::memcpy(buf, msg->first, k);
    s.rd_ch.send(k);  // the writer waits for exactly this (never closed, never a select)
    return k;
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
    return 0;
  }
}

std::size_t pipe_reader::read(void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = read(buf, n, ec);
  if (ec) throw std::system_error(ec, "goro::io::pipe_reader::read");
  return k;
}

// ---- writer ----

pipe_writer& pipe_writer::operator=(pipe_writer&& o) noexcept {
  if (this != &o) {
    close();
    s_ = std::move(o.s_);
  }
  return *this;
}
pipe_writer::~pipe_writer() { close(); }

void pipe_writer::close_with_error(std::error_code e) noexcept {
  if (s_) s_->close(false, e);
}

std::size_t pipe_writer::write_all(const void* buf, std::size_t n, std::error_code& ec) noexcept {
  ec.clear();
  if (!s_) {
    ec = std::make_error_code(std::errc::broken_pipe);
    return 0;
  }
  detail::pipe_state& s = *s_;
  if (s.done.closed()) {
    ec = s.write_close_error();
    return 0;
  }
  if (n == 0) return 0;
  const char* p = static_cast<const char*>(buf);
  std::size_t total = 0;
  try {
    std::lock_guard lk(s.wr_mu);
    while (total < n) {
      std::size_t i = goro::select(goro::on_send(s.wr_ch, std::pair{p + total, n - total}),
                                   goro::on_recv(s.done));
      if (i == 1) {
        ec = s.write_close_error();
        return total;
      }
      total += *s.rd_ch.recv();  // the reader that took the buffer always answers
    }
  } catch (const std::bad_alloc&) {
    ec = std::make_error_code(std::errc::not_enough_memory);
  }
  return total;
}

std::size_t pipe_writer::write_all(const void* buf, std::size_t n) {
  std::error_code ec;
  std::size_t k = write_all(buf, n, ec);
  if (ec) throw std::system_error(ec, "goro::io::pipe_writer::write_all");
  return k;
}

}  // namespace goro::io
