// fix.hpp: a FIX 4.4 tag=value codec for the quote-fanout demo: an incremental framer, a
// message view, an encoder and the typed messages the exchange simulator and its clients speak.
//
//   qf::fix::framer fr;                                 // owns a read buffer (256 KiB by default)
//   for (;;) {
//     std::span<char> room = fr.prepare();              // read straight into the framer's buffer
//     std::size_t n = conn.read(room.data(), room.size());
//     if (n == 0) { fr.finish(); break; }               // end of stream: a partial message is truncated
//     fr.commit(n);
//     for (;;) {
//       qf::fix::framer::result r = fr.next();
//       if (r.st == qf::fix::framer::status::need_more) break;
//       if (r.st == qf::fix::framer::status::error) { log(r.err.message()); continue; }  // counted
//       qf::fix::message m;
//       if (auto e = m.parse(r.f)) { fr.errors().add(e.code); continue; }  // framing was fine
//       if (m.type() == qf::fix::msg_type::quote) {
//         qf::fix::quote q;
//         if (auto e = qf::fix::decode(m, q)) { ... }
//       }
//     }
//   }
//
// Zero-copy: frames and message views are string_views into the framer's buffer, valid until the
// next prepare(), commit() or feed(); nothing on the framing and parsing path allocates. What
// outlives a frame is copied into value types (qf::fix::quote holds its symbol inline).
//
// Wire format (FIX 4.4, SOH = '\x01' between fields):
//   8=FIX.4.4|9=<BodyLength>|35=<MsgType>|...|10=<CheckSum>|
// BodyLength counts the bytes after "9=<n>|" up to and including the SOH before "10=";
// CheckSum is the sum of every byte before "10=", modulo 256, as three digits.
//
// Prices are fixed point: qf::fix::price is an int64 count of millionths (price_scale = 10^6), so
// $187.53 is 187'530'000. Parsing accepts up to six decimals (more that are not zeros is
// bad_value); encoding writes the shortest exact decimal. Timestamps (SendingTime 52, TransactTime
// 60) are nanoseconds since the Unix epoch, UTC; they are written as YYYYMMDD-HH:MM:SS.nnnnnnnnn
// (FIX 4.4 specifies milliseconds; nanoseconds are a common extension) and read with 0 to 9
// decimals.
//
// Errors are qf::fix::errc values (also std::error_code-compatible) carried in qf::fix::error,
// whose message() names what was wrong and where. The framer counts every error it reports; the
// caller adds the errors of parse() and decode() with errors().add(), so one error_counters holds
// a session's whole tally. How the framer recovers:
//   - garbage (bytes where a message should start): one error, then it skips to the next "8=FIX";
//   - bad BeginString, BodyLength (not a number, over the limit, or the message does not end with
//     "10=" where it says), a CheckSum field found inside the body: one error, then it skips ahead
//     to the next "8=FIX" (no further garbage error for the bytes skipped);
//   - truncated: a new "8=FIX.4.4|9=" starts inside the body a message's BodyLength announced
//     (the sender cut the message short): one error, and the new message is framed;
//   - a checksum mismatch: one error, and the frame is skipped whole (its length was right);
//   - finish() with a partial message buffered: truncated.
// Framing is independent of how the bytes arrive: byte by byte or all at once, the same frames and
// the same errors come out (the fuzz target checks it). Errors from parse() and decode() leave the
// framing intact: the caller skips that one message and the session goes on.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace qf::fix {

inline constexpr char soh = '\x01';
inline constexpr std::string_view begin_string = "FIX.4.4";

// ---- errors -------------------------------------------------------------------------------------

enum class errc : std::uint8_t {
  ok = 0,
  garbage,           // bytes that do not begin a message ("8=FIX") where one should start
  bad_begin_string,  // 8= is not FIX.4.4
  bad_body_length,   // 9 not a number, over the limit, or the message does not end where it says
  bad_checksum,      // 10 not three digits, or not the sum of the bytes
  truncated,         // a message cut short (a new one starts inside it, or the stream ended)
  bad_field,         // not tag=value: a tag that is not a number, no '=', an empty value, too many fields
  missing_tag,       // a required field is absent (error::tag names it)
  bad_value,         // a field's value is malformed (error::tag names it)
  unknown_msg_type,  // a MsgType (35) this codec does not handle
};
inline constexpr std::size_t errc_count = 10;

