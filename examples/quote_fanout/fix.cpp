// fix.cpp: the FIX 4.4 codec (see fix.hpp).
#include "fix.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace qf::fix {

namespace {

constexpr std::string_view start_marker = "8=FIX";
constexpr std::string_view head = "8=FIX.4.4\x01";        // BeginString field, 10 bytes
constexpr std::size_t trailer_size = 7;                   // "10=ddd|"
constexpr std::size_t max_length_digits = 10;

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

const char* find(const char* p, std::size_t n, std::string_view needle) noexcept {
  if (n < needle.size()) return nullptr;
  return static_cast<const char*>(::memmem(p, n, needle.data(), needle.size()));
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
  std::int64_t y;
  unsigned m, d;
};
constexpr civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}
static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(civil_from_days(11017).y == 2000 && civil_from_days(11017).m == 3);

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

// n digits at s as a number; false if any is not a digit.
inline bool digits(const char* s, std::size_t n, unsigned& out) noexcept {
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  out = v;
  return true;
}

// Writes v as exactly n digits (zero-padded).
inline void put_digits(char* out, std::uint64_t v, std::size_t n) noexcept {
  for (std::size_t i = n; i-- > 0;) {
    out[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

const char* tag_name(int tag) noexcept {
  switch (tag) {
    case tag::avg_px: return "AvgPx";
    case tag::begin_string: return "BeginString";
    case tag::body_length: return "BodyLength";
    case tag::checksum: return "CheckSum";
    case tag::cl_ord_id: return "ClOrdID";
    case tag::cum_qty: return "CumQty";
    case tag::exec_id: return "ExecID";
    case tag::last_px: return "LastPx";
    case tag::last_qty: return "LastQty";
    case tag::msg_seq_num: return "MsgSeqNum";
    case tag::msg_type: return "MsgType";
    case tag::order_id: return "OrderID";
    case tag::order_qty: return "OrderQty";
    case tag::ord_status: return "OrdStatus";
    case tag::ord_type: return "OrdType";
    case tag::price: return "Price";
    case tag::sender_comp_id: return "SenderCompID";
    case tag::sending_time: return "SendingTime";
    case tag::side: return "Side";
    case tag::symbol: return "Symbol";
    case tag::target_comp_id: return "TargetCompID";
    case tag::text: return "Text";
    case tag::transact_time: return "TransactTime";
    case tag::encrypt_method: return "EncryptMethod";
    case tag::heart_bt_int: return "HeartBtInt";
    case tag::test_req_id: return "TestReqID";
    case tag::quote_id: return "QuoteID";
    case tag::reset_seq_num_flag: return "ResetSeqNumFlag";
    case tag::bid_px: return "BidPx";
    case tag::offer_px: return "OfferPx";
    case tag::bid_size: return "BidSize";
    case tag::offer_size: return "OfferSize";
    case tag::exec_type: return "ExecType";
    case tag::leaves_qty: return "LeavesQty";
    default: return nullptr;
  }
}

class fix_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "fix"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "no error";
      case errc::garbage: return "garbage where a FIX message should start";
      case errc::bad_begin_string: return "BeginString (8) is not FIX.4.4";
      case errc::bad_body_length: return "bad BodyLength (9)";
      case errc::bad_checksum: return "bad CheckSum (10)";
      case errc::truncated: return "truncated FIX message";
      case errc::bad_field: return "malformed tag=value field";
      case errc::missing_tag: return "required FIX field missing";
      case errc::bad_value: return "malformed FIX field value";
      case errc::unknown_msg_type: return "unknown FIX MsgType (35)";
    }
    return "unknown fix error";
  }
};

}  // namespace

// ---- errors -------------------------------------------------------------------------------------

const char* to_string(errc e) noexcept {
  switch (e) {
    case errc::ok: return "ok";
    case errc::garbage: return "garbage";
    case errc::bad_begin_string: return "bad_begin_string";
    case errc::bad_body_length: return "bad_body_length";
    case errc::bad_checksum: return "bad_checksum";
    case errc::truncated: return "truncated";
    case errc::bad_field: return "bad_field";
    case errc::missing_tag: return "missing_tag";
    case errc::bad_value: return "bad_value";
    case errc::unknown_msg_type: return "unknown_msg_type";
  }
  return "?";
}

const std::error_category& error_category() noexcept {
  static const fix_category c;
  return c;
}

error& error::near(std::string_view bytes) noexcept {
  excerpt_len = static_cast<std::uint8_t>(std::min(bytes.size(), sizeof excerpt));
  std::memcpy(excerpt, bytes.data(), excerpt_len);
  return *this;
}

std::string error::message() const {
  std::string s = to_string(code);
  s += ": ";
  s += what;
  if (tag != 0) {
    s += ": ";
    if (const char* n = tag_name(tag)) {
      s += n;
      s += " (" + std::to_string(tag) + ")";
    } else {
      s += "tag " + std::to_string(tag);
    }
  }
  if (got >= 0 || want >= 0) {
    s += " (";
    if (got >= 0) s += "got " + std::to_string(got);
    if (got >= 0 && want >= 0) s += ", ";
    if (want >= 0) s += "want " + std::to_string(want);
    s += ")";
  }
  if (code >= errc::garbage && code <= errc::truncated) s += " at stream offset " + std::to_string(offset);
  if (excerpt_len) {
    s += " near '";
    static constexpr char hex[] = "0123456789abcdef";
    for (std::size_t i = 0; i < excerpt_len; ++i) {
      const auto c = static_cast<unsigned char>(excerpt[i]);
      if (c == 1) {
        s += '|';
      } else if (c < 0x20 || c >= 0x7f || c == '\'' || c == '\\') {
        s += "\\x";
        s += hex[c >> 4];
        s += hex[c & 15];
      } else {
        s += static_cast<char>(c);
      }
    }
    s += "'";
  }
  return s;
}

