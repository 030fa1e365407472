// exchange.cpp: the exchange simulator (see exchange.hpp).
#include "exchange.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdarg>
#include <exception>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

using namespace std::chrono_literals;

namespace qf {

namespace {
using steady = std::chrono::steady_clock;

std::string_view to_chars_view(char* buf, std::size_t cap, char prefix, std::uint64_t v) {
  buf[0] = prefix;
  char* e = std::to_chars(buf + 1, buf + cap, v).ptr;
  return {buf, static_cast<std::size_t>(e - buf)};
}
}  // namespace

struct exchange::session {
  exchange* ex;
  std::uint64_t id;
  goro::net::conn c;
  std::string peer;
  goro::context ctx;
  goro::cancel_func cancel;

  // The write side: the sequence number, the market, the socket's writes and the output buffer.
  goro::mutex wmu;
  market mkt;
  std::uint64_t out_seq = 1;
  std::string out;
  std::string client_id;           // the client's SenderCompID, our TargetCompID
  std::int64_t heartbeat_s = 30;   // agreed at logon; 0: none
  steady::time_point last_tx;
  std::atomic<bool> closing{false};  // no more quotes: a Logout was sent or the session is ending
  std::uint64_t orders = 0;

  session(exchange* e, std::uint64_t i, goro::net::conn conn)
      : ex(e), id(i), c(std::move(conn)), mkt(e->universe_, e->opt_.seed) {
    try {
      peer = c.remote_addr();
    } catch (const std::exception&) {
      peer = "?";
    }
    auto [cx, cn] = goro::with_cancel(e->ctx_);
    ctx = std::move(cx);
    cancel = std::move(cn);
    out.reserve(e->opt_.batch_bytes + 4096);
  }

  void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  fix::header hdr() {
    return fix::header{ex->opt_.comp_id, client_id, out_seq++, fix::utc_now_ns()};
  }

  // Writes what is in out (under wmu). False when the connection failed: the session ends.
  // Never cut short by the session's context (a half-written message would reach the client):
  // a session that ends sets a write deadline instead.
  bool flush(std::size_t messages) {
    std::error_code ec;
    c.write_all(out.data(), out.size(), ec);
    if (!ec) {
      ex->n_.bytes_out.fetch_add(out.size(), std::memory_order_relaxed);
      ex->n_.sent.fetch_add(messages, std::memory_order_relaxed);
      last_tx = steady::now();
    }
    out.clear();
    if (ec && ec != goro::errc::closed) log("write: %s", ec.message().c_str());
    return !ec;
  }

  // Encodes one message with the next sequence number and writes it (under wmu).
  template <class M>
  bool send(const M& m) {
    out.clear();
    fix::encode(out, hdr(), m);
    return flush(1);
  }

