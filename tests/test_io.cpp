// goro::io (concepts, pipe, copy, read_full, read_all) and goro::bufio.
#include <doctest/doctest.h>
#include <goro/goro.hpp>
#include <goro/runtime/bufio.hpp>
#include <goro/runtime/io.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "chan_support.hpp"

using namespace std::chrono_literals;
using goro_test::watchdog;
namespace io = goro::io;

static_assert(io::reader<goro::net::conn> && io::writer<goro::net::conn>);
static_assert(io::reader<goro::fs::file> && io::writer<goro::fs::file>);
static_assert(io::reader<io::pipe_reader> && io::writer<io::pipe_writer>);
static_assert(!io::writer<io::pipe_reader> && !io::reader<io::pipe_writer>);
static_assert(io::reader<goro::bufio::reader<io::pipe_reader>>);
static_assert(io::writer<goro::bufio::writer<io::pipe_writer>>);

namespace {

// A reader over a string that hands out at most `step` bytes per read (to exercise refills).
struct string_reader {
  std::string data;
  std::size_t step = 3;
  std::size_t pos = 0;
  int reads = 0;
  std::size_t read(void* p, std::size_t n, std::error_code& ec) {
    ec.clear();
    ++reads;
    std::size_t k = std::min({n, step, data.size() - pos});
    std::memcpy(p, data.data() + pos, k);
    pos += k;
    return k;
  }
};

// A writer that records its writes and fails after `limit` bytes (with broken_pipe).
struct string_writer {
  std::string data;
  std::size_t limit = static_cast<std::size_t>(-1);
  int writes = 0;
  std::size_t write_all(const void* p, std::size_t n, std::error_code& ec) {
    ec.clear();
    ++writes;
    std::size_t k = std::min(n, limit - data.size());
    data.append(static_cast<const char*>(p), k);
    if (k < n) ec = std::make_error_code(std::errc::broken_pipe);
    return k;
  }
};

}  // namespace

TEST_CASE("io: pipe hands each write to readers synchronously") {
  watchdog wd("io pipe sync");
  goro::run([] {
    auto [r, w] = io::pipe();
    std::atomic<bool> written{false};
    auto writer = goro::spawn([&, w = std::move(w)]() mutable {
      w.write_all("hello world");  // 11 bytes: blocks until they are all taken
      written = true;
      w.close();
    });
    goro_test::let_others_run();
    CHECK(!written.load());  // nobody read: the write is still blocked
    char buf[5];
    CHECK(r.read(buf, 5) == 5);
    CHECK(std::string(buf, 5) == "hello");
    goro_test::let_others_run();
    CHECK(!written.load());  // 6 bytes still untaken
    std::string rest = io::read_all(r);
    CHECK(rest == " world");
    writer.get();
    CHECK(written.load());
    // after the writer's close: end of stream, again and again
    std::error_code ec;
    CHECK(r.read(buf, 5, ec) == 0);
    CHECK(!ec);
  });
}

TEST_CASE("io: pipe close errors follow Go's io.Pipe") {
  watchdog wd("io pipe close");
  goro::run([] {
    {  // write after the reader closed: broken_pipe
      auto [r, w] = io::pipe();
      r.close();
      std::error_code ec;
      CHECK(w.write_all("x", 1, ec) == 0);
      CHECK(ec == std::errc::broken_pipe);
      CHECK_THROWS_AS(w.write_all("x"), std::system_error);
      char c;
      CHECK(r.read(&c, 1, ec) == 0);  // reading one's own closed end
      CHECK(ec == std::errc::broken_pipe);
    }
    {  // a blocked write ends when the reader closes, with the reader's error
      auto [r, w] = io::pipe();
      auto wr = goro::spawn([w = std::move(w)]() mutable {
        std::error_code ec;
        std::size_t n = w.write_all("abcdef", 6, ec);
        return std::pair{n, ec};
      });
      char buf[2];
      CHECK(r.read(buf, 2) == 2);
      r.close_with_error(goro::errc::canceled);
      auto [n, ec] = wr.get();
      CHECK(n == 2);
      CHECK(ec == goro::errc::canceled);
    }
    {  // a blocked read ends when the writer closes with an error
      auto [r, w] = io::pipe();
      auto rd = goro::spawn([r = std::move(r)]() mutable {
        char c;
        std::error_code ec;
        r.read(&c, 1, ec);
        return ec;
      });
      goro_test::let_others_run();
      w.close_with_error(std::make_error_code(std::errc::connection_reset));
      CHECK(rd.get() == std::errc::connection_reset);
    }
    {  // destroying the writer is end of stream for the reader
      auto [r, w] = io::pipe();
      { auto gone = std::move(w); }
      char c;
      std::error_code ec;
      CHECK(r.read(&c, 1, ec) == 0);
      CHECK(!ec);
      // empty writes never reach a reader
      auto [r2, w2] = io::pipe();
      CHECK(w2.write_all("", 0, ec) == 0);
      CHECK(!ec);
    }
  });
}

