// The FIX codec: values, encoding (BodyLength, CheckSum), the typed round trips, the framer's
// handling of every malformed class (its error, then the next good message), truncation and
// partial frames however the bytes arrive.
#include "fix.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace fix = qf::fix;
using namespace std::string_literals;

namespace {

// '|' written for SOH.
std::string soh(std::string s) {
  for (char& c : s)
    if (c == '|') c = '\x01';
  return s;
}
std::string bars(std::string_view s) {
  std::string o(s);
  for (char& c : o)
    if (c == '\x01') c = '|';
  return o;
}

constexpr std::int64_t t0 = 1704164645'000000006;  // 2024-01-02 03:04:05.000000006 UTC

fix::header hdr(std::uint64_t seq, std::string_view sender = "EXCH", std::string_view target = "CLIENT") {
  return fix::header{sender, target, seq, t0};
}

// What the framer produced: frames (their bytes) and errors (their code), in order.
struct event {
  bool frame;
  fix::errc code;
  std::string bytes;
  bool operator==(const event&) const = default;
};
std::string describe(const std::vector<event>& v) {
  std::string s = "[";
  for (const auto& e : v) s += (e.frame ? " frame " + bars(e.bytes) : " error "s + fix::to_string(e.code));
  return s + " ]";
}

}  // namespace

template <>
struct doctest::StringMaker<std::vector<event>> {
  static doctest::String convert(const std::vector<event>& v) { return describe(v).c_str(); }
};

namespace {

// Feeds data in chunks of `chunk` bytes (0: all at once), then finish().
std::vector<event> frame_all(std::string_view data, std::size_t chunk = 0, fix::framer_options o = {},
                             fix::framer* keep = nullptr) {
  fix::framer local(o);
  fix::framer& fr = keep ? *keep : local;
  std::vector<event> ev;
  auto drain = [&] {
    for (;;) {
      auto r = fr.next();
      if (r.st == fix::framer::status::need_more) return;
      if (r.st == fix::framer::status::frame)
        ev.push_back({true, fix::errc::ok, std::string(r.f.bytes)});
      else
        ev.push_back({false, r.err.code, {}});
    }
  };
  std::size_t pos = 0;
  while (pos < data.size()) {
    const std::size_t want = chunk ? std::min(chunk, data.size() - pos) : data.size() - pos;
    std::size_t fed = 0;
    while (fed < want) {
      fed += fr.feed(data.substr(pos + fed, want - fed));
      drain();
    }
    pos += want;
  }
  drain();
  auto r = fr.finish();
  if (r.st == fix::framer::status::error) ev.push_back({false, r.err.code, {}});
  return ev;
}

// The same events all at once, byte by byte and in chunks of 7.
std::vector<event> frame_every_way(std::string_view data) {
  auto whole = frame_all(data);
  CHECK(frame_all(data, 1) == whole);
  CHECK(frame_all(data, 7) == whole);
  return whole;
}

std::string heartbeat_msg(std::uint64_t seq) {
  std::string out;
  fix::encode(out, hdr(seq), fix::heartbeat{});
  return out;
}

std::string quote_msg(std::uint64_t seq, std::string_view sym = "AAPL") {
  std::string out;
  fix::encode(out, hdr(seq), fix::quote(fix::symbol(sym), 187'530'000, 187'540'000, 500, 300, t0, 0, 0));
  return out;
}

// A message with this body, correct BodyLength and CheckSum (SOH written as '|').
std::string wrap(std::string body) {
  body = soh(body);
  std::string m = "8=FIX.4.4\x01" "9=" + std::to_string(body.size()) + "\x01" + body;
  char tr[8];
  std::snprintf(tr, sizeof tr, "10=%03u\x01", fix::checksum(m));
  return m + tr;
}

// m with its BodyLength field ("9=<n>") replaced by len_field ("" removes it with its SOH).
std::string with_length(std::string m, std::string_view len_field) {
  const std::size_t end = m.find('\x01', 10);
  if (len_field.empty())
    m.erase(10, end + 1 - 10);
  else
    m.replace(10, end - 10, len_field);
  return m;
}

event frame_of(const std::string& m) { return {true, fix::errc::ok, m}; }
event error_of(fix::errc e) { return {false, e, {}}; }

}  // namespace