// "bad_checksum", ...
const char* to_string(errc e) noexcept;
const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// One error: its class, and what was wrong. Small and trivially copyable (no allocation); message()
// formats it.
struct error {
  errc code = errc::ok;
  int tag = 0;                // the field concerned, 0 if none
  const char* what = "";      // what was wrong (a string literal)
  std::int64_t got = -1;      // the numbers involved, -1 if none (BodyLength, CheckSum, ...)
  std::int64_t want = -1;
  std::uint64_t offset = 0;   // framer errors: the stream offset of the offending message or bytes
  std::uint8_t excerpt_len = 0;
  char excerpt[31] = {};      // up to 31 of the offending bytes

  explicit operator bool() const noexcept { return code != errc::ok; }
  // "bad_checksum: CheckSum (10) does not match the bytes (got 12, want 45) at stream offset 1234
  // near '10=012|'" (SOH shown as '|', other unprintable bytes as \xNN).
  std::string message() const;

  static error make(errc code, const char* what, int tag = 0, std::int64_t got = -1,
                    std::int64_t want = -1) noexcept {
    error e;
    e.code = code;
    e.what = what;
    e.tag = tag;
    e.got = got;
    e.want = want;
    return e;
  }
  error& near(std::string_view bytes) noexcept;  // sets the excerpt (truncated to 31 bytes)
};

// Errors counted by class.
class error_counters {
 public:
  void add(errc e) noexcept {
    if (e != errc::ok) ++n_[static_cast<std::size_t>(e)];
  }
  std::uint64_t operator[](errc e) const noexcept { return n_[static_cast<std::size_t>(e)]; }
  std::uint64_t total() const noexcept;
  void merge(const error_counters& o) noexcept;
  // "bad_checksum=2 garbage=1" (only the non-zero ones), or "none".
  std::string summary() const;

 private:
  std::array<std::uint64_t, errc_count> n_{};
};

// ---- values -------------------------------------------------------------------------------------

// A price in millionths: $187.53 is 187'530'000.
using price = std::int64_t;
inline constexpr std::int64_t price_scale = 1'000'000;
inline constexpr double to_double(price p) noexcept { return static_cast<double>(p) / price_scale; }
inline constexpr price price_from_cents(std::int64_t cents) noexcept { return cents * (price_scale / 100); }

// A ticker held inline (no allocation): at most 15 bytes.
class symbol {
 public:
  static constexpr std::size_t max_size = 15;
  constexpr symbol() noexcept = default;
  // Throws std::length_error if s is longer than max_size.
  explicit symbol(std::string_view s);
  // False (and out untouched) if s is empty or too long.
  static bool make(std::string_view s, symbol& out) noexcept;

  std::string_view view() const noexcept { return {d_, n_}; }
  std::string str() const { return std::string(view()); }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  friend bool operator==(const symbol& a, const symbol& b) noexcept { return a.view() == b.view(); }
  friend auto operator<=>(const symbol& a, const symbol& b) noexcept { return a.view() <=> b.view(); }

 private:
  char d_[max_size] = {};
  std::uint8_t n_ = 0;
};
static_assert(sizeof(symbol) == 16);

// Number and time parsers (strict: the whole string, nothing else). False on malformed input.
bool parse_uint(std::string_view s, std::uint64_t& out) noexcept;  // digits, fits in 63 bits
bool parse_int(std::string_view s, std::int64_t& out) noexcept;    // [-]digits
bool parse_price(std::string_view s, price& out) noexcept;         // [-]digits[.digits], <= 6 decimals
bool parse_qty(std::string_view s, std::int64_t& out) noexcept;    // digits[.000], a whole number >= 0
bool parse_utc_timestamp(std::string_view s, std::int64_t& ns) noexcept;  // YYYYMMDD-HH:MM:SS[.f{1,9}]

// Formatters: write into out (which must have room: 24 bytes for numbers and prices, 27 for a
// timestamp) and return how many bytes they wrote.
std::size_t format_price(char* out, price p) noexcept;
std::size_t format_utc_timestamp(char* out, std::int64_t ns) noexcept;  // with 9 decimals