  void serve();
  bool await_logon(fix::framer& fr, fix::message& m);
  bool handle(fix::message& m, bool& logged_out, fix::error_counters& errs);
  void on_order(const fix::message& m, fix::error_counters& errs);
  void write_quotes();
};

void exchange::session::log(const char* fmt, ...) {
  std::FILE* f = ex->opt_.log;
  if (!f) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  std::fprintf(f, "fix_exchange: session %llu (%s): %s\n", static_cast<unsigned long long>(id), peer.c_str(), msg);
  std::fflush(f);
}

// ---- the reader ---------------------------------------------------------------------------------

bool exchange::session::await_logon(fix::framer& fr, fix::message& m) {
  c.set_read_deadline(steady::now() + ex->opt_.logon_timeout);
  for (;;) {
    const std::span<char> room = fr.prepare();
    std::error_code ec;
    const std::size_t n = c.read(ctx, room.data(), room.size(), ec);
    if (ec || n == 0) {
      if (ec == goro::errc::io_timeout) log("no Logon within the logon timeout");
      return false;
    }
    ex->n_.bytes_in.fetch_add(n, std::memory_order_relaxed);
    fr.commit(n);
    for (;;) {
      const fix::framer::result r = fr.next();
      if (r.st == fix::framer::status::need_more) break;
      if (r.st == fix::framer::status::error) {
        log("before Logon: %s", r.err.message().c_str());
        return false;
      }
      if (auto e = m.parse(r.f)) {
        fr.errors().add(e.code);
        log("before Logon: %s", e.message().c_str());
        return false;
      }
      ex->n_.received.fetch_add(1, std::memory_order_relaxed);
      fix::logon lg;
      if (m.type() != fix::msg_type::logon) {
        log("the first message is a %s, not a Logon", fix::to_string(m.type()));
        return false;
      }
      if (auto e = fix::decode(m, lg)) {
        fr.errors().add(e.code);
        log("Logon: %s", e.message().c_str());
        return false;
      }
      client_id.assign(m.sender());
      heartbeat_s = std::clamp<std::int64_t>(lg.heartbeat_interval_s, 0, 3600);
      std::lock_guard lk(wmu);
      fix::logon reply;
      reply.heartbeat_interval_s = heartbeat_s;
      reply.reset_seq_num = lg.reset_seq_num;
      return send(reply);
    }
  }
}

void exchange::session::serve() {
  fix::framer fr;
  fix::message m;
  struct merge_errors {
    session* s;
    fix::framer& fr;
    ~merge_errors() {
      std::lock_guard lk(s->ex->mu_);
      s->ex->errors_.merge(fr.errors());
    }
  } merge{this, fr};

  if (!await_logon(fr, m)) return;
  ex->n_.logged_on.fetch_add(1, std::memory_order_relaxed);
  log("logged on as %s, HeartBtInt %lld", client_id.c_str(), static_cast<long long>(heartbeat_s));
  std::uint64_t in_seq = m.seq() + 1;

  auto writer = goro::spawn(goro::spawn_options{.name = "fix quotes"}, [this] { write_quotes(); });

  // The silence allowed before a TestRequest, and after it before giving up.
  const auto grace = heartbeat_s > 0 ? std::chrono::milliseconds(heartbeat_s * 1500) : 0ms;
  bool test_request_out = false;
  bool logged_out = false;
  auto rearm = [&] {
    c.set_read_deadline(grace > 0ms ? steady::now() + grace : goro::net::time_point{});
  };
  rearm();
  for (;;) {
    // The frames already buffered first (the Logon may have come with more behind it).
    bool got = false, over = false;
    for (;;) {
      const fix::framer::result r = fr.next();
      if (r.st == fix::framer::status::need_more) break;
      if (r.st == fix::framer::status::error) {
        log("%s", r.err.message().c_str());
        continue;
      }
      if (auto e = m.parse(r.f)) {
        fr.errors().add(e.code);
        log("%s", e.message().c_str());
        continue;
      }
      ex->n_.received.fetch_add(1, std::memory_order_relaxed);
      got = true;
      if (m.seq() != in_seq) {
        ex->n_.seq_gaps.fetch_add(1, std::memory_order_relaxed);
        log("MsgSeqNum %llu, expected %llu", static_cast<unsigned long long>(m.seq()),
            static_cast<unsigned long long>(in_seq));
      }
      in_seq = m.seq() + 1;
      if (!handle(m, logged_out, fr.errors()) || logged_out) {
        over = true;
        break;
      }
    }
    if (over) break;
    if (got) {
      test_request_out = false;
      rearm();
    }
    const std::span<char> room = fr.prepare();
    std::error_code ec;
    const std::size_t n = c.read(ctx, room.data(), room.size(), ec);
    if (ec == goro::errc::io_timeout) {
      if (test_request_out) {
        log("no answer to a TestRequest: closing");
        break;
      }
      char id_buf[24];
      const fix::test_request tr{to_chars_view(id_buf, sizeof id_buf, 'T', static_cast<std::uint64_t>(fix::utc_now_ns()))};
      {
        std::lock_guard lk(wmu);
        if (!send(tr)) break;
      }
      ex->n_.test_requests.fetch_add(1, std::memory_order_relaxed);
      test_request_out = true;
      rearm();
      continue;
    }
    if (ec || n == 0) {
      if (ec && ec != goro::errc::canceled && ec != goro::errc::closed) log("read: %s", ec.message().c_str());
      if (!ec && fr.finish().st == fix::framer::status::error) log("the stream ended inside a message");
      break;
    }
    ex->n_.bytes_in.fetch_add(n, std::memory_order_relaxed);
    fr.commit(n);
  }

  // Stop the writer: no more quotes. A write in progress gets a second to finish (a client that
  // does not read any more would hold it forever).
  closing = true;
  c.set_write_deadline(steady::now() + 1s);
  cancel();
  writer.get();
  // The exchange is shutting down: say goodbye if the socket still takes it.
  if (!logged_out && ex->ctx_.is_done()) {
    c.set_write_deadline(steady::now() + 1s);
    std::lock_guard lk(wmu);
    out.clear();
    fix::encode(out, hdr(), fix::logout{"exchange shutting down"});
    flush(1);
  }
  log("session over: %llu orders, errors: %s", static_cast<unsigned long long>(orders),
      fr.errors().summary().c_str());
}

// One message from the client. False: close the session.
bool exchange::session::handle(fix::message& m, bool& logged_out, fix::error_counters& errs) {
  switch (m.type()) {
    case fix::msg_type::heartbeat:
      return true;
    case fix::msg_type::test_request: {
      fix::test_request tr;
      if (auto e = fix::decode(m, tr)) {
        errs.add(e.code);
        log("TestRequest: %s", e.message().c_str());
        return true;
      }
      std::lock_guard lk(wmu);
      ex->n_.heartbeats.fetch_add(1, std::memory_order_relaxed);
      return send(fix::heartbeat{tr.test_req_id});
    }
    case fix::msg_type::logout: {
      logged_out = true;
      std::lock_guard lk(wmu);
      closing = true;
      fix::logout lo;
      (void)fix::decode(m, lo);
      log("logout%s%.*s", lo.text.empty() ? "" : ": ", static_cast<int>(lo.text.size()), lo.text.data());
      send(fix::logout{"goodbye"});
      return false;
    }
    case fix::msg_type::new_order_single:
      on_order(m, errs);
      return true;
    case fix::msg_type::logon:
    case fix::msg_type::quote:
    case fix::msg_type::execution_report:
      log("unexpected %s from the client: ignored", fix::to_string(m.type()));
      return true;
  }
  return true;
}

void exchange::session::on_order(const fix::message& m, fix::error_counters& errs) {
  fix::new_order_single o;
  if (auto e = fix::decode(m, o)) {
    errs.add(e.code);
    // No BusinessMessageReject in this codec: count it and go on.
    log("NewOrderSingle: %s", e.message().c_str());
    return;
  }
  ex->n_.orders.fetch_add(1, std::memory_order_relaxed);
  ++orders;
  char oid[48], eid[48];
  fix::execution_report r;
  // "O<session>-<n>", "E<session>-<n>": unique for the exchange's life.
  auto ids = [this](char* buf, std::size_t cap, char prefix) {
    const std::size_t k = to_chars_view(buf, cap, prefix, id).size();
    buf[k] = '-';
    char* e = std::to_chars(buf + k + 1, buf + cap, orders).ptr;
    return std::string_view(buf, static_cast<std::size_t>(e - buf));
  };
  r.order_id = ids(oid, sizeof oid, 'O');
  r.exec_id = ids(eid, sizeof eid, 'E');
  r.cl_ord_id = o.cl_ord_id;
  r.sym = o.sym;
  r.sd = o.sd;
  r.order_qty = o.qty;
  r.transact_time_ns = fix::utc_now_ns();

  std::lock_guard lk(wmu);
  const auto idx = ex->universe_.find(o.sym);
  const char* reject = nullptr;
  fix::price px = 0;
  if (!idx) {
    reject = "unknown symbol";
  } else {
    px = o.sd == fix::side::buy ? mkt.ask(*idx) : mkt.bid(*idx);
    if (o.type == fix::ord_type::limit &&
        (o.sd == fix::side::buy ? o.limit_price < px : o.limit_price > px))
      reject = "limit price not marketable (the simulator fills only at the touch)";
  }
  if (reject) {
    r.etype = fix::exec_type::rejected;
    r.status = fix::ord_status::rejected;
    r.text = reject;
    ex->n_.rejects.fetch_add(1, std::memory_order_relaxed);
  } else {
    r.etype = fix::exec_type::trade;
    r.status = fix::ord_status::filled;
    r.last_qty = r.cum_qty = o.qty;
    r.last_px = r.avg_px = px;
    ex->n_.fills.fetch_add(1, std::memory_order_relaxed);
  }
  send(r);
}

// ---- the writer ---------------------------------------------------------------------------------

void exchange::session::write_quotes() {
  const exchange_options& o = ex->opt_;
  const bool paced = o.rate > 0;
  // A quote is about 150 bytes.
  const std::uint64_t batch_max = std::max<std::uint64_t>(1, o.batch_bytes / 150);
  const double per_wake = paced ? std::max(1.0, std::floor(o.rate / 10000)) : 1;
  const auto heartbeat = heartbeat_s > 0 ? std::chrono::seconds(heartbeat_s) : std::chrono::seconds(0);
  const auto start = steady::now();
  std::uint64_t sent = 0;
  char stamp[32];
  for (;;) {
    if (ctx.is_done() || closing) return;
    const auto now = steady::now();
    std::uint64_t due = batch_max;
    if (paced) {
      const double elapsed = std::chrono::duration<double>(now - start).count();
      const auto target = static_cast<std::uint64_t>(elapsed * o.rate);
      due = target > sent ? std::min(target - sent, batch_max) : 0;
    }
    if (o.quote_limit) due = std::min(due, o.quote_limit - sent);
    if (due == 0) {
      // Nothing due: sleep until the next quote, or the next heartbeat.
      auto wake = steady::time_point::max();
      // Wake when the next `per_wake` quotes are due: at most about a thousand wake-ups a
      // second whatever the rate (at 50,000 quotes/s, 50 quotes every millisecond, as a real
      // feed arrives in bursts). Waking for every quote (every 20 us) cost more CPU in timer
      // wake-ups than the client spent on the quotes.
      if (paced && (!o.quote_limit || sent < o.quote_limit))
        wake = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>((sent + per_wake) / o.rate));
      steady::time_point last;
      {
        std::lock_guard lk(wmu);
        last = last_tx;
      }
      if (heartbeat.count()) {
        if (now >= last + heartbeat) {
          std::lock_guard lk(wmu);
          if (closing) return;
          ex->n_.heartbeats.fetch_add(1, std::memory_order_relaxed);
          if (!send(fix::heartbeat{})) {
            cancel();
            return;
          }
          continue;
        }
        wake = std::min(wake, last + heartbeat);
      }
      if (wake == steady::time_point::max()) wake = now + 1h;
      if (goro::sleep_until(ctx, wake)) return;
      continue;
    }
    std::lock_guard lk(wmu);
    if (closing) return;
    out.clear();
    const std::string_view ts(stamp, fix::format_utc_timestamp(stamp, fix::utc_now_ns()));
    for (std::uint64_t k = 0; k < due; ++k) {
      const market::tick t = mkt.next();
      fix::builder b(out);
      fix::header h{o.comp_id, client_id, out_seq++, 0};
      b.begin(fix::msg_type::quote, h, ts);
      b.add_int(fix::tag::quote_id, static_cast<std::int64_t>(h.seq));
      b.add(fix::tag::symbol, ex->universe_[t.index].sym.view());
      b.add_price(fix::tag::bid_px, t.bid);
      b.add_price(fix::tag::offer_px, t.ask);
      b.add_int(fix::tag::bid_size, t.bid_size);
      b.add_int(fix::tag::offer_size, t.ask_size);
      b.add_time_text(fix::tag::transact_time, ts);
      b.end();
    }
    if (!flush(due)) {
      cancel();  // the reader's read ends too
      return;
    }
    sent += due;
    ex->n_.quotes.fetch_add(due, std::memory_order_relaxed);
  }
}