std::uint64_t error_counters::total() const noexcept {
  std::uint64_t t = 0;
  for (auto v : n_) t += v;
  return t;
}

void error_counters::merge(const error_counters& o) noexcept {
  for (std::size_t i = 0; i < errc_count; ++i) n_[i] += o.n_[i];
}

std::string error_counters::summary() const {
  std::string s;
  for (std::size_t i = 1; i < errc_count; ++i) {
    if (!n_[i]) continue;
    if (!s.empty()) s += ' ';
    s += to_string(static_cast<errc>(i));
    s += '=';
    s += std::to_string(n_[i]);
  }
  return s.empty() ? "none" : s;
}

// ---- values -------------------------------------------------------------------------------------

symbol::symbol(std::string_view s) {
  if (s.size() > max_size) throw std::length_error("qf::fix::symbol: longer than 15 bytes: " + std::string(s));
  std::memcpy(d_, s.data(), s.size());
  n_ = static_cast<std::uint8_t>(s.size());
}

bool symbol::make(std::string_view s, symbol& out) noexcept {
  if (s.empty() || s.size() > max_size) return false;
  out = symbol();
  std::memcpy(out.d_, s.data(), s.size());
  out.n_ = static_cast<std::uint8_t>(s.size());
  return true;
}

bool parse_uint(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 18) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (!is_digit(c)) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

bool parse_int(std::string_view s, std::int64_t& out) noexcept {
  const bool neg = !s.empty() && s[0] == '-';
  std::uint64_t v;
  if (!parse_uint(neg ? s.substr(1) : s, v)) return false;
  out = neg ? -static_cast<std::int64_t>(v) : static_cast<std::int64_t>(v);
  return true;
}

bool parse_price(std::string_view s, price& out) noexcept {
  const bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  const std::size_t dot = s.find('.');
  const std::string_view ip = s.substr(0, dot);
  const std::string_view fp = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (ip.empty() && fp.empty()) return false;
  if (ip.size() > 12) return false;  // 10^12 units of currency fit in an int64 of millionths
  std::int64_t v = 0;
  for (char c : ip) {
    if (!is_digit(c)) return false;
    v = v * 10 + (c - '0');
  }
  std::int64_t frac = 0;
  for (std::size_t i = 0; i < fp.size(); ++i) {
    const char c = fp[i];
    if (!is_digit(c)) return false;
    if (i < 6)
      frac = frac * 10 + (c - '0');
    else if (c != '0')
      return false;  // finer than a millionth
  }
  for (std::size_t i = fp.size(); i < 6; ++i) frac *= 10;
  v = v * price_scale + frac;
  out = neg ? -v : v;
  return true;
}

bool parse_qty(std::string_view s, std::int64_t& out) noexcept {
  const std::size_t dot = s.find('.');
  if (dot != std::string_view::npos) {
    const std::string_view fp = s.substr(dot + 1);
    if (fp.empty() || fp.find_first_not_of('0') != std::string_view::npos) return false;
    s = s.substr(0, dot);
  }
  std::uint64_t v;
  if (!parse_uint(s, v)) return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

bool parse_utc_timestamp(std::string_view s, std::int64_t& ns) noexcept {
  if (s.size() < 17 || s[8] != '-' || s[11] != ':' || s[14] != ':') return false;
  unsigned y, mo, d, h, mi, se;
  const char* p = s.data();
  if (!digits(p, 4, y) || !digits(p + 4, 2, mo) || !digits(p + 6, 2, d) || !digits(p + 9, 2, h) ||
      !digits(p + 12, 2, mi) || !digits(p + 15, 2, se))
    return false;
  if (y < 1970 || y > 2262 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
      mi > 59 || se > 60)
    return false;
  std::int64_t frac = 0;
  if (s.size() > 17) {
    const std::size_t nd = s.size() - 18;
    if (s[17] != '.' || nd < 1 || nd > 9) return false;
    unsigned f;
    if (!digits(p + 18, nd, f)) return false;
    frac = f;
    for (std::size_t i = nd; i < 9; ++i) frac *= 10;
  }
  const std::int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
  // Nanoseconds since 1970 in an int64 end in April 2262.
  constexpr std::int64_t max_secs = INT64_MAX / 1'000'000'000, max_frac = INT64_MAX % 1'000'000'000;
  if (secs > max_secs || (secs == max_secs && frac > max_frac)) return false;
  ns = secs * 1'000'000'000 + frac;
  return true;
}

std::size_t format_price(char* out, price p) noexcept {
  char* o = out;
  std::uint64_t v;
  if (p < 0) {
    *o++ = '-';
    v = static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(p);
  } else {
    v = static_cast<std::uint64_t>(p);
  }
  const std::uint64_t ip = v / price_scale;
  std::uint64_t fp = v % price_scale;
  o = std::to_chars(o, o + 21, ip).ptr;
  if (fp) {
    int nd = 6;
    while (fp % 10 == 0) {
      fp /= 10;
      --nd;
    }
    *o++ = '.';
    put_digits(o, fp, static_cast<std::size_t>(nd));
    o += nd;
  }
  return static_cast<std::size_t>(o - out);
}

std::size_t format_utc_timestamp(char* out, std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  const std::int64_t secs = ns / 1'000'000'000;
  const std::int64_t frac = ns % 1'000'000'000;
  // The date and time of day change once a second: keep the last one formatted (per thread).
  thread_local std::int64_t cached_secs = -1;
  thread_local char cached[17];
  if (secs == cached_secs) {
    std::memcpy(out, cached, 17);
    out[17] = '.';
    put_digits(out + 18, static_cast<std::uint64_t>(frac), 9);
    return 27;
  }
  const std::int64_t days = secs / 86400;
  const std::int64_t sod = secs % 86400;
  const civil c = civil_from_days(days);
  put_digits(out, static_cast<std::uint64_t>(c.y), 4);
  put_digits(out + 4, c.m, 2);
  put_digits(out + 6, c.d, 2);
  out[8] = '-';
  put_digits(out + 9, static_cast<std::uint64_t>(sod / 3600), 2);
  out[11] = ':';
  put_digits(out + 12, static_cast<std::uint64_t>(sod / 60 % 60), 2);
  out[14] = ':';
  put_digits(out + 15, static_cast<std::uint64_t>(sod % 60), 2);
  std::memcpy(cached, out, 17);
  cached_secs = secs;
  out[17] = '.';
  put_digits(out + 18, static_cast<std::uint64_t>(frac), 9);
  return 27;
}

std::int64_t utc_now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

unsigned checksum(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) sum += p[i];
  return sum & 255u;
}