// Wall clock (system_clock) in ns since the epoch.
std::int64_t utc_now_ns() noexcept;

// ---- framing ------------------------------------------------------------------------------------

// One message on the wire, as views into the framer's buffer.
struct frame {
  std::string_view bytes;    // the whole message, "8=" through the CheckSum's SOH
  std::string_view body;     // what BodyLength counts: "35=" through the SOH before "10="
  std::uint64_t offset = 0;  // its position in the stream
};

struct framer_options {
  std::size_t max_body_length = 64 * 1024;  // a larger BodyLength is bad_body_length
  std::size_t buffer_size = 256 * 1024;     // raised to fit the largest message if smaller
};

class framer {
 public:
  enum class status : std::uint8_t { need_more, frame, error };
  struct result {
    status st = status::need_more;
    frame f;      // st == frame
    error err;    // st == error (already counted in errors())
  };

  explicit framer(framer_options o = {});

  // Room to read into at the end of the buffer (never empty after next() has returned need_more),
  // moving the unconsumed bytes to the front first if that makes more room. Invalidates frames.
  std::span<char> prepare();
  // n bytes were written at the start of prepare()'s span.
  void commit(std::size_t n) noexcept;
  // Copies as much of bytes as fits (prepare + commit); returns how much. Call next() until
  // need_more and feed the rest.
  std::size_t feed(std::string_view bytes);

  // The next frame or error, or need_more when the buffered bytes hold no complete message.
  result next() noexcept;
  // End of stream: a partial message still buffered is reported (once) as truncated; otherwise
  // need_more. Discards what is buffered.
  result finish() noexcept;

  error_counters& errors() noexcept { return errors_; }
  const error_counters& errors() const noexcept { return errors_; }
  std::uint64_t frames() const noexcept { return frames_; }
  std::uint64_t bytes_discarded() const noexcept { return discarded_; }
  std::size_t buffered() const noexcept { return end_ - begin_; }
  std::size_t max_body_length() const noexcept { return max_body_; }

 private:
  result fail(error e, std::size_t skip, bool resync) noexcept;
  void advance(std::size_t k) noexcept;

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0;
  std::size_t begin_ = 0;             // first unconsumed byte
  std::size_t end_ = 0;               // end of the data
  std::uint64_t base_ = 0;            // stream offset of buf_[begin_]
  std::size_t max_body_ = 0;
  std::size_t scanned_ = 0;           // body bytes of the pending message already scanned
  bool resync_ = false;               // skipping to the next "8=FIX" without further errors
  error_counters errors_;
  std::uint64_t frames_ = 0;
  std::uint64_t discarded_ = 0;
};

// The checksum of bytes: their sum modulo 256.
unsigned checksum(std::string_view bytes) noexcept;

// ---- messages -----------------------------------------------------------------------------------

enum class msg_type : char {
  heartbeat = '0',
  test_request = '1',
  logout = '5',
  logon = 'A',
  quote = 'S',
  new_order_single = 'D',
  execution_report = '8',
  // Session-level messages (the session layer, fix_session.hpp).
  resend_request = '2',
  reject = '3',
  sequence_reset = '4',
  business_message_reject = 'j',
};
const char* to_string(msg_type t) noexcept;  // "Heartbeat", ...

namespace tag {
inline constexpr int avg_px = 6, begin_string = 8, body_length = 9, checksum = 10, cl_ord_id = 11,
                     cum_qty = 14, exec_id = 17, last_px = 31, last_qty = 32, msg_seq_num = 34,
                     msg_type = 35, order_id = 37, order_qty = 38, ord_status = 39, ord_type = 40,
                     price = 44, sender_comp_id = 49, sending_time = 52, side = 54, symbol = 55,
                     target_comp_id = 56, text = 58, transact_time = 60, encrypt_method = 98,
                     heart_bt_int = 108, test_req_id = 112, quote_id = 117, reset_seq_num_flag = 141,
                     bid_px = 132, offer_px = 133, bid_size = 134, offer_size = 135, exec_type = 150,
                     leaves_qty = 151, begin_seq_no = 7, end_seq_no = 16, new_seq_no = 36,
                     poss_dup_flag = 43, ref_seq_num = 45, orig_sending_time = 122,
                     gap_fill_flag = 123, ref_tag_id = 371, ref_msg_type = 372,
                     session_reject_reason = 373, business_reject_ref_id = 379,
                     business_reject_reason = 380;
}