TEST_CASE("io: pipe writes never interleave, with many readers and writers and a plain thread") {
  watchdog wd("io pipe concurrent");
  constexpr int writers = 8, per = 50, len = 100;
  std::string all;
  goro::run([&] {
    auto [r, w] = io::pipe();
    auto wp = std::make_shared<io::pipe_writer>(std::move(w));
    goro::wait_group wg;
    for (int i = 0; i < writers; ++i) {
      wg.add(1);
      goro::go([&wg, wp, i] {
        std::string msg(len, static_cast<char>('a' + i));
        for (int k = 0; k < per; ++k) wp->write_all(msg);
        wg.done();
      });
    }
    // a plain thread writes too (it blocks its thread, not a worker)
    std::thread t([wp] {
      std::string msg(len, 'Z');
      for (int k = 0; k < per; ++k) wp->write_all(msg);
    });
    goro::go([&wg, wp, &t]() mutable {
      wg.wait();
      goro::blocking([&] { t.join(); });
      wp->close();
    });
    // the reader reads in exact message-sized pieces: each must be one writer's
    std::string piece(len, '\0');
    std::error_code ec;
    for (;;) {
      std::size_t n = io::read_full(r, piece.data(), len, ec);
      if (ec) break;
      REQUIRE(n == len);
      all += piece;
    }
    CHECK(ec == goro::errc::eof);
    wp.reset();
  });
  CHECK(all.size() == std::size_t((writers + 1) * per * len));
  bool uniform = true;
  for (std::size_t i = 0; i < all.size(); i += len)
    for (std::size_t j = 0; j < len; ++j) uniform = uniform && all[i + j] == all[i];
  CHECK(uniform);
}

TEST_CASE("io: copy moves a pipe to a file and back, counting bytes") {
  watchdog wd("io copy");
  char tmpl[] = "/tmp/goro_io_copy_XXXXXX";
  int fd = ::mkstemp(tmpl);
  REQUIRE(fd >= 0);
  ::close(fd);
  const std::string path = tmpl;
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>('0' + i % 43);
  std::size_t copied = 0, back = 0;
  std::string got;
  goro::run([&] {
    auto [r, w] = io::pipe();
    goro::go([&data, w = std::move(w)]() mutable {
      for (std::size_t i = 0; i < data.size(); i += 7000)
        w.write_all(data.data() + i, std::min<std::size_t>(7000, data.size() - i));
    });  // w destroyed: end of stream
    auto f = goro::fs::file::create(path);
    copied = io::copy(f, r);
    auto g = goro::fs::file::open(path);
    auto [r2, w2] = io::pipe();
    auto reader = goro::spawn([r2 = std::move(r2)]() mutable { return io::read_all(r2); });
    back = io::copy(w2, g);
    w2.close();
    got = reader.get();
    // a failing writer: copy stops with its error and the count it took
    string_reader src{data, 1000};
    string_writer dst{{}, 2500};
    std::error_code ec;
    CHECK(io::copy(dst, src, ec) == 2500);
    CHECK(ec == std::errc::broken_pipe);
  });
  ::unlink(path.c_str());
  CHECK(copied == data.size());
  CHECK(back == data.size());
  CHECK(got == data);
}