// ---- framing ------------------------------------------------------------------------------------

framer::framer(framer_options o)
    : max_body_(std::max<std::size_t>(o.max_body_length, 1)) {
  // The largest message: BeginString (10), "9=" + digits + SOH, the body, the trailer; and some
  // room to read into beside it.
  const std::size_t largest = head.size() + 3 + max_length_digits + max_body_ + trailer_size;
  cap_ = std::max(o.buffer_size, largest + 1024);
  buf_ = std::make_unique_for_overwrite<char[]>(cap_);
}

std::span<char> framer::prepare() {
  if (begin_ == end_) {
    begin_ = end_ = 0;
  } else if (begin_ > 0 && (cap_ - end_ < cap_ / 4 || end_ == cap_)) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  return {buf_.get() + end_, cap_ - end_};
}

void framer::commit(std::size_t n) noexcept { end_ += std::min(n, cap_ - end_); }

std::size_t framer::feed(std::string_view bytes) {
  const std::span<char> room = prepare();
  const std::size_t n = std::min(room.size(), bytes.size());
  std::memcpy(room.data(), bytes.data(), n);
  commit(n);
  return n;
}

void framer::advance(std::size_t k) noexcept {
  begin_ += k;
  base_ += k;
  scanned_ = 0;
}

framer::result framer::fail(error e, std::size_t skip, bool resync) noexcept {
  e.offset = base_;
  errors_.add(e.code);
  discarded_ += skip;
  advance(skip);
  resync_ = resync;
  result r;
  r.st = status::error;
  r.err = e;
  return r;
}

framer::result framer::next() noexcept {
  for (;;) {
    const char* p = buf_.get() + begin_;
    const std::size_t n = end_ - begin_;

    if (resync_) {
      if (const char* hit = find(p, n, start_marker)) {
        const auto k = static_cast<std::size_t>(hit - p);
        discarded_ += k;
        advance(k);
        resync_ = false;
        continue;
      }
      // Keep a tail that may be the start of "8=FIX" completed by the next read.
      std::size_t keep = std::min<std::size_t>(n, start_marker.size() - 1);
      while (keep > 0 && std::string_view(p + n - keep, keep) != start_marker.substr(0, keep)) --keep;
      discarded_ += n - keep;
      advance(n - keep);
      return {};
    }
    if (n == 0) return {};

    // BeginString: "8=FIX.4.4|".
    const std::size_t hn = std::min(n, head.size());
    for (std::size_t i = 0; i < hn; ++i) {
      if (p[i] == head[i]) continue;
      if (i < start_marker.size()) {
        error e = error::make(errc::garbage, "bytes that do not begin a FIX message (8=FIX)");
        e.near({p, std::min<std::size_t>(n, 16)});
        return fail(e, 1, true);
      }
      error e = error::make(errc::bad_begin_string, "BeginString (8) is not FIX.4.4");
      const void* s = std::memchr(p, soh, std::min<std::size_t>(n, 24));
      e.near({p, s ? static_cast<std::size_t>(static_cast<const char*>(s) - p) + 1 : std::min<std::size_t>(n, 24)});
      return fail(e, 1, true);
    }
    if (n < head.size()) return {};

    // BodyLength: "9=<digits>|" right after.
    for (std::size_t i = 10; i < 12; ++i) {
      if (i >= n) return {};
      if (p[i] != "9="[i - 10]) {
        error e = error::make(errc::missing_tag, "BodyLength (9) must be the second field");
        e.near({p + 10, std::min<std::size_t>(n - 10, 16)});
        return fail(e, 1, true);
      }
    }
    std::size_t i = 12;
    std::uint64_t len = 0;
    for (;; ++i) {
      if (i >= n) return {};
      const char c = p[i];
      if (c == soh) break;
      const char* what = nullptr;
      if (!is_digit(c))
        what = "BodyLength (9) is not a number";
      else if (i - 12 >= max_length_digits)
        what = "BodyLength (9) has too many digits";
      if (what) {
        error e = error::make(errc::bad_body_length, what);
        e.near({p + 10, std::min<std::size_t>(n - 10, 16)});
        return fail(e, 1, true);
      }
      len = len * 10 + static_cast<std::uint64_t>(c - '0');
      if (len > max_body_) {
        error e = error::make(errc::bad_body_length, "BodyLength (9) exceeds the limit", 0,
                              static_cast<std::int64_t>(len), static_cast<std::int64_t>(max_body_));
        e.near({p + 10, std::min<std::size_t>(n - 10, 16)});
        return fail(e, 1, true);
      }
    }
    if (i == 12 || len == 0) {
      error e = error::make(errc::bad_body_length, i == 12 ? "BodyLength (9) is empty" : "BodyLength (9) is zero");
      e.near({p + 10, i - 10 + 1});
      return fail(e, 1, true);
    }
    const std::size_t b = i + 1;    // the body's first byte
    const std::size_t t = b + len;  // the trailer's first byte

    // Inside the body: a CheckSum field (the length is too large), or a new message (this one
    // was cut short). Both are found at a SOH: "|10=" starts at it, "8=FIX.4.4|9=" has it 9 bytes
    // in (and no SOH before it, so the one found first, SOH by SOH, is the one that starts first).
    // Each SOH is looked at once its pattern's bytes are there, however the bytes arrive:
    // scanned_ counts the bytes from b - 1 whose SOHs are settled.
    const std::size_t lim = std::min(n, t);
    const std::size_t lo = b - 1;
    if (lim > lo + scanned_) {
      const char* const end = p + lim;
      for (const char* q = p + lo + scanned_; q < end; ++q) {
        q = static_cast<const char*>(std::memchr(q, soh, static_cast<std::size_t>(end - q)));
        if (!q) break;
        const auto k = static_cast<std::size_t>(q - p);
        if (k + 3 > lim) break;
        if (k >= b + 9 && q[1] == '9' && q[2] == '=' && std::memcmp(q - 9, head.data(), 9) == 0) {
          const std::size_t s = k - 9;
          error e = error::make(errc::truncated, "a new message starts inside this one: it was cut short", 0,
                                static_cast<std::int64_t>(s - b), static_cast<std::int64_t>(len));
          e.near({p, std::min<std::size_t>(s, 24)});
          return fail(e, s, false);
        }
        if (k + 4 > lim) break;
        if (q[1] == '1' && q[2] == '0' && q[3] == '=') {
          error e = error::make(errc::bad_body_length,
                                "a CheckSum (10) field inside the body: BodyLength is too large", 0,
                                static_cast<std::int64_t>(len), static_cast<std::int64_t>(k + 1 - b));
          e.near({q + 1, std::min<std::size_t>(n - k - 1, 8)});
          return fail(e, k + 1, true);
        }
      }
      if (lim > lo + 3) scanned_ = std::max(scanned_, lim - 3 - lo);
    }
    if (n < t) return {};

    // The body ends with SOH, then "10=ddd|".
    if (p[t - 1] != soh) {
      error e = error::make(errc::bad_body_length, "the body does not end with SOH where BodyLength says", 0,
                            static_cast<std::int64_t>(len));
      e.near({p + t - std::min<std::size_t>(t, 12), std::min<std::size_t>(t, 12)});
      return fail(e, 1, true);
    }
    for (std::size_t j = 0; j < 3; ++j) {
      if (t + j >= n) return {};
      if (p[t + j] != "10="[j]) {
        error e = error::make(errc::bad_body_length,
                              "the message does not end with CheckSum (10) where BodyLength says", 0,
                              static_cast<std::int64_t>(len));
        e.near({p + t, std::min<std::size_t>(n - t, 12)});
        return fail(e, 1, true);
      }
    }
    unsigned got = 0;
    for (std::size_t j = 3; j < trailer_size; ++j) {
      if (t + j >= n) return {};
      const char c = p[t + j];
      if (j < 6 ? is_digit(c) : c == soh) {
        if (j < 6) got = got * 10 + static_cast<unsigned>(c - '0');
        continue;
      }
      error e = error::make(errc::bad_checksum, "CheckSum (10) is not three digits and SOH");
      e.near({p + t, std::min<std::size_t>(n - t, 8)});
      return fail(e, t + 3, true);
    }
    const unsigned want = checksum({p, t});
    const std::size_t total = t + trailer_size;
    if (got != want) {
      error e = error::make(errc::bad_checksum, "CheckSum (10) does not match the bytes", 0, got, want);
      e.near({p + t, trailer_size});
      return fail(e, total, false);
    }
    result r;
    r.st = status::frame;
    r.f.bytes = {p, total};
    r.f.body = {p + b, len};
    r.f.offset = base_;
    ++frames_;
    advance(total);
    return r;
  }
}