struct field {
  int tag = 0;
  std::string_view value;
};

// A parsed message: its fields as views into the frame, and the standard header checked.
// Not copyable on purpose (it is large); parse into one and reuse it.
class message {
 public:
  static constexpr std::size_t max_fields = 64;

  message() noexcept;
  message(const message&) = delete;
  message& operator=(const message&) = delete;

  // Parses a frame's body: every field tag=value, MsgType (35) first and known, SenderCompID (49),
  // TargetCompID (56), MsgSeqNum (34, > 0) and SendingTime (52) present and well formed.
  error parse(const frame& f) noexcept { return parse_body(f.body); }
  error parse_body(std::string_view body) noexcept;

  msg_type type() const noexcept { return type_; }
  // MsgType (35) as written: also set when parse() failed with unknown_msg_type, which is
  // reported only after the standard header parsed, so that sender(), target() and seq() are
  // valid then too (a session can consume the sequence number and answer with a
  // BusinessMessageReject).
  std::string_view raw_type() const noexcept { return raw_type_; }
  // PossDupFlag (43) is Y.
  bool poss_dup() const noexcept { return get(tag::poss_dup_flag) == "Y"; }
  std::string_view sender() const noexcept { return sender_; }
  std::string_view target() const noexcept { return target_; }
  std::uint64_t seq() const noexcept { return seq_; }
  std::int64_t sending_time_ns() const noexcept { return sending_time_; }

  // The first field with this tag, or nullptr.
  const field* find(int tag) const noexcept;
  // Its value, or empty.
  std::string_view get(int tag) const noexcept {
    const field* f = find(tag);
    return f ? f->value : std::string_view();
  }
  std::span<const field> fields() const noexcept { return {fields_.data(), n_}; }

 private:
  error parse_header() noexcept;
  std::array<field, max_fields> fields_;
  std::size_t n_ = 0;
  std::array<std::uint8_t, 256> index_{};  // tag < 256 -> 1 + position of its first field
  msg_type type_ = msg_type::heartbeat;
  std::string_view raw_type_;
  std::string_view sender_, target_;
  std::uint64_t seq_ = 0;
  std::int64_t sending_time_ = 0;
};

// The standard header the encoder writes: who, to whom, sequence number, sending time.
struct header {
  std::string_view sender;         // SenderCompID (49)
  std::string_view target;         // TargetCompID (56)
  std::uint64_t seq = 1;           // MsgSeqNum (34)
  std::int64_t sending_time_ns = 0;  // SendingTime (52)
  // A retransmission: PossDupFlag (43) Y and OrigSendingTime (122), written right after
  // SendingTime (still in the header, where FIX wants them).
  bool poss_dup = false;
  std::int64_t orig_sending_time_ns = 0;
};

// Typed messages. String fields are views (into the frame when decoded: copy what must outlive it).
struct logon {
  std::int64_t heartbeat_interval_s = 30;  // HeartBtInt (108), >= 0
  bool reset_seq_num = false;              // ResetSeqNumFlag (141)
  // EncryptMethod (98) is written as 0 (none) and must be present when read.
};
struct logout {
  std::string_view text;  // Text (58), optional
};
struct heartbeat {
  std::string_view test_req_id;  // TestReqID (112), optional: set when answering a TestRequest
};
struct test_request {
  std::string_view test_req_id;  // TestReqID (112), required
};

// A two-sided quote, as parsed from a Quote (S) message. An immutable value: its fields are read
// through accessors, and it is small and trivially copyable (fits in a channel by value).
class quote {
 public:
  quote() noexcept = default;
  quote(symbol sym, price bid, price ask, std::int64_t bid_size, std::int64_t ask_size,
        std::int64_t exchange_time_ns, std::int64_t sending_time_ns, std::uint64_t seq) noexcept
      : sym_(sym), bid_(bid), ask_(ask), bid_size_(bid_size), ask_size_(ask_size),
        exchange_time_ns_(exchange_time_ns), sending_time_ns_(sending_time_ns), seq_(seq) {}