TEST_CASE("fix: BodyLength and CheckSum of hand-computed messages") {
  // 8=FIX.4.4| sums to 545, 9=5| to 172, 35=0| to 214: 931 = 3 * 256 + 163.
  CHECK(fix::checksum(soh("8=FIX.4.4|9=5|35=0|")) == 163);
  CHECK(wrap("35=0|") == soh("8=FIX.4.4|9=5|35=0|10=163|"));

  std::string out;
  CHECK(bars(fix::encode(out, hdr(1), fix::heartbeat{})) ==
        "8=FIX.4.4|9=59|35=0|49=EXCH|56=CLIENT|34=1|52=20240102-03:04:05.000000006|10=206|");

  out.clear();
  fix::header h{"EXCH", "CLIENT", 7, 1704164645'123000000};
  const fix::quote q(fix::symbol("AAPL"), 187'530'000, 187'540'000, 500, 300, 1704164645'123000000, 0, 0);
  CHECK(bars(fix::encode(out, h, q)) ==
        "8=FIX.4.4|9=142|35=S|49=EXCH|56=CLIENT|34=7|52=20240102-03:04:05.123000000|117=7|55=AAPL|"
        "132=187.53|133=187.54|134=500|135=300|60=20240102-03:04:05.123000000|10=191|");

  // Several messages appended to one buffer: each is whole and correct.
  std::string batch;
  fix::encode(batch, hdr(1), fix::heartbeat{});
  fix::encode(batch, h, q);
  CHECK(bars(batch) ==
        "8=FIX.4.4|9=59|35=0|49=EXCH|56=CLIENT|34=1|52=20240102-03:04:05.000000006|10=206|"
        "8=FIX.4.4|9=142|35=S|49=EXCH|56=CLIENT|34=7|52=20240102-03:04:05.123000000|117=7|55=AAPL|"
        "132=187.53|133=187.54|134=500|135=300|60=20240102-03:04:05.123000000|10=191|");
}

TEST_CASE("fix: prices, quantities and timestamps") {
  fix::price p = 0;
  CHECK(fix::parse_price("187.53", p));
  CHECK(p == 187'530'000);
  CHECK(fix::parse_price("0.000001", p));
  CHECK(p == 1);
  CHECK(fix::parse_price("-2.5", p));
  CHECK(p == -2'500'000);
  CHECK(fix::parse_price("42", p));
  CHECK(p == 42'000'000);
  CHECK(fix::parse_price(".5", p));
  CHECK(p == 500'000);
  CHECK(fix::parse_price("1.2300000000", p));  // zeros past the sixth decimal are fine
  CHECK(p == 1'230'000);
  CHECK_FALSE(fix::parse_price("1.0000001", p));  // finer than a millionth
  CHECK_FALSE(fix::parse_price("", p));
  CHECK_FALSE(fix::parse_price(".", p));
  CHECK_FALSE(fix::parse_price("1.2.3", p));
  CHECK_FALSE(fix::parse_price("12a", p));
  CHECK_FALSE(fix::parse_price("1234567890123", p));  // over 10^12

  char buf[32];
  auto fmt = [&](fix::price v) { return std::string(buf, fix::format_price(buf, v)); };
  CHECK(fmt(187'530'000) == "187.53");
  CHECK(fmt(42'000'000) == "42");
  CHECK(fmt(1) == "0.000001");
  CHECK(fmt(-2'500'000) == "-2.5");
  CHECK(fmt(0) == "0");

  std::int64_t q = 0;
  CHECK(fix::parse_qty("500", q));
  CHECK(q == 500);
  CHECK(fix::parse_qty("500.00", q));
  CHECK(q == 500);
  CHECK_FALSE(fix::parse_qty("500.5", q));
  CHECK_FALSE(fix::parse_qty("-1", q));

  std::int64_t ns = 0;
  CHECK(fix::parse_utc_timestamp("20240102-03:04:05", ns));
  CHECK(ns == 1704164645'000000000);
  CHECK(fix::parse_utc_timestamp("20240102-03:04:05.123", ns));
  CHECK(ns == 1704164645'123000000);
  CHECK(fix::parse_utc_timestamp("20240102-03:04:05.000000006", ns));
  CHECK(ns == t0);
  CHECK(fix::parse_utc_timestamp("20240229-00:00:00", ns));  // a leap day
  CHECK_FALSE(fix::parse_utc_timestamp("20230229-00:00:00", ns));
  CHECK_FALSE(fix::parse_utc_timestamp("20240102-24:00:00", ns));
  CHECK_FALSE(fix::parse_utc_timestamp("20240102-03:04:05.", ns));
  CHECK_FALSE(fix::parse_utc_timestamp("20240102-03:04:05.1234567890", ns));
  CHECK_FALSE(fix::parse_utc_timestamp("2024010203:04:05", ns));
  CHECK(std::string(buf, fix::format_utc_timestamp(buf, t0)) == "20240102-03:04:05.000000006");
  CHECK(std::string(buf, fix::format_utc_timestamp(buf, 0)) == "19700101-00:00:00.000000000");

  CHECK(fix::symbol("AAPL").view() == "AAPL");
  CHECK_THROWS_AS(fix::symbol("SIXTEEN_BYTES_XX"), std::length_error);
  fix::symbol s;
  CHECK_FALSE(fix::symbol::make("", s));
  CHECK(fix::symbol::make("BRK.B", s));
  CHECK(s.view() == "BRK.B");
}

TEST_CASE("fix: every message type round-trips") {
  std::string out;
  fix::framer fr;
  fix::message m;
  auto reparse = [&](std::string_view bytes) {
    CHECK(fr.feed(bytes) == bytes.size());
    auto r = fr.next();
    REQUIRE(r.st == fix::framer::status::frame);
    CHECK(r.f.bytes == bytes);
    const fix::error e = m.parse(r.f);
    INFO(e.message());
    REQUIRE_FALSE(e);
    CHECK(m.sender() == "EXCH");
    CHECK(m.target() == "CLIENT");
    CHECK(m.sending_time_ns() == t0);
  };

  SUBCASE("Logon") {
    reparse(fix::encode(out, hdr(1), fix::logon{.heartbeat_interval_s = 5, .reset_seq_num = true}));
    CHECK(m.type() == fix::msg_type::logon);
    CHECK(m.seq() == 1);
    fix::logon v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v.heartbeat_interval_s == 5);
    CHECK(v.reset_seq_num);
  }
  SUBCASE("Logout") {
    reparse(fix::encode(out, hdr(2), fix::logout{"bye now"}));
    CHECK(m.type() == fix::msg_type::logout);
    fix::logout v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v.text == "bye now");
  }
  SUBCASE("Heartbeat") {
    reparse(fix::encode(out, hdr(3), fix::heartbeat{"T42"}));
    CHECK(m.type() == fix::msg_type::heartbeat);
    fix::heartbeat v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v.test_req_id == "T42");
  }
  SUBCASE("TestRequest") {
    reparse(fix::encode(out, hdr(4), fix::test_request{"T43"}));
    CHECK(m.type() == fix::msg_type::test_request);
    fix::test_request v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v.test_req_id == "T43");
  }
  SUBCASE("Quote") {
    const fix::quote q(fix::symbol("GOOG"), 170'010'000, 170'030'000, 1200, 800, t0 - 5000, 0, 0);
    reparse(fix::encode(out, hdr(123456789), q));
    CHECK(m.type() == fix::msg_type::quote);
    fix::quote v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v == fix::quote(fix::symbol("GOOG"), 170'010'000, 170'030'000, 1200, 800, t0 - 5000, t0, 123456789));
    CHECK(v.sym().view() == "GOOG");
    CHECK(v.bid() == 170'010'000);
    CHECK(v.ask() == 170'030'000);
    CHECK(v.bid_size() == 1200);
    CHECK(v.ask_size() == 800);
    CHECK(v.exchange_time_ns() == t0 - 5000);
    CHECK(v.seq() == 123456789);
    CHECK(m.get(fix::tag::quote_id) == "123456789");
  }
  SUBCASE("NewOrderSingle") {
    fix::new_order_single o;
    o.cl_ord_id = "C-1";
    o.sym = fix::symbol("XOM");
    o.sd = fix::side::sell;
    o.qty = 300;
    o.type = fix::ord_type::limit;
    o.limit_price = 110'250'000;
    o.transact_time_ns = t0;
    reparse(fix::encode(out, hdr(5, "EXCH", "CLIENT"), o));
    CHECK(m.type() == fix::msg_type::new_order_single);
    fix::new_order_single v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v.cl_ord_id == "C-1");
    CHECK(v.sym == fix::symbol("XOM"));
    CHECK(v.sd == fix::side::sell);
    CHECK(v.qty == 300);
    CHECK(v.type == fix::ord_type::limit);
    CHECK(v.limit_price == 110'250'000);
    CHECK(v.transact_time_ns == t0);
  }
  SUBCASE("ExecutionReport") {
    fix::execution_report r;
    r.order_id = "O1";
    r.exec_id = "E1";
    r.cl_ord_id = "C-1";
    r.etype = fix::exec_type::trade;
    r.status = fix::ord_status::filled;
    r.sym = fix::symbol("BP");
    r.sd = fix::side::buy;
    r.order_qty = r.last_qty = r.cum_qty = 100;
    r.last_px = r.avg_px = 35'120'000;
    r.leaves_qty = 0;
    r.transact_time_ns = t0;
    r.text = "filled";
    reparse(fix::encode(out, hdr(6), r));
    CHECK(m.type() == fix::msg_type::execution_report);
    fix::execution_report v;
    REQUIRE_FALSE(fix::decode(m, v));
    CHECK(v.order_id == "O1");
    CHECK(v.exec_id == "E1");
    CHECK(v.cl_ord_id == "C-1");
    CHECK(v.etype == fix::exec_type::trade);
    CHECK(v.status == fix::ord_status::filled);
    CHECK(v.sym == fix::symbol("BP"));
    CHECK(v.sd == fix::side::buy);
    CHECK(v.order_qty == 100);
    CHECK(v.last_qty == 100);
    CHECK(v.cum_qty == 100);
    CHECK(v.leaves_qty == 0);
    CHECK(v.last_px == 35'120'000);
    CHECK(v.avg_px == 35'120'000);
    CHECK(v.transact_time_ns == t0);
    CHECK(v.text == "filled");
  }
  // Decoding as the wrong type is an error, not a misread.
  fix::quote q;
  if (m.type() != fix::msg_type::quote) CHECK(fix::decode(m, q).code == fix::errc::unknown_msg_type);
}