TEST_CASE("io: bufio reader read_line, read_until, peek, read, buffered") {
  string_reader src{"first line\nsecond\r\n\nno newline at end", 3};
  goro::bufio::reader br(src, 16);
  CHECK(br.size() == 16);
  CHECK(br.peek(4) == "firs");
  CHECK(br.buffered() >= 4);
  CHECK(*br.read_line() == "first line");
  CHECK(*br.read_line() == "second");
  CHECK(*br.read_line() == "");
  CHECK(*br.read_line() == "no newline at end");
  CHECK(!br.read_line());
  std::error_code ec;
  CHECK(br.read_line(ec) == "");
  CHECK(ec == goro::errc::eof);

  string_reader s2{"a,bb,ccc", 2};
  goro::bufio::reader b2(s2);
  CHECK(*b2.read_until(',') == "a,");
  CHECK(b2.read_until(',', ec) == "bb,");
  CHECK(!ec);
  CHECK(b2.read_until(',', ec) == "ccc");
  CHECK(ec == goro::errc::eof);
  CHECK(!b2.read_until(','));

  // peek beyond the buffer: value_too_large with what fits; at the end: eof with what is left
  string_reader s3{std::string(40, 'x') + "tail", 7};
  goro::bufio::reader b3(s3, 16);
  auto v = b3.peek(17, ec);
  CHECK(ec == std::errc::value_too_large);
  CHECK(v.size() == 16);
  CHECK(b3.discard(40, ec) == 40);
  CHECK(!ec);
  v = b3.peek(10, ec);
  CHECK(ec == goro::errc::eof);
  CHECK(v == "tail");
  CHECK_THROWS_AS(b3.peek(10), std::system_error);
  char buf[10];
  CHECK(b3.read(buf, 10) == 4);
  CHECK(std::string(buf, 4) == "tail");
  CHECK(b3.read(buf, 10) == 0);

  // a large read with an empty buffer goes straight to the stream
  string_reader s4{std::string(100, 'y'), 100};
  goro::bufio::reader b4(s4, 16);
  char big[64];
  CHECK(b4.read(big, 64) == 64);
  CHECK(s4.reads == 1);
  CHECK(b4.buffered() == 0);
}

TEST_CASE("io: bufio writer buffers, flushes, and keeps its first error") {
  string_writer dst;
  goro::bufio::writer bw(dst, 16);
  CHECK(bw.available() == 16);
  bw.write("hello ");
  CHECK(bw.buffered() == 6);
  CHECK(bw.available() == 10);
  CHECK(dst.writes == 0);
  bw.write("world, this is longer");  // overflows: one buffer-full write
  CHECK(dst.data == "hello world, thi");
  bw.flush();
  CHECK(dst.data == "hello world, this is longer");
  CHECK(bw.buffered() == 0);
  std::string big(100, 'q');
  int before = dst.writes;
  bw.write(big);  // empty buffer, large write: straight through
  CHECK(dst.writes == before + 1);

  string_writer small{{}, 10};
  goro::bufio::writer bad(small, 16);
  std::error_code ec;
  bad.write("0123456789abcdef", ec);  // fits the buffer exactly: no write yet
  CHECK(!ec);
  CHECK(!bad.flush(ec));
  CHECK(ec == std::errc::broken_pipe);
  CHECK(bad.buffered() == 6);
  bad.write("more", ec);
  CHECK(ec == std::errc::broken_pipe);  // sticky
  CHECK_THROWS_AS(bad.flush(), std::system_error);
}

TEST_CASE("io: bufio over a pipe between coroutines") {
  watchdog wd("io bufio pipe");
  std::vector<std::string> lines;
  goro::run([&] {
    auto [r, w] = io::pipe();
    goro::go([w = std::move(w)]() mutable {
      goro::bufio::writer out(w, 64);
      for (int i = 0; i < 200; ++i) out.write("line " + std::to_string(i) + "\n");
      out.flush();
    });
    goro::bufio::reader in(r, 32);
    while (auto l = in.read_line()) lines.push_back(*l);
  });
  REQUIRE(lines.size() == 200);
  CHECK(lines[0] == "line 0");
  CHECK(lines[199] == "line 199");
}