  const symbol& sym() const noexcept { return sym_; }      // Symbol (55)
  price bid() const noexcept { return bid_; }              // BidPx (132)
  price ask() const noexcept { return ask_; }              // OfferPx (133)
  std::int64_t bid_size() const noexcept { return bid_size_; }  // BidSize (134), 0 if absent
  std::int64_t ask_size() const noexcept { return ask_size_; }  // OfferSize (135), 0 if absent
  // TransactTime (60): when the exchange made the quote, ns since the epoch (SendingTime if absent).
  std::int64_t exchange_time_ns() const noexcept { return exchange_time_ns_; }
  std::int64_t sending_time_ns() const noexcept { return sending_time_ns_; }  // SendingTime (52)
  std::uint64_t seq() const noexcept { return seq_; }      // MsgSeqNum (34)

  friend bool operator==(const quote&, const quote&) noexcept = default;

 private:
  symbol sym_;
  price bid_ = 0, ask_ = 0;
  std::int64_t bid_size_ = 0, ask_size_ = 0;
  std::int64_t exchange_time_ns_ = 0, sending_time_ns_ = 0;
  std::uint64_t seq_ = 0;
};
static_assert(std::is_trivially_copyable_v<quote>);

enum class side : char { buy = '1', sell = '2' };
enum class ord_type : char { market = '1', limit = '2' };
enum class exec_type : char { new_order = '0', rejected = '8', trade = 'F' };
enum class ord_status : char { new_order = '0', partially_filled = '1', filled = '2', rejected = '8' };

struct new_order_single {
  std::string_view cl_ord_id;      // ClOrdID (11)
  symbol sym;                      // Symbol (55)
  side sd = side::buy;             // Side (54)
  std::int64_t qty = 0;            // OrderQty (38), > 0
  ord_type type = ord_type::market;  // OrdType (40)
  price limit_price = 0;           // Price (44): required for limit orders
  std::int64_t transact_time_ns = 0;  // TransactTime (60)
};

struct execution_report {
  std::string_view order_id;       // OrderID (37)
  std::string_view exec_id;        // ExecID (17)
  std::string_view cl_ord_id;      // ClOrdID (11)
  exec_type etype = exec_type::trade;       // ExecType (150)
  ord_status status = ord_status::filled;  // OrdStatus (39)
  symbol sym;                      // Symbol (55)
  side sd = side::buy;             // Side (54)
  std::int64_t order_qty = 0;      // OrderQty (38)
  std::int64_t last_qty = 0;       // LastQty (32)
  price last_px = 0;               // LastPx (31)
  std::int64_t leaves_qty = 0;     // LeavesQty (151)
  std::int64_t cum_qty = 0;        // CumQty (14)
  price avg_px = 0;                // AvgPx (6)
  std::int64_t transact_time_ns = 0;  // TransactTime (60)
  std::string_view text;           // Text (58), optional
};

// Session-level messages.
struct resend_request {
  std::uint64_t begin_seq = 0;  // BeginSeqNo (7), > 0
  std::uint64_t end_seq = 0;    // EndSeqNo (16): 0 means everything from begin_seq on
};
struct sequence_reset {
  std::uint64_t new_seq = 0;  // NewSeqNo (36), > 0
  bool gap_fill = false;      // GapFillFlag (123) Y; otherwise a Reset
};
// Reject (3): a message was received but not processed because of a session-level problem.
struct reject {
  std::uint64_t ref_seq = 0;        // RefSeqNum (45), required
  int ref_tag = 0;                  // RefTagID (371), 0: absent
  std::string_view ref_msg_type;    // RefMsgType (372), optional
  int reason = -1;                  // SessionRejectReason (373), -1: absent
  std::string_view text;            // Text (58), optional
};
// SessionRejectReason (373) values used here.
namespace reject_reason {
inline constexpr int invalid_tag = 0, required_tag_missing = 1, undefined_tag = 3,
                     tag_without_value = 4, value_incorrect = 5, incorrect_format = 6,
                     comp_id_problem = 9, sending_time_accuracy = 10, invalid_msg_type = 11;
}
// BusinessMessageReject (j): an application message that cannot be processed.
struct business_message_reject {
  std::uint64_t ref_seq = 0;        // RefSeqNum (45)
  std::string_view ref_msg_type;    // RefMsgType (372), required
  int reason = 0;                   // BusinessRejectReason (380), required: 3 unsupported MsgType
  std::string_view text;            // Text (58), optional
};

