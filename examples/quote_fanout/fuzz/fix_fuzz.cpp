// fix_fuzz: a libFuzzer target for the FIX framer, parser and decoders (see ../README.md).
//
// For every input it checks, besides the sanitizers' "no crash, no leak, no out-of-bounds read":
//   1. Framing does not depend on how the bytes arrive: all at once, byte by byte, and in chunks
//      of sizes drawn from the input give the same frames (offset and bytes) and the same errors.
//   2. Every frame is what it claims: "8=FIX.4.4|9=<len>|", a body of that length, "10=ddd|" with
//      the right checksum.
//   3. Every frame that parses and decodes as a typed message re-encodes into a message that
//      frames, parses and decodes to the same values.
// A violation aborts (a finding).
#include "fix.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace fix = qf::fix;

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "fix_fuzz: %s\n", what);
  std::abort();
}
#define CHECK(c) \
  do {           \
    if (!(c)) fail(#c); \
  } while (0)

struct event {
  fix::framer::status st;
  fix::errc code;
  std::uint64_t offset;
  std::string bytes;  // a frame's
  bool operator==(const event&) const = default;
};

fix::framer_options small_framer() {
  fix::framer_options o;
  o.max_body_length = 2048;  // small: the limit and the buffer's compaction get exercised
  o.buffer_size = 0;
  return o;
}

void check_frame(const fix::frame& f) {
  CHECK(f.bytes.substr(0, 12) == std::string_view("8=FIX.4.4\x01" "9=", 12));
  CHECK(f.bytes.size() >= f.body.size() + 7);
  CHECK(f.body.data() + f.body.size() + 7 == f.bytes.data() + f.bytes.size());
  const std::string_view len = f.bytes.substr(12, static_cast<std::size_t>(f.body.data() - f.bytes.data()) - 13);
  std::uint64_t n = 0;
  CHECK(fix::parse_uint(len, n) && n == f.body.size());
  const std::string_view tr = f.bytes.substr(f.bytes.size() - 7);
  CHECK(tr.substr(0, 3) == "10=" && tr[6] == '\x01');
  const unsigned sum = static_cast<unsigned>((tr[3] - '0') * 100 + (tr[4] - '0') * 10 + (tr[5] - '0'));
  CHECK(sum == fix::checksum(f.bytes.substr(0, f.bytes.size() - 7)));
  CHECK(!f.body.empty() && f.body.back() == '\x01');
}

// Frames exactly one message from bytes; returns it in m (the framer must outlive the use of m).
bool reframe(fix::framer& fr, std::string_view bytes, fix::message& m) {
  CHECK(fr.feed(bytes) == bytes.size());
  const fix::framer::result r = fr.next();
  if (r.st != fix::framer::status::frame) {
    std::fprintf(stderr, "re-encoded: %s\n", r.err.message().c_str());
    return false;
  }
  CHECK(r.f.bytes.size() == bytes.size());
  CHECK(fr.next().st == fix::framer::status::need_more);
  const fix::error e = m.parse(r.f);
  if (e) std::fprintf(stderr, "re-encoded: %s\n", e.message().c_str());
  return !e;
}

template <class T, class Eq>
void round_trip(const fix::message& m, Eq eq) {
  T v{};
  if (fix::decode(m, v)) return;
  std::string out;
  const fix::header h{m.sender(), m.target(), m.seq(), m.sending_time_ns()};
  const std::string_view enc = fix::encode(out, h, v);
  fix::framer_options o;
  o.max_body_length = 8192;
  o.buffer_size = 0;
  fix::framer fr(o);
  fix::message m2;
  if (!reframe(fr, enc, m2)) fail("a decoded message does not re-encode to a valid frame");
  CHECK(m2.type() == m.type() && m2.seq() == m.seq() && m2.sender() == m.sender() &&
        m2.target() == m.target() && m2.sending_time_ns() == m.sending_time_ns());
  T v2{};
  const fix::error e = fix::decode(m2, v2);
  if (e) {
    std::fprintf(stderr, "%s\n", e.message().c_str());
    fail("a re-encoded message does not decode");
  }
  if (!eq(v, v2)) fail("a re-encoded message decodes to other values");
}

void on_frame(const fix::frame& f, fix::message& m) {
  check_frame(f);
  const fix::error e = m.parse(f);
  if (e) {
    (void)e.message();
    return;
  }
  for (const fix::field& fl : m.fields()) CHECK(m.find(fl.tag) != nullptr && !fl.value.empty());
  switch (m.type()) {
    case fix::msg_type::logon:
      round_trip<fix::logon>(m, [](const auto& a, const auto& b) {
        return a.heartbeat_interval_s == b.heartbeat_interval_s && a.reset_seq_num == b.reset_seq_num;
      });
      break;
    case fix::msg_type::logout:
      round_trip<fix::logout>(m, [](const auto& a, const auto& b) { return a.text == b.text; });
      break;
    case fix::msg_type::heartbeat:
      round_trip<fix::heartbeat>(m, [](const auto& a, const auto& b) { return a.test_req_id == b.test_req_id; });
      break;
    case fix::msg_type::test_request:
      round_trip<fix::test_request>(m, [](const auto& a, const auto& b) { return a.test_req_id == b.test_req_id; });
      break;
    case fix::msg_type::quote:
      round_trip<fix::quote>(m, [](const auto& a, const auto& b) { return a == b; });
      break;
    case fix::msg_type::new_order_single:
      round_trip<fix::new_order_single>(m, [](const auto& a, const auto& b) {
        return a.cl_ord_id == b.cl_ord_id && a.sym == b.sym && a.sd == b.sd && a.qty == b.qty &&
               a.type == b.type && (a.type != fix::ord_type::limit || a.limit_price == b.limit_price) &&
               a.transact_time_ns == b.transact_time_ns;
      });
      break;
    case fix::msg_type::execution_report:
      round_trip<fix::execution_report>(m, [](const auto& a, const auto& b) {
        return a.order_id == b.order_id && a.exec_id == b.exec_id && a.cl_ord_id == b.cl_ord_id &&
               a.etype == b.etype && a.status == b.status && a.sym == b.sym && a.sd == b.sd &&
               a.order_qty == b.order_qty && a.last_qty == b.last_qty && a.last_px == b.last_px &&
               a.leaves_qty == b.leaves_qty && a.cum_qty == b.cum_qty && a.avg_px == b.avg_px &&
               a.transact_time_ns == b.transact_time_ns && a.text == b.text;
      });
      break;
    case fix::msg_type::resend_request:
    case fix::msg_type::reject:
    case fix::msg_type::sequence_reset:
    case fix::msg_type::business_message_reject:
      break;  // session-level messages: the framing and field checks above cover them
  }
}

// Frames data fed in chunks (chunk(i) gives the i-th chunk's size); the events, in order.
template <class Chunk>
std::vector<event> run(const std::uint8_t* data, std::size_t size, Chunk chunk, bool deep) {
  std::vector<event> ev;
  fix::framer fr(small_framer());
  fix::message m;
  auto drain = [&] {
    for (;;) {
      const fix::framer::result r = fr.next();
      if (r.st == fix::framer::status::need_more) return;
      if (r.st == fix::framer::status::frame) {
        ev.push_back({r.st, fix::errc::ok, r.f.offset, std::string(r.f.bytes)});
        if (deep) on_frame(r.f, m);
      } else {
        CHECK(r.err.code != fix::errc::ok);
        if (deep) (void)r.err.message();
        ev.push_back({r.st, r.err.code, r.err.offset, {}});
      }
    }
  };
  std::size_t pos = 0;
  for (std::size_t i = 0; pos < size; ++i) {
    std::size_t want = std::min(chunk(i), size - pos);
    while (want > 0) {
      const std::size_t k = fr.feed({reinterpret_cast<const char*>(data) + pos, want});
      pos += k;
      want -= k;
      drain();
    }
  }
  drain();
  const fix::framer::result r = fr.finish();
  if (r.st == fix::framer::status::error) ev.push_back({r.st, r.err.code, r.err.offset, {}});
  CHECK(fr.buffered() == 0);
  std::uint64_t errors = 0, frames = 0;
  for (const auto& e : ev) (e.st == fix::framer::status::frame ? frames : errors)++;
  CHECK(fr.errors().total() == errors && fr.frames() == frames);
  return ev;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto whole = run(data, size, [](std::size_t) { return std::size_t(1) << 30; }, true);
  const auto bytewise = run(data, size, [](std::size_t) { return std::size_t(1); }, false);
  if (whole != bytewise) fail("framing byte by byte differs from framing all at once");
  std::uint64_t x = size * 0x9e3779b97f4a7c15ull + 1;
  for (std::size_t i = 0; i < std::min<std::size_t>(size, 16); ++i) x = x * 31 + data[i];
  const auto chunked = run(data, size, [&x](std::size_t) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return static_cast<std::size_t>(1 + x % 97);
  }, false);
  if (whole != chunked) fail("framing in chunks differs from framing all at once");
  return 0;
}
