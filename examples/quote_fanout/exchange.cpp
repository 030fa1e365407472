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

}  // namespace

struct exchange::session {
  exchange* ex;
  std::uint64_t id;
  goro::net::conn c;
  std::string peer;
  goro::context ctx;
  goro::cancel_func cancel;

  // mu guards everything below up to `wbuf` (the session state machine, its output, the market,
  // the writer flag). Never held across a socket write (see exchange.hpp, WRITE PATH).
  goro::mutex mu;
  fix::session fs;
  market mkt;
  bool writing = false;            // a coroutine is writing wbuf (it alone touches wbuf)
  std::uint64_t counted_out = 0;   // fs.counters().messages_out already added to n_.sent
  std::uint64_t orders = 0;
  fix::error_counters* errs = nullptr;  // the reader's (its framer's)
  std::string wbuf;
  std::atomic<bool> ending{false};  // the session is over: writes get a short deadline

  // A copy of fs.counters() for stats(), refreshed after every batch (pub_mu: a leaf lock).
  goro::sched::spin_lock pub_mu;
  fix::session_counters pub;
  bool merged = false;  // pub is in the exchange's totals (guarded by ex->mu_)

  session(exchange* e, std::uint64_t i, goro::net::conn conn)
      : ex(e), id(i), c(std::move(conn)),
        fs(config(e->opt_), e->store_, fix::utc_now_ns()),
        mkt(e->universe_, e->opt_.seed) {
    try {
      peer = c.remote_addr();
    } catch (const std::exception&) {
      peer = "?";
    }
    auto [cx, cn] = goro::with_cancel(e->ctx_);
    ctx = std::move(cx);
    cancel = std::move(cn);
    wbuf.reserve(e->opt_.batch_bytes + 4096);
  }

  static fix::session_config config(const exchange_options& o) {
    fix::session_config c;
    c.local = o.comp_id;
    c.logon_timeout_ns = std::chrono::nanoseconds(o.logon_timeout).count();
    return c;
  }

  void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

  // Writes what the state machine queued, if no one else is writing (called with mu held; it is
  // released around each write). False when the connection failed: the session ends.
  bool kick(std::unique_lock<goro::mutex>& lk) {
    if (writing) return true;
    writing = true;
    bool ok = true;
    while (!fs.output().empty()) {
      const fix::session_counters& k = fs.counters();
      ex->n_.sent.fetch_add(k.messages_out - counted_out, std::memory_order_relaxed);
      counted_out = k.messages_out;
      {
        goro::sched::spin_guard g(pub_mu);
        pub = k;
      }
      wbuf.clear();
      wbuf.swap(fs.output());
      lk.unlock();
      const auto limit = ending ? std::chrono::milliseconds(1000) : ex->opt_.write_timeout;
      c.set_write_deadline(steady::now() + limit);
      std::error_code ec;
      c.write_all(wbuf.data(), wbuf.size(), ec);
      lk.lock();
      if (ec) {
        if (ec == goro::errc::io_timeout) {
          log("a write took over %lld ms (a slow reader): ending the session",
              static_cast<long long>(limit.count()));
          fs.abort("write timeout: the client does not read");
        } else {
          if (ec != goro::errc::closed) log("write: %s", ec.message().c_str());
          fs.abort("write: " + ec.message());
        }
        fs.output().clear();
        ok = false;
        break;
      }
      ex->n_.bytes_out.fetch_add(wbuf.size(), std::memory_order_relaxed);
    }
    writing = false;
    if (!ok) cancel();  // the reader's read and the pump end too
    return ok;
  }

  void publish() {
    goro::sched::spin_guard g(pub_mu);
    pub = fs.counters();
  }