framer::result framer::finish() noexcept {
  const std::size_t n = end_ - begin_;
  const bool partial = n > 0 && !resync_;
  const char* p = buf_.get() + begin_;
  result r;
  if (partial) {
    error e = error::make(errc::truncated, "the stream ended inside a message", 0, static_cast<std::int64_t>(n));
    e.near({p, std::min<std::size_t>(n, 24)});
    r = fail(e, n, false);
  } else {
    discarded_ += n;
    advance(n);
  }
  resync_ = false;
  begin_ = end_ = 0;
  return r;
}

// ---- messages -----------------------------------------------------------------------------------

const char* to_string(msg_type t) noexcept {
  switch (t) {
    case msg_type::heartbeat: return "Heartbeat";
    case msg_type::test_request: return "TestRequest";
    case msg_type::logout: return "Logout";
    case msg_type::logon: return "Logon";
    case msg_type::quote: return "Quote";
    case msg_type::new_order_single: return "NewOrderSingle";
    case msg_type::execution_report: return "ExecutionReport";
    case msg_type::resend_request: return "ResendRequest";
    case msg_type::reject: return "Reject";
    case msg_type::sequence_reset: return "SequenceReset";
    case msg_type::business_message_reject: return "BusinessMessageReject";
  }
  return "?";
}

message::message() noexcept = default;

const field* message::find(int t) const noexcept {
  if (t >= 0 && t < 256) {
    const unsigned k = index_[static_cast<std::size_t>(t)];
    return k ? &fields_[k - 1] : nullptr;
  }
  for (std::size_t i = 0; i < n_; ++i)
    if (fields_[i].tag == t) return &fields_[i];
  return nullptr;
}