// ---- the exchange -------------------------------------------------------------------------------

exchange::exchange(exchange_options o)
    : opt_(std::move(o)), universe_(opt_.symbols, opt_.seed), ln_(goro::net::listen(opt_.listen)) {
  if (!(opt_.rate >= 0) || std::isinf(opt_.rate))
    throw std::invalid_argument("qf::exchange: rate must be a finite number >= 0");
  auto [cx, cn] = goro::with_cancel(goro::context::background());
  ctx_ = std::move(cx);
  cancel_ = std::move(cn);
}

exchange::~exchange() { stop(); }

void exchange::start() {
  if (started_ || stopped_) return;
  started_ = true;
  acceptor_ = goro::spawn(goro::spawn_options{.name = "fix accept"}, [this] { accept_loop(); });
}

void exchange::accept_loop() {
  auto backoff = 5ms;
  for (std::uint64_t id = 1;; ++id) {
    std::error_code ec;
    goro::net::conn c = ln_.accept(ctx_, ec);
    if (ec == goro::errc::closed || ec == goro::errc::canceled || ctx_.is_done()) return;
    if (ec) {
      if (opt_.log) std::fprintf(opt_.log, "fix_exchange: accept: %s\n", ec.message().c_str());
      if (goro::sleep_for(ctx_, backoff)) return;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, 1s);
      continue;
    }
    backoff = 5ms;
    n_.accepted.fetch_add(1, std::memory_order_relaxed);
    reap(false);
    auto s = std::make_shared<session>(this, id, std::move(c));
    std::lock_guard lk(mu_);
    if (ctx_.is_done()) return;  // stop() is on its way: the connection closes with s
    n_.active.fetch_add(1, std::memory_order_relaxed);
    auto h = goro::spawn(goro::spawn_options{.name = "fix session"}, [this, s] { run_session(s); });
    sessions_.emplace(id, std::make_pair(std::move(s), std::move(h)));
  }
}