  void serve();
  fix::error on_app(const fix::message& m);
  void on_order(const fix::message& m, const fix::new_order_single& o);
  void pump();
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

void exchange::session::serve() {
  fix::framer fr;
  struct merge_errors {
    session* s;
    fix::framer& fr;
    ~merge_errors() {
      std::lock_guard lk(s->ex->mu_);
      s->ex->errors_.merge(fr.errors());
    }
  } merge{this, fr};

  errs = &fr.errors();
  // Before the Logon the read deadline is the logon timeout; after it, the pump runs the
  // session's timers (Heartbeat, TestRequest) and the quotes.
  c.set_read_deadline(steady::now() + ex->opt_.logon_timeout);
  goro::join_handle<void> pumper;
  bool logged_on = false;
  for (;;) {
    const std::span<char> room = fr.prepare();
    std::error_code ec;
    const std::size_t n = c.read(ctx, room.data(), room.size(), ec);
    if (ec || n == 0) {
      if (ec == goro::errc::io_timeout && !logged_on) log("no Logon within the logon timeout");
      else if (ec && ec != goro::errc::canceled && ec != goro::errc::closed) log("read: %s", ec.message().c_str());
      if (!ec && fr.finish().st == fix::framer::status::error) log("the stream ended inside a message");
      break;
    }
    ex->n_.bytes_in.fetch_add(n, std::memory_order_relaxed);
    fr.commit(n);
    std::unique_lock lk(mu);
    const std::int64_t now = fix::utc_now_ns();
    for (;;) {
      const fix::framer::result r = fr.next();
      if (r.st == fix::framer::status::need_more) break;
      if (r.st == fix::framer::status::error) {
        log("%s", r.err.message().c_str());
        fs.on_framer_error(r.err, now);
        if (fs.done()) break;
        continue;
      }
      const fix::error e = fs.on_frame(r.f, now, [this](const fix::message& m) { return on_app(m); });
      if (e) {
        fr.errors().add(e.code);
        log("%s", e.message().c_str());
      }
      if (!e || e.code == fix::errc::unknown_msg_type) ex->n_.received.fetch_add(1, std::memory_order_relaxed);
      if (fs.done()) break;
    }
    if (!logged_on && fs.logged_on()) {
      logged_on = true;
      ex->n_.logged_on.fetch_add(1, std::memory_order_relaxed);
      c.set_read_deadline(goro::net::time_point{});
      pumper = goro::spawn(goro::spawn_options{.name = "fix quotes"}, [this] { pump(); });
      log("logged on as %s, HeartBtInt %lld, MsgSeqNum in %llu out %llu", fs.remote().c_str(),
          static_cast<long long>(fs.heartbeat_s()), static_cast<unsigned long long>(fs.next_in()),
          static_cast<unsigned long long>(fs.next_out()));
    }
    if (!kick(lk) || fs.done()) break;
  }

  // A write in progress gets a second to finish (a client that does not read would hold it).
  ending = true;
  c.set_write_deadline(steady::now() + 1s);
  cancel();
  if (pumper.valid()) pumper.get();
  {
    std::unique_lock lk(mu);
    // The exchange is shutting down: say goodbye if the socket still takes it.
    if (!fs.done() && ex->ctx_.is_done()) fs.logout("exchange shutting down", fix::utc_now_ns());
    kick(lk);
    fs.abort(ex->ctx_.is_done() ? "exchange shutting down" : "connection closed");
    publish();
    std::lock_guard lk2(ex->mu_);
    ex->session_totals_.merge(fs.counters());
    merged = true;
  }
  log("session over (%s): %llu orders, MsgSeqNum in %llu out %llu, errors: %s", fs.reason().c_str(),
      static_cast<unsigned long long>(orders), static_cast<unsigned long long>(fs.next_in()),
      static_cast<unsigned long long>(fs.next_out()), fr.errors().summary().c_str());
}

// An in-order application message from the client (mu held).
fix::error exchange::session::on_app(const fix::message& m) {
  if (m.type() != fix::msg_type::new_order_single)
    return fix::error::make(fix::errc::unknown_msg_type, "the exchange takes only NewOrderSingle", fix::tag::msg_type);
  fix::new_order_single o;
  if (fix::error e = fix::decode(m, o)) {
    errs->add(e.code);
    log("NewOrderSingle rejected: %s", e.message().c_str());
    return e;
  }
  on_order(m, o);
  return {};
}

void exchange::session::on_order(const fix::message&, const fix::new_order_single& o) {
  ex->n_.orders.fetch_add(1, std::memory_order_relaxed);
  ++orders;
  char oid[48], eid[48];
  fix::execution_report r;
  // "O<session>-<n>", "E<session>-<n>": unique for the exchange's life.
  auto ids = [this](char* buf, std::size_t cap, char prefix) {
    char* p = buf;
    *p++ = prefix;
    p = std::to_chars(p, buf + cap - 1, id).ptr;
    *p++ = '-';
    p = std::to_chars(p, buf + cap, orders).ptr;
    return std::string_view(buf, static_cast<std::size_t>(p - buf));
  };
  r.order_id = ids(oid, sizeof oid, 'O');
  r.exec_id = ids(eid, sizeof eid, 'E');
  r.cl_ord_id = o.cl_ord_id;
  r.sym = o.sym;
  r.sd = o.sd;
  r.order_qty = o.qty;
  r.transact_time_ns = fix::utc_now_ns();

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
  fs.send(r, r.transact_time_ns, /*keep=*/true);  // replayed on a ResendRequest
}

// ---- the pump: quotes and timers ----------------------------------------------------------------

void exchange::session::pump() {
  const exchange_options& o = ex->opt_;
  const bool paced = o.rate > 0;
  // A quote is about 150 bytes.
  const std::uint64_t batch_max = std::max<std::uint64_t>(1, o.batch_bytes / 150);
  const double per_wake = paced ? std::max(1.0, std::floor(o.rate / 10000)) : 1;
  steady::time_point start{};
  std::uint64_t sent = 0;    // quotes made or dropped: the schedule
  std::uint64_t made = 0;    // quotes made
  // A write that takes longer than this was held up by the client, not by our own scheduling.
  constexpr auto stall = 20ms;
  char stamp[32];
  for (;;) {
    if (ctx.is_done()) return;
    std::unique_lock lk(mu);
    const auto now = steady::now();
    const std::int64_t utc = fix::utc_now_ns();
    fs.on_timer(utc);
    if (fs.done()) {
      kick(lk);
      log("%s", fs.reason().c_str());
      cancel();  // the reader's read ends
      return;
    }
    auto wake = steady::time_point::max();
    if (fs.logged_on() && (!o.quote_limit || made < o.quote_limit)) {
      if (start == steady::time_point{}) start = now;
      std::uint64_t due = batch_max;
      if (paced) {
        const double elapsed = std::chrono::duration<double>(now - start).count();
        const auto target = static_cast<std::uint64_t>(elapsed * o.rate);
        due = target > sent ? target - sent : 0;
      }
      if (o.quote_limit) due = std::min(due, o.quote_limit - made);
      if (due > 0 && writing && fs.output().size() >= o.quote_queue_bytes) {
        // A slow reader: what falls due now is dropped, never sent late in a burst.
        if (paced) {
          fs.counters().slow_reader_drops += due;
          ex->n_.slow_drops.fetch_add(due, std::memory_order_relaxed);
          sent += due;
        }
        due = 0;
      }
      if (due > 0) {
        std::string& out = fs.output();
        const std::string_view ts(stamp, fix::format_utc_timestamp(stamp, utc));
        for (std::uint64_t k = 0; k < due; ++k) {
          const market::tick t = mkt.next();
          fix::builder b(out);
          const fix::header h = fs.next_header(utc);
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
        sent += due;
        made += due;
        ex->n_.quotes.fetch_add(due, std::memory_order_relaxed);
      }
      if (paced) {
        // Wake when the next `per_wake` quotes are due (see the README: bursts about 100 us apart).
        wake = start + std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>((sent + per_wake) / o.rate));
      } else if (!o.quote_limit || made < o.quote_limit) {
        wake = writing ? now + 200us : now;  // as fast as the client reads (kick below writes it all)
      }
    }
    const bool other_writer = writing;
    const auto before_write = steady::now();
    const bool wrote = kick(lk);
    if (paced && start != steady::time_point{} && steady::now() - before_write > stall) {
      // The write was held up by the client (a full socket): what fell due meanwhile is dropped,
      // counted, instead of sent late in a burst above the rate.
      const double elapsed = std::chrono::duration<double>(steady::now() - start).count();
      const auto target = static_cast<std::uint64_t>(elapsed * o.rate);
      if (target > sent) {
        fs.counters().slow_reader_drops += target - sent;
        ex->n_.slow_drops.fetch_add(target - sent, std::memory_order_relaxed);
        sent = target;
      }
    }
    if (!wrote) return;
    const std::int64_t t = fs.next_timer_ns();
    if (t != INT64_MAX) wake = std::min(wake, now + std::chrono::nanoseconds(std::max<std::int64_t>(t - utc, 0)));
    if (wake == steady::time_point::max()) wake = now + 1h;
    lk.unlock();
    if (wake <= now && !other_writer) {
      goro::yield();
      continue;
    }
    if (goro::sleep_until(ctx, wake)) return;
  }
}

// ---- the exchange -------------------------------------------------------------------------------

exchange::exchange(exchange_options o)
    : opt_(std::move(o)), universe_(opt_.symbols, opt_.seed), ln_(goro::net::listen(opt_.listen)),
      store_(opt_.store ? opt_.store : &own_store_) {
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
  s.slow_reader_drops = n_.slow_drops.load();
  s.bytes_sent = n_.bytes_out.load();
  s.bytes_received = n_.bytes_in.load();
  std::lock_guard lk(mu_);
  s.errors = errors_;
  s.session = session_totals_;
  for (const auto& [id, sh] : sessions_) {
    session& x = *sh.first;
    goro::sched::spin_guard g(x.pub_mu);  // after mu_ (the lock order)
    if (!x.merged) s.session.merge(x.pub);
  }
  s.heartbeats_sent = s.session.heartbeats_sent;
  s.test_requests_sent = s.session.test_requests_sent;
  s.seq_gaps = s.session.gaps;
  return s;
}

}  // namespace qf