error message::parse_body(std::string_view body) noexcept {
  raw_type_ = {};
  sender_ = target_ = {};
  seq_ = 0;
  sending_time_ = 0;
  for (std::size_t i = 0; i < n_; ++i)
    if (fields_[i].tag < 256) index_[static_cast<std::size_t>(fields_[i].tag)] = 0;
  n_ = 0;
  sender_ = target_ = {};
  seq_ = 0;
  sending_time_ = 0;

  const char* p = body.data();
  const char* const e = p + body.size();
  while (p < e) {
    const char* q = p;
    int t = 0;
    while (q < e && is_digit(*q) && q - p < 7) t = t * 10 + (*q++ - '0');
    if (q == p || q >= e || *q != '=') {
      error err = error::make(errc::bad_field, "a field is not tag=value with a numeric tag");
      err.near({p, static_cast<std::size_t>(std::min<std::ptrdiff_t>(e - p, 16))});
      return err;
    }
    if (t == 0 || *p == '0') {
      error err = error::make(errc::bad_field, "a tag is zero or has leading zeros");
      err.near({p, static_cast<std::size_t>(std::min<std::ptrdiff_t>(e - p, 16))});
      return err;
    }
    if (t == tag::begin_string || t == tag::body_length || t == tag::checksum)
      return error::make(errc::bad_field, "a header or trailer field inside the body", t);
    const char* v = q + 1;
    const auto* s = static_cast<const char*>(std::memchr(v, soh, static_cast<std::size_t>(e - v)));
    if (!s) return error::make(errc::bad_field, "a field does not end with SOH", t);
    if (s == v) return error::make(errc::bad_field, "a field has an empty value", t);
    if (n_ == max_fields) return error::make(errc::bad_field, "more than 64 fields", 0, static_cast<std::int64_t>(n_) + 1, max_fields);
    fields_[n_] = field{t, std::string_view(v, static_cast<std::size_t>(s - v))};
    ++n_;
    if (t < 256 && !index_[static_cast<std::size_t>(t)]) index_[static_cast<std::size_t>(t)] = static_cast<std::uint8_t>(n_);
    p = s + 1;
  }

  if (n_ == 0 || fields_[0].tag != tag::msg_type)
    return error::make(errc::missing_tag, "MsgType must be the first field of the body", tag::msg_type);
  const std::string_view mt = fields_[0].value;
  raw_type_ = mt;
  bool known = mt.size() == 1;
  if (known) {
    switch (mt[0]) {
      case '0': case '1': case '2': case '3': case '4': case '5': case 'A': case 'S': case 'D':
      case '8': case 'j':
        type_ = static_cast<msg_type>(mt[0]);
        break;
      default: known = false;
    }
  }
  // An unknown MsgType is reported after the header is checked (see raw_type()).
  if (auto e = parse_header()) return e;
  if (!known) {
    error err = error::make(errc::unknown_msg_type, "a MsgType this codec does not handle", tag::msg_type);
    err.near(mt);
    return err;
  }
  return {};
}

error message::parse_header() noexcept {
  sender_ = get(tag::sender_comp_id);
  if (sender_.empty()) return error::make(errc::missing_tag, "required header field missing", tag::sender_comp_id);
  target_ = get(tag::target_comp_id);
  if (target_.empty()) return error::make(errc::missing_tag, "required header field missing", tag::target_comp_id);
  const std::string_view sq = get(tag::msg_seq_num);
  if (sq.empty()) return error::make(errc::missing_tag, "required header field missing", tag::msg_seq_num);
  if (!parse_uint(sq, seq_) || seq_ == 0) {
    seq_ = 0;
    return error::make(errc::bad_value, "not a positive number", tag::msg_seq_num).near(sq);
  }
  const std::string_view st = get(tag::sending_time);
  if (st.empty()) return error::make(errc::missing_tag, "required header field missing", tag::sending_time);
  if (!parse_utc_timestamp(st, sending_time_))
    return error::make(errc::bad_value, "not a UTC timestamp YYYYMMDD-HH:MM:SS[.fff]", tag::sending_time).near(st);
  return {};
}

// ---- decoding -----------------------------------------------------------------------------------

namespace {

error wrong_type(const message& m, msg_type want) noexcept {
  error e = error::make(errc::unknown_msg_type, "the message is not of the type asked for", tag::msg_type);
  const char got = static_cast<char>(m.type());
  e.near({&got, 1});
  (void)want;
  return e;
}

// Each helper sets out or returns the error for tag t.
error need(const message& m, int t, std::string_view& out) noexcept {
  out = m.get(t);
  return out.empty() ? error::make(errc::missing_tag, "required field missing", t) : error{};
}
error bad(int t, const char* what, std::string_view v) noexcept {
  return error::make(errc::bad_value, what, t).near(v);
}
error need_price(const message& m, int t, price& out) noexcept {
  std::string_view v;
  if (auto e = need(m, t, v)) return e;
  return parse_price(v, out) ? error{} : bad(t, "not a price", v);
}
error need_qty(const message& m, int t, std::int64_t& out) noexcept {
  std::string_view v;
  if (auto e = need(m, t, v)) return e;
  return parse_qty(v, out) ? error{} : bad(t, "not a quantity", v);
}
error opt_qty(const message& m, int t, std::int64_t& out) noexcept {
  const std::string_view v = m.get(t);
  if (v.empty()) {
    out = 0;
    return {};
  }
  return parse_qty(v, out) ? error{} : bad(t, "not a quantity", v);
}
error opt_price(const message& m, int t, price& out) noexcept {
  const std::string_view v = m.get(t);
  if (v.empty()) {
    out = 0;
    return {};
  }
  return parse_price(v, out) ? error{} : bad(t, "not a price", v);
}
error need_time(const message& m, int t, std::int64_t& out) noexcept {
  std::string_view v;
  if (auto e = need(m, t, v)) return e;
  return parse_utc_timestamp(v, out) ? error{} : bad(t, "not a UTC timestamp YYYYMMDD-HH:MM:SS[.fff]", v);
}
error need_symbol(const message& m, symbol& out) noexcept {
  std::string_view v;
  if (auto e = need(m, tag::symbol, v)) return e;
  return symbol::make(v, out) ? error{} : bad(tag::symbol, "longer than 15 bytes", v);
}
error need_side(const message& m, side& out) noexcept {
  std::string_view v;
  if (auto e = need(m, tag::side, v)) return e;
  if (v == "1" || v == "2") {
    out = static_cast<side>(v[0]);
    return {};
  }
  return bad(tag::side, "not 1 (buy) or 2 (sell)", v);
}

}  // namespace