TEST_CASE("fix: a stream of messages framed however it arrives") {
  std::string stream;
  std::vector<event> want;
  for (std::uint64_t i = 1; i <= 200; ++i) {
    const std::string m = i % 3 ? quote_msg(i, i % 2 ? "AAPL" : "BRK.B") : heartbeat_msg(i);
    stream += m;
    want.push_back(frame_of(m));
  }
  CHECK(frame_all(stream) == want);
  CHECK(frame_all(stream, 1) == want);  // byte by byte
  for (std::size_t chunk : {2, 3, 13, 64, 150, 151, 4096}) CHECK(frame_all(stream, chunk) == want);
  // A small buffer: frames straddle its end, and the unconsumed bytes move to the front.
  fix::framer_options small;
  small.max_body_length = 200;
  small.buffer_size = 0;
  fix::framer fr(small);
  CHECK(frame_all(stream, 1000, small, &fr) == want);
  CHECK(fr.frames() == 200);
  CHECK(fr.errors().total() == 0);
  CHECK(fr.bytes_discarded() == 0);
}

TEST_CASE("fix: each malformed class is reported, and the next good message is framed") {
  const std::string a = quote_msg(1), b = heartbeat_msg(2);

  SUBCASE("garbage between messages") {
    CHECK(frame_every_way(a + "hello, world\r\n" + b) ==
          std::vector{frame_of(a), error_of(fix::errc::garbage), frame_of(b)});
  }
  SUBCASE("garbage before the first message, and a stray 8=F") {
    CHECK(frame_every_way("\x00\xff junk 8=F 8=FIZ"s + a + b) ==
          std::vector{error_of(fix::errc::garbage), frame_of(a), frame_of(b)});
  }
  SUBCASE("bad checksum") {
    std::string bad = quote_msg(7);
    bad[bad.size() - 2] = bad[bad.size() - 2] == '0' ? '1' : '0';
    CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::bad_checksum), frame_of(b)});
  }
  SUBCASE("checksum not three digits") {
    std::string bad = wrap("35=0|49=X|56=Y|34=3|52=20240102-03:04:05|");
    bad.replace(bad.size() - 4, 3, "1x");  // "10=1x|"
    CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::bad_checksum), frame_of(b)});
  }
  SUBCASE("BodyLength too small") {
    const std::string bad = with_length(wrap("35=0|49=X|56=Y|34=3|52=20240102-03:04:05|"), "9=30");
    CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::bad_body_length), frame_of(b)});
  }
  SUBCASE("BodyLength too large: the CheckSum turns up inside the body") {
    const std::string bad = with_length(wrap("35=0|49=X|56=Y|34=3|52=20240102-03:04:05|"), "9=90");
    CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::bad_body_length), frame_of(b)});
  }
  SUBCASE("BodyLength not a number, empty, or over the limit") {
    for (const char* len : {"9=4x", "9=", "9=0", "9=99999999", "9=00000000000044"}) {
      const std::string bad = with_length(wrap("35=0|49=X|56=Y|34=3|52=20240102-03:04:05|"), len);
      INFO(len);
      CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::bad_body_length), frame_of(b)});
    }
  }
  SUBCASE("BodyLength missing") {
    const std::string bad = with_length(wrap("35=0|49=X|56=Y|34=3|52=20240102-03:04:05|"), "");
    CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::missing_tag), frame_of(b)});
  }
  SUBCASE("BeginString not FIX.4.4") {
    std::string bad = wrap("35=0|49=X|56=Y|34=3|52=20240102-03:04:05|");
    bad.replace(0, 9, "8=FIX.4.2");
    CHECK(frame_every_way(a + bad + b) == std::vector{frame_of(a), error_of(fix::errc::bad_begin_string), frame_of(b)});
  }
  SUBCASE("truncated: a message cut short, then a new one") {
    const std::string cut = quote_msg(9).substr(0, 60);
    CHECK(frame_every_way(a + cut + b) == std::vector{frame_of(a), error_of(fix::errc::truncated), frame_of(b)});
    // Cut inside a field's value, or inside its own header.
    CHECK(frame_every_way(a + quote_msg(9).substr(0, 17) + b) ==
          std::vector{frame_of(a), error_of(fix::errc::truncated), frame_of(b)});
  }
  SUBCASE("truncated: the stream ends inside a message") {
    for (std::size_t keep : {1, 5, 12, 40, 80}) {
      INFO(keep);
      CHECK(frame_every_way(a + b.substr(0, keep)) == std::vector{frame_of(a), error_of(fix::errc::truncated)});
    }
  }
  SUBCASE("several errors in a row, each counted once") {
    std::string bad_sum = quote_msg(7);
    bad_sum[bad_sum.size() - 2] = bad_sum[bad_sum.size() - 2] == '0' ? '1' : '0';
    fix::framer fr;
    const auto ev = frame_all("xx" + a + bad_sum + "yy" + bad_sum + b + "zz", 1, {}, &fr);
    CHECK(ev == std::vector{error_of(fix::errc::garbage), frame_of(a), error_of(fix::errc::bad_checksum),
                            error_of(fix::errc::garbage), error_of(fix::errc::bad_checksum), frame_of(b),
                            error_of(fix::errc::garbage)});
    CHECK(fr.errors()[fix::errc::garbage] == 3);
    CHECK(fr.errors()[fix::errc::bad_checksum] == 2);
    CHECK(fr.errors().total() == 5);
    CHECK(fr.frames() == 2);
    CHECK(fr.errors().summary() == "garbage=3 bad_checksum=2");
  }
}