void exchange::run_session(std::shared_ptr<session> s) {
  if (opt_.log) std::fprintf(opt_.log, "fix_exchange: session %llu (%s): connected\n",
                             static_cast<unsigned long long>(s->id), s->peer.c_str());
  try {
    s->serve();
  } catch (const std::exception& e) {
    s->log("%s", e.what());
  }
  s->cancel();
  s->c.close();
  n_.active.fetch_sub(1, std::memory_order_relaxed);
}

// Joins the sessions whose coroutines have ended (all: every one, cancelling them first).
void exchange::reap(bool all) {
  std::vector<goro::join_handle<void>> done;
  {
    std::lock_guard lk(mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (all) it->second.first->cancel();
      if (all || it->second.second.done()) {
        done.push_back(std::move(it->second.second));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& h : done) h.get();  // run_session catches everything: this only waits
}

void exchange::stop() {
  if (stopped_) return;
  stopped_ = true;
  cancel_();
  ln_.close();
  if (acceptor_.valid()) acceptor_.get();
  reap(true);
}

exchange_stats exchange::stats() const {
  exchange_stats s;
  s.sessions_accepted = n_.accepted.load();
  s.sessions_active = n_.active.load();
  s.sessions_logged_on = n_.logged_on.load();
  s.quotes_sent = n_.quotes.load();
  s.messages_sent = n_.sent.load();
  s.messages_received = n_.received.load();
  s.orders = n_.orders.load();
  s.fills = n_.fills.load();
  s.rejects = n_.rejects.load();
  s.heartbeats_sent = n_.heartbeats.load();
  s.test_requests_sent = n_.test_requests.load();
  s.seq_gaps = n_.seq_gaps.load();
  s.bytes_sent = n_.bytes_out.load();
  s.bytes_received = n_.bytes_in.load();
  std::lock_guard lk(mu_);
  s.errors = errors_;
  return s;
}

}  // namespace qf