error decode(const message& m, logon& out) noexcept {
  if (m.type() != msg_type::logon) return wrong_type(m, msg_type::logon);
  std::string_view v;
  if (auto e = need(m, tag::encrypt_method, v)) return e;
  std::int64_t em;
  if (!parse_int(v, em) || em < 0) return bad(tag::encrypt_method, "not a number >= 0", v);
  if (auto e = need(m, tag::heart_bt_int, v)) return e;
  std::int64_t hb;
  if (!parse_int(v, hb) || hb < 0) return bad(tag::heart_bt_int, "not a number of seconds >= 0", v);
  bool reset = false;
  v = m.get(tag::reset_seq_num_flag);
  if (!v.empty()) {
    if (v != "Y" && v != "N") return bad(tag::reset_seq_num_flag, "not Y or N", v);
    reset = v == "Y";
  }
  out.heartbeat_interval_s = hb;
  out.reset_seq_num = reset;
  return {};
}

error decode(const message& m, logout& out) noexcept {
  if (m.type() != msg_type::logout) return wrong_type(m, msg_type::logout);
  out.text = m.get(tag::text);
  return {};
}

error decode(const message& m, heartbeat& out) noexcept {
  if (m.type() != msg_type::heartbeat) return wrong_type(m, msg_type::heartbeat);
  out.test_req_id = m.get(tag::test_req_id);
  return {};
}

error decode(const message& m, test_request& out) noexcept {
  if (m.type() != msg_type::test_request) return wrong_type(m, msg_type::test_request);
  return need(m, tag::test_req_id, out.test_req_id);
}

error decode(const message& m, quote& out) noexcept {
  if (m.type() != msg_type::quote) return wrong_type(m, msg_type::quote);
  symbol sym;
  if (auto e = need_symbol(m, sym)) return e;
  std::string_view qid;
  if (auto e = need(m, tag::quote_id, qid)) return e;
  price bid, ask;
  if (auto e = need_price(m, tag::bid_px, bid)) return e;
  if (auto e = need_price(m, tag::offer_px, ask)) return e;
  std::int64_t bs, as;
  if (auto e = opt_qty(m, tag::bid_size, bs)) return e;
  if (auto e = opt_qty(m, tag::offer_size, as)) return e;
  std::int64_t tt = m.sending_time_ns();
  const std::string_view v = m.get(tag::transact_time);
  if (!v.empty() && !parse_utc_timestamp(v, tt))
    return bad(tag::transact_time, "not a UTC timestamp YYYYMMDD-HH:MM:SS[.fff]", v);
  out = quote(sym, bid, ask, bs, as, tt, m.sending_time_ns(), m.seq());
  return {};
}

error decode(const message& m, new_order_single& out) noexcept {
  if (m.type() != msg_type::new_order_single) return wrong_type(m, msg_type::new_order_single);
  new_order_single o;
  if (auto e = need(m, tag::cl_ord_id, o.cl_ord_id)) return e;
  if (auto e = need_symbol(m, o.sym)) return e;
  if (auto e = need_side(m, o.sd)) return e;
  if (auto e = need_time(m, tag::transact_time, o.transact_time_ns)) return e;
  if (auto e = need_qty(m, tag::order_qty, o.qty)) return e;
  if (o.qty <= 0) return bad(tag::order_qty, "not a quantity > 0", m.get(tag::order_qty));
  std::string_view v;
  if (auto e = need(m, tag::ord_type, v)) return e;
  if (v != "1" && v != "2") return bad(tag::ord_type, "not 1 (market) or 2 (limit)", v);
  o.type = static_cast<ord_type>(v[0]);
  if (o.type == ord_type::limit) {
    if (auto e = need_price(m, tag::price, o.limit_price)) return e;
  } else if (auto e = opt_price(m, tag::price, o.limit_price)) {
    return e;
  }
  out = o;
  return {};
}

error decode(const message& m, execution_report& out) noexcept {
  if (m.type() != msg_type::execution_report) return wrong_type(m, msg_type::execution_report);
  execution_report r;
  if (auto e = need(m, tag::order_id, r.order_id)) return e;
  if (auto e = need(m, tag::exec_id, r.exec_id)) return e;
  r.cl_ord_id = m.get(tag::cl_ord_id);
  std::string_view v;
  if (auto e = need(m, tag::exec_type, v)) return e;
  if (v != "0" && v != "8" && v != "F") return bad(tag::exec_type, "not 0 (new), 8 (rejected) or F (trade)", v);
  r.etype = static_cast<exec_type>(v[0]);
  if (auto e = need(m, tag::ord_status, v)) return e;
  if (v != "0" && v != "1" && v != "2" && v != "8")
    return bad(tag::ord_status, "not 0 (new), 1 (partially filled), 2 (filled) or 8 (rejected)", v);
  r.status = static_cast<ord_status>(v[0]);
  if (auto e = need_symbol(m, r.sym)) return e;
  if (auto e = need_side(m, r.sd)) return e;
  if (auto e = need_qty(m, tag::leaves_qty, r.leaves_qty)) return e;
  if (auto e = need_qty(m, tag::cum_qty, r.cum_qty)) return e;
  if (auto e = need_price(m, tag::avg_px, r.avg_px)) return e;
  if (auto e = opt_qty(m, tag::order_qty, r.order_qty)) return e;
  if (auto e = opt_qty(m, tag::last_qty, r.last_qty)) return e;
  if (auto e = opt_price(m, tag::last_px, r.last_px)) return e;
  v = m.get(tag::transact_time);
  if (!v.empty() && !parse_utc_timestamp(v, r.transact_time_ns))
    return bad(tag::transact_time, "not a UTC timestamp YYYYMMDD-HH:MM:SS[.fff]", v);
  r.text = m.get(tag::text);
  out = r;
  return {};
}