TEST_CASE("fix: error messages name what was wrong") {
  std::string bad = quote_msg(7);
  bad.replace(bad.size() - 4, 3, "000");
  fix::framer fr;
  fr.feed(bad);
  auto r = fr.next();
  REQUIRE(r.st == fix::framer::status::error);
  const std::string msg = r.err.message();
  INFO(msg);
  CHECK(msg.find("bad_checksum") == 0);
  CHECK(msg.find("CheckSum (10)") != std::string::npos);
  CHECK(msg.find("got 0, want " + std::to_string(fix::checksum(std::string_view(bad).substr(0, bad.size() - 7)))) !=
        std::string::npos);
  CHECK(msg.find("at stream offset 0") != std::string::npos);
  CHECK(msg.find("near '10=000|'") != std::string::npos);
  CHECK(std::error_code(fix::errc::bad_checksum).message() == "bad CheckSum (10)");
  CHECK(std::error_code(fix::errc::bad_checksum) == fix::errc::bad_checksum);

  fix::message m;
  const fix::error e = m.parse_body(soh("35=S|49=EXCH|56=CLIENT|34=1|52=20240102-03:04:05|117=1|132=1|133=2|"));
  REQUIRE_FALSE(e);
  fix::quote q;
  const fix::error d = fix::decode(m, q);
  CHECK(d.code == fix::errc::missing_tag);
  CHECK(d.tag == 55);
  CHECK(d.message() == "missing_tag: required field missing: Symbol (55)");
}