// Decoding: fills out from a parsed message of the matching type (unknown_msg_type otherwise).
// Required fields missing: missing_tag; malformed: bad_value; error::tag names the field.
error decode(const message& m, logon& out) noexcept;
error decode(const message& m, logout& out) noexcept;
error decode(const message& m, heartbeat& out) noexcept;
error decode(const message& m, test_request& out) noexcept;
error decode(const message& m, quote& out) noexcept;  // Symbol, QuoteID (117), BidPx, OfferPx required
error decode(const message& m, new_order_single& out) noexcept;
error decode(const message& m, execution_report& out) noexcept;
error decode(const message& m, resend_request& out) noexcept;
error decode(const message& m, sequence_reset& out) noexcept;
error decode(const message& m, reject& out) noexcept;
error decode(const message& m, business_message_reject& out) noexcept;

// ---- encoding -----------------------------------------------------------------------------------

// Appends messages to a std::string (reused: once it has grown, encoding allocates nothing).
//   b.begin(msg_type::quote, hdr); b.add(tag::symbol, "AAPL"); ...; std::string_view m = b.end();
// end() fills in BodyLength and CheckSum. Several messages may be appended to one buffer (a batch
// for one write). Values must not contain SOH (precondition).
class builder {
 public:
  explicit builder(std::string& out) noexcept : out_(&out) {}

  void begin(msg_type t, const header& h);
  // The same, with SendingTime (52) already formatted (a batch of messages stamped alike).
  void begin(msg_type t, const header& h, std::string_view sending_time_text);
  void add(int tag, std::string_view value);
  void add(int tag, char value);
  void add_int(int tag, std::int64_t value);
  void add_price(int tag, price value);
  void add_time(int tag, std::int64_t ns);        // formats the timestamp
  void add_time_text(int tag, std::string_view formatted);  // an already formatted timestamp
  std::string_view end();                          // the complete message, a view into out

 private:
  void add_tag(int tag);
  std::string* out_;
  std::size_t start_ = 0;
  std::size_t body_ = 0;
};

// Typed encoders: append one complete message to out, return a view of it.
std::string_view encode(std::string& out, const header& h, const logon& m);
std::string_view encode(std::string& out, const header& h, const logout& m);
std::string_view encode(std::string& out, const header& h, const heartbeat& m);
std::string_view encode(std::string& out, const header& h, const test_request& m);
// The header's seq and sending time are written (the quote's own seq()/sending_time_ns() are
// ignored); QuoteID (117) is the sequence number. exchange_time_ns() is TransactTime (60).
std::string_view encode(std::string& out, const header& h, const quote& q);
std::string_view encode(std::string& out, const header& h, const new_order_single& m);
std::string_view encode(std::string& out, const header& h, const execution_report& m);
std::string_view encode(std::string& out, const header& h, const resend_request& m);
std::string_view encode(std::string& out, const header& h, const sequence_reset& m);
std::string_view encode(std::string& out, const header& h, const reject& m);
std::string_view encode(std::string& out, const header& h, const business_message_reject& m);
// A retransmission of an earlier message m (parsed): the same MsgType, MsgSeqNum and body, with
// PossDupFlag Y, OrigSendingTime = m's SendingTime, and SendingTime sending_time_ns.
std::string_view encode_poss_dup(std::string& out, const message& m, std::int64_t sending_time_ns);

}  // namespace qf::fix

template <>
struct std::is_error_code_enum<qf::fix::errc> : std::true_type {};

template <>
struct std::hash<qf::fix::symbol> {
  std::size_t operator()(const qf::fix::symbol& s) const noexcept {
    return std::hash<std::string_view>()(s.view());
  }
};