// ---- encoding -----------------------------------------------------------------------------------

namespace {
constexpr std::string_view length_placeholder = "9=0000000\x01";  // room for 7 digits
}

void builder::add_tag(int t) {
  char buf[12];
  char* e = std::to_chars(buf, buf + sizeof buf, t).ptr;
  *e++ = '=';
  out_->append(buf, static_cast<std::size_t>(e - buf));
}

void builder::begin(msg_type t, const header& h) {
  char buf[32];
  begin(t, h, std::string_view(buf, format_utc_timestamp(buf, h.sending_time_ns)));
}

void builder::begin(msg_type t, const header& h, std::string_view sending_time_text) {
  start_ = out_->size();
  out_->append(head);
  out_->append(length_placeholder);
  body_ = out_->size();
  add(tag::msg_type, static_cast<char>(t));
  add(tag::sender_comp_id, h.sender);
  add(tag::target_comp_id, h.target);
  add_int(tag::msg_seq_num, static_cast<std::int64_t>(h.seq));
  add(tag::sending_time, sending_time_text);
  if (h.poss_dup) {
    add(tag::poss_dup_flag, 'Y');
    add_time(tag::orig_sending_time, h.orig_sending_time_ns);
  }
}

void builder::add(int t, std::string_view value) {
  add_tag(t);
  out_->append(value);
  out_->push_back(soh);
}

void builder::add(int t, char value) {
  add_tag(t);
  out_->push_back(value);
  out_->push_back(soh);
}

void builder::add_int(int t, std::int64_t value) {
  char buf[24];
  char* e = std::to_chars(buf, buf + sizeof buf, value).ptr;
  add(t, std::string_view(buf, static_cast<std::size_t>(e - buf)));
}

void builder::add_price(int t, price value) {
  char buf[32];
  add(t, std::string_view(buf, format_price(buf, value)));
}

void builder::add_time(int t, std::int64_t ns) {
  char buf[32];
  add(t, std::string_view(buf, format_utc_timestamp(buf, ns)));
}

void builder::add_time_text(int t, std::string_view formatted) { add(t, formatted); }

std::string_view builder::end() {
  std::string& o = *out_;
  const std::size_t len = o.size() - body_;
  char digits_buf[24];
  const std::size_t nd = static_cast<std::size_t>(std::to_chars(digits_buf, digits_buf + sizeof digits_buf, len).ptr - digits_buf);
  if (nd > 7) throw std::length_error("qf::fix::builder: a message body over 9,999,999 bytes");
  // Close the gap left in the placeholder: "9=" + digits + SOH right before the body.
  const std::size_t len_field = start_ + head.size();
  const std::size_t gap = 7 - nd;
  if (gap) o.erase(len_field + 2 + nd, gap);
  std::memcpy(o.data() + len_field + 2, digits_buf, nd);
  const unsigned sum = checksum(std::string_view(o).substr(start_));
  char tr[trailer_size] = {'1', '0', '=', 0, 0, 0, soh};
  put_digits(tr + 3, sum, 3);
  o.append(tr, trailer_size);
  return std::string_view(o).substr(start_);
}

std::string_view encode(std::string& out, const header& h, const logon& m) {
  builder b(out);
  b.begin(msg_type::logon, h);
  b.add_int(tag::encrypt_method, 0);
  b.add_int(tag::heart_bt_int, m.heartbeat_interval_s);
  if (m.reset_seq_num) b.add(tag::reset_seq_num_flag, 'Y');
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const logout& m) {
  builder b(out);
  b.begin(msg_type::logout, h);
  if (!m.text.empty()) b.add(tag::text, m.text);
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const heartbeat& m) {
  builder b(out);
  b.begin(msg_type::heartbeat, h);
  if (!m.test_req_id.empty()) b.add(tag::test_req_id, m.test_req_id);
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const test_request& m) {
  builder b(out);
  b.begin(msg_type::test_request, h);
  b.add(tag::test_req_id, m.test_req_id);
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const quote& q) {
  builder b(out);
  b.begin(msg_type::quote, h);
  b.add_int(tag::quote_id, static_cast<std::int64_t>(h.seq));
  b.add(tag::symbol, q.sym().view());
  b.add_price(tag::bid_px, q.bid());
  b.add_price(tag::offer_px, q.ask());
  b.add_int(tag::bid_size, q.bid_size());
  b.add_int(tag::offer_size, q.ask_size());
  b.add_time(tag::transact_time, q.exchange_time_ns());
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const new_order_single& m) {
  builder b(out);
  b.begin(msg_type::new_order_single, h);
  b.add(tag::cl_ord_id, m.cl_ord_id);
  b.add(tag::symbol, m.sym.view());
  b.add(tag::side, static_cast<char>(m.sd));
  b.add_time(tag::transact_time, m.transact_time_ns);
  b.add_int(tag::order_qty, m.qty);
  b.add(tag::ord_type, static_cast<char>(m.type));
  if (m.type == ord_type::limit) b.add_price(tag::price, m.limit_price);
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const execution_report& m) {
  builder b(out);
  b.begin(msg_type::execution_report, h);
  b.add(tag::order_id, m.order_id);
  b.add(tag::exec_id, m.exec_id);
  if (!m.cl_ord_id.empty()) b.add(tag::cl_ord_id, m.cl_ord_id);
  b.add(tag::exec_type, static_cast<char>(m.etype));
  b.add(tag::ord_status, static_cast<char>(m.status));
  b.add(tag::symbol, m.sym.view());
  b.add(tag::side, static_cast<char>(m.sd));
  b.add_int(tag::order_qty, m.order_qty);
  b.add_int(tag::last_qty, m.last_qty);
  b.add_price(tag::last_px, m.last_px);
  b.add_int(tag::leaves_qty, m.leaves_qty);
  b.add_int(tag::cum_qty, m.cum_qty);
  b.add_price(tag::avg_px, m.avg_px);
  b.add_time(tag::transact_time, m.transact_time_ns);
  if (!m.text.empty()) b.add(tag::text, m.text);
  return b.end();
}