TEST_CASE("fix: message-level errors leave the framing intact") {
  const std::string a = quote_msg(1), b = heartbeat_msg(2);
  struct bad_case {
    std::string body;
    fix::errc parse, decode;
    int tag;
  };
  const std::vector<bad_case> cases = {
      {"35=Z|49=X|56=Y|34=3|52=20240102-03:04:05|", fix::errc::unknown_msg_type, fix::errc::ok, 35},
      {"49=X|35=0|56=Y|34=3|52=20240102-03:04:05|", fix::errc::missing_tag, fix::errc::ok, 35},
      {"35=0|56=Y|34=3|52=20240102-03:04:05|", fix::errc::missing_tag, fix::errc::ok, 49},
      {"35=0|49=X|56=Y|52=20240102-03:04:05|", fix::errc::missing_tag, fix::errc::ok, 34},
      {"35=0|49=X|56=Y|34=3|", fix::errc::missing_tag, fix::errc::ok, 52},
      {"35=0|49=X|56=Y|34=0|52=20240102-03:04:05|", fix::errc::bad_value, fix::errc::ok, 34},
      {"35=0|49=X|56=Y|34=3|52=2024-01-02 03:04:05|", fix::errc::bad_value, fix::errc::ok, 52},
      {"35=0|49=X|56=Y|34=3|52=20240102-03:04:05|abc=1|", fix::errc::bad_field, fix::errc::ok, 0},
      {"35=0|49=X|56=Y|34=3|52=20240102-03:04:05|58=|", fix::errc::bad_field, fix::errc::ok, 58},
      {"35=0|49=X|56=Y|34=3|52=20240102-03:04:05|9=5|", fix::errc::bad_field, fix::errc::ok, 9},
      {"35=S|49=X|56=Y|34=3|52=20240102-03:04:05|117=1|55=AAPL|132=abc|133=1|", fix::errc::ok, fix::errc::bad_value, 132},
      {"35=S|49=X|56=Y|34=3|52=20240102-03:04:05|117=1|55=AAPL|132=1|", fix::errc::ok, fix::errc::missing_tag, 133},
      {"35=S|49=X|56=Y|34=3|52=20240102-03:04:05|55=AAPL|132=1|133=2|", fix::errc::ok, fix::errc::missing_tag, 117},
      {"35=D|49=X|56=Y|34=3|52=20240102-03:04:05|11=C|55=AAPL|54=3|60=20240102-03:04:05|38=1|40=1|",
       fix::errc::ok, fix::errc::bad_value, 54},
      {"35=D|49=X|56=Y|34=3|52=20240102-03:04:05|11=C|55=AAPL|54=1|60=20240102-03:04:05|38=1|40=2|",
       fix::errc::ok, fix::errc::missing_tag, 44},
      {"35=1|49=X|56=Y|34=3|52=20240102-03:04:05|", fix::errc::ok, fix::errc::missing_tag, 112},
      {"35=A|49=X|56=Y|34=3|52=20240102-03:04:05|108=30|", fix::errc::ok, fix::errc::missing_tag, 98},
  };
  for (const auto& c : cases) {
    INFO(c.body);
    const std::string bad = wrap(c.body);
    fix::framer fr;
    std::string stream = a + bad + b;
    CHECK(fr.feed(stream) == stream.size());
    fix::message m;
    auto r1 = fr.next();
    REQUIRE(r1.st == fix::framer::status::frame);
    CHECK_FALSE(m.parse(r1.f));
    auto r2 = fr.next();
    REQUIRE(r2.st == fix::framer::status::frame);  // the framing is fine
    fix::error e = m.parse(r2.f);
    CHECK(e.code == c.parse);
    if (!e) {
      switch (m.type()) {
        case fix::msg_type::quote: { fix::quote v; e = fix::decode(m, v); break; }
        case fix::msg_type::new_order_single: { fix::new_order_single v; e = fix::decode(m, v); break; }
        case fix::msg_type::test_request: { fix::test_request v; e = fix::decode(m, v); break; }
        case fix::msg_type::logon: { fix::logon v; e = fix::decode(m, v); break; }
        default: break;
      }
      CHECK(e.code == c.decode);
    }
    CHECK(e.tag == c.tag);
    INFO(e.message());
    CHECK(!e.message().empty());
    auto r3 = fr.next();
    REQUIRE(r3.st == fix::framer::status::frame);
    CHECK(r3.f.bytes == b);
    CHECK_FALSE(m.parse(r3.f));
    CHECK(m.type() == fix::msg_type::heartbeat);
  }
}

TEST_CASE("fix: the fuzz corpus frames and parses") {
  // The seed corpus is valid messages: each file frames with no error, and every frame parses.
  for (const char* name : {"logon", "quote", "quotes_batch", "new_order_single", "execution_report",
                           "heartbeat_test_request_logout"}) {
    std::ifstream f(std::string(QF_FUZZ_CORPUS_DIR) + "/" + name, std::ios::binary);
    REQUIRE_MESSAGE(f.good(), name);
    const std::string data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    INFO(name);
    const auto ev = frame_every_way(data);
    CHECK_FALSE(ev.empty());
    for (const auto& e : ev) {
      REQUIRE(e.frame);
      fix::framer fr;
      fr.feed(e.bytes);
      auto r = fr.next();
      REQUIRE(r.st == fix::framer::status::frame);
      fix::message m;
      const fix::error err = m.parse(r.f);
      INFO(err.message());
      CHECK_FALSE(err);
    }
  }
}