// ---- session-level messages ---------------------------------------------------------------------

namespace {
error need_seq(const message& m, int t, std::uint64_t& out) noexcept {
  std::string_view v;
  if (auto e = need(m, t, v)) return e;
  return parse_uint(v, out) ? error{} : bad(t, "not a sequence number", v);
}
error opt_int(const message& m, int t, int& out) noexcept {
  const std::string_view v = m.get(t);
  if (v.empty()) return {};
  std::uint64_t x = 0;
  if (!parse_uint(v, x) || x > 1'000'000'000) return bad(t, "not a number", v);
  out = static_cast<int>(x);
  return {};
}
}  // namespace

error decode(const message& m, resend_request& out) noexcept {
  if (m.type() != msg_type::resend_request) return wrong_type(m, msg_type::resend_request);
  resend_request r;
  if (auto e = need_seq(m, tag::begin_seq_no, r.begin_seq)) return e;
  if (r.begin_seq == 0) return bad(tag::begin_seq_no, "not a sequence number > 0", m.get(tag::begin_seq_no));
  if (auto e = need_seq(m, tag::end_seq_no, r.end_seq)) return e;
  if (r.end_seq != 0 && r.end_seq < r.begin_seq)
    return bad(tag::end_seq_no, "EndSeqNo before BeginSeqNo", m.get(tag::end_seq_no));
  out = r;
  return {};
}

error decode(const message& m, sequence_reset& out) noexcept {
  if (m.type() != msg_type::sequence_reset) return wrong_type(m, msg_type::sequence_reset);
  sequence_reset r;
  if (auto e = need_seq(m, tag::new_seq_no, r.new_seq)) return e;
  if (r.new_seq == 0) return bad(tag::new_seq_no, "not a sequence number > 0", m.get(tag::new_seq_no));
  const std::string_view g = m.get(tag::gap_fill_flag);
  if (!g.empty() && g != "Y" && g != "N") return bad(tag::gap_fill_flag, "not Y or N", g);
  r.gap_fill = g == "Y";
  out = r;
  return {};
}

error decode(const message& m, reject& out) noexcept {
  if (m.type() != msg_type::reject) return wrong_type(m, msg_type::reject);
  reject r;
  if (auto e = need_seq(m, tag::ref_seq_num, r.ref_seq)) return e;
  if (auto e = opt_int(m, tag::ref_tag_id, r.ref_tag)) return e;
  r.ref_msg_type = m.get(tag::ref_msg_type);
  if (!m.get(tag::session_reject_reason).empty())
    if (auto e = opt_int(m, tag::session_reject_reason, r.reason)) return e;
  r.text = m.get(tag::text);
  out = r;
  return {};
}

error decode(const message& m, business_message_reject& out) noexcept {
  if (m.type() != msg_type::business_message_reject) return wrong_type(m, msg_type::business_message_reject);
  business_message_reject r;
  if (!m.get(tag::ref_seq_num).empty())
    if (auto e = need_seq(m, tag::ref_seq_num, r.ref_seq)) return e;
  if (auto e = need(m, tag::ref_msg_type, r.ref_msg_type)) return e;
  std::string_view v;
  if (auto e = need(m, tag::business_reject_reason, v)) return e;
  if (auto e = opt_int(m, tag::business_reject_reason, r.reason)) return e;
  r.text = m.get(tag::text);
  out = r;
  return {};
}

std::string_view encode(std::string& out, const header& h, const resend_request& m) {
  builder b(out);
  b.begin(msg_type::resend_request, h);
  b.add_int(tag::begin_seq_no, static_cast<std::int64_t>(m.begin_seq));
  b.add_int(tag::end_seq_no, static_cast<std::int64_t>(m.end_seq));
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const sequence_reset& m) {
  builder b(out);
  b.begin(msg_type::sequence_reset, h);
  if (m.gap_fill) b.add(tag::gap_fill_flag, 'Y');
  b.add_int(tag::new_seq_no, static_cast<std::int64_t>(m.new_seq));
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const reject& m) {
  builder b(out);
  b.begin(msg_type::reject, h);
  b.add_int(tag::ref_seq_num, static_cast<std::int64_t>(m.ref_seq));
  if (m.ref_tag > 0) b.add_int(tag::ref_tag_id, m.ref_tag);
  if (!m.ref_msg_type.empty()) b.add(tag::ref_msg_type, m.ref_msg_type);
  if (m.reason >= 0) b.add_int(tag::session_reject_reason, m.reason);
  if (!m.text.empty()) b.add(tag::text, m.text);
  return b.end();
}

std::string_view encode(std::string& out, const header& h, const business_message_reject& m) {
  builder b(out);
  b.begin(msg_type::business_message_reject, h);
  if (m.ref_seq) b.add_int(tag::ref_seq_num, static_cast<std::int64_t>(m.ref_seq));
  b.add(tag::ref_msg_type, m.ref_msg_type);
  b.add_int(tag::business_reject_reason, m.reason);
  if (!m.text.empty()) b.add(tag::text, m.text);
  return b.end();
}

std::string_view encode_poss_dup(std::string& out, const message& m, std::int64_t sending_time_ns) {
  builder b(out);
  header h{m.sender(), m.target(), m.seq(), sending_time_ns};
  h.poss_dup = true;
  h.orig_sending_time_ns = m.sending_time_ns();
  b.begin(m.type(), h);
  for (const field& f : m.fields()) {
    switch (f.tag) {
      case tag::msg_type: case tag::sender_comp_id: case tag::target_comp_id: case tag::msg_seq_num:
      case tag::sending_time: case tag::poss_dup_flag: case tag::orig_sending_time:
        continue;
      default: b.add(f.tag, f.value);
    }
  }
  return b.end();
}

}  // namespace qf::fix
