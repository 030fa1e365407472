// fanout.cpp: the quote-fanout client (see fanout.hpp).
#include "fanout.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace qf::fanout {

namespace {

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double mid_of(const fix::quote& q) noexcept { return (fix::to_double(q.bid()) + fix::to_double(q.ask())) / 2; }

}  // namespace

// ---- latency ------------------------------------------------------------------------------------

std::size_t latency_histogram::bucket_of(std::int64_t ns) noexcept {
  if (ns < 8) return ns < 0 ? 0 : static_cast<std::size_t>(ns);
  const auto v = static_cast<std::uint64_t>(ns);
  const int e = std::bit_width(v) - 1;  // 3..62
  const std::size_t sub = (v >> (e - 2)) & 3;
  return 8 + static_cast<std::size_t>(e - 3) * 4 + sub;
}

std::int64_t latency_histogram::bucket_top(std::size_t b) noexcept {
  if (b < 8) return static_cast<std::int64_t>(b);
  const std::size_t e = (b - 8) / 4 + 3, sub = (b - 8) % 4;
  if (e >= 62 && sub == 3) return INT64_MAX;
  return static_cast<std::int64_t>(((std::uint64_t{4} + sub + 1) << (e - 2)) - 1);
}

void latency_histogram::add(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  ++buckets[bucket_of(ns)];
  ++count;
  sum_ns += ns;
  max_ns = std::max(max_ns, ns);
}

void latency_histogram::merge(const latency_histogram& o) noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += o.buckets[i];
  count += o.count;
  sum_ns += o.sum_ns;
  max_ns = std::max(max_ns, o.max_ns);
}

latency_histogram latency_histogram::since(const latency_histogram& earlier) const noexcept {
  latency_histogram d;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    d.buckets[i] = buckets[i] >= earlier.buckets[i] ? buckets[i] - earlier.buckets[i] : 0;
    if (d.buckets[i]) d.max_ns = std::min(bucket_top(i), max_ns);
  }
  d.count = count >= earlier.count ? count - earlier.count : 0;
  d.sum_ns = sum_ns >= earlier.sum_ns ? sum_ns - earlier.sum_ns : 0;
  return d;
}

std::int64_t latency_histogram::quantile_ns(double q) const noexcept {
  if (count == 0) return 0;
  const auto want = std::max<std::uint64_t>(static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count))), 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= want) return std::min(max_ns, bucket_top(i));
  }
  return max_ns;
}

void live_histogram::add(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  owner_add<std::uint64_t>(buckets_[latency_histogram::bucket_of(ns)], 1);
  owner_add<std::uint64_t>(count_, 1);
  owner_add(sum_, static_cast<std::uint64_t>(ns));
  if (static_cast<std::uint64_t>(ns) > max_.load(std::memory_order_relaxed))
    max_.store(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

latency_histogram live_histogram::snapshot() const noexcept {
  latency_histogram h;
  for (std::size_t i = 0; i < h.buckets.size(); ++i) h.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
  h.count = count_.load(std::memory_order_relaxed);
  h.sum_ns = static_cast<std::int64_t>(sum_.load(std::memory_order_relaxed));
  h.max_ns = static_cast<std::int64_t>(max_.load(std::memory_order_relaxed));
  return h;
}

// ---- statistics ---------------------------------------------------------------------------------

void security_calc::update(const fix::quote& q) noexcept {
  s.bid = fix::to_double(q.bid());
  s.ask = fix::to_double(q.ask());
  s.mid = (s.bid + s.ask) / 2;
  s.spread = s.ask - s.bid;
  s.ewma = s.updates == 0 ? s.mid : alpha * s.mid + (1 - alpha) * s.ewma;
  ++s.updates;
}

void sector_calc::update(std::uint32_t index, const fix::quote& q) {
  ++s.updates;
  const double m = mid_of(q);
  double& prev = last_mid[index];
  if (prev > 0 && m > 0) {
    const double r = std::log(m / prev);
    if (ring.size() < window) {
      ring.push_back(r);
    } else {
      ring[head] = r;
      head = (head + 1) % window;
    }
    ++s.returns;
    const std::size_t n = ring.size();
    if (n >= 2) {
      double mean = 0;
      for (double x : ring) mean += x;
      mean /= static_cast<double>(n);
      double ss = 0;
      for (double x : ring) ss += (x - mean) * (x - mean);
      s.volatility = std::sqrt(ss / static_cast<double>(n - 1));
    }
  }
  prev = m;
}

index_calc::index_calc(const universe& uu) : u(&uu), mid(uu.size()) {
  for (std::size_t i = 0; i < uu.size(); ++i) mid[i] = fix::to_double(uu[i].initial_price);
}

void index_calc::update(std::uint32_t i, const fix::quote& q) noexcept {
  const double m = mid_of(q);
  const instrument& in = (*u)[i];
  s.value += 100.0 * in.weight * (m - mid[i]) / fix::to_double(in.initial_price);
  mid[i] = m;
  ++s.updates;
}

// ---- client -------------------------------------------------------------------------------------

client::client(options o) : opt_(std::move(o)), u_(opt_.symbols, opt_.seed) {
  if (opt_.vol_window < 2) throw std::invalid_argument("qf::fanout: vol_window must be >= 2");
  if (opt_.security_capacity == 0 || opt_.sector_capacity == 0 || opt_.index_capacity == 0 ||
      opt_.decision_capacity == 0)
    throw std::invalid_argument("qf::fanout: channel capacities must be > 0");
  if (opt_.decision_makers > 0 && (opt_.order_qty <= 0 || opt_.max_position < 0 || !(opt_.max_orders_per_s > 0) ||
                                   !(opt_.signal_threshold > 0)))
    throw std::invalid_argument("qf::fanout: order_qty, max_orders_per_s and signal_threshold must be > 0");
  live_sec_ = std::make_unique<live_security[]>(u_.size());
  live_sec_lat_ = std::make_unique<live_consumer[]>(u_.size());
  live_decision_ = std::make_unique<live_consumer[]>(std::max<std::size_t>(opt_.decision_makers, 1));
  live_index_.value.store(100, std::memory_order_relaxed);
}

client::~client() {
  if (started_ && !joined_) stop();
}

void client::start() {
  if (started_) return;
  const std::size_t n = u_.size();
  std::vector<std::size_t> caps(n, opt_.security_capacity);
  if (opt_.security_capacity_of)
    for (std::size_t i = 0; i < n; ++i) caps[i] = opt_.security_capacity_of(i);
  if (std::find(caps.begin(), caps.end(), std::size_t{0}) != caps.end())
    throw std::invalid_argument("qf::fanout: channel capacities must be > 0");
  conn_ = goro::net::dial(opt_.addr);
  started_ = true;
  // Every consumer is started (its stack carved, its first run done) before the Logon asks for
  // quotes: otherwise the first quotes wait behind hundreds of first runs (the demo's first
  // second had a p99 of 0.2-0.9 ms, every later one 20-50 us).
  goro::wait_group running;
  auto started = [&running] { running.done(); };

  r_.securities.resize(n);
  sec_ch_.reserve(n);
  sec_h_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    sec_ch_.emplace_back(caps[i]);
    running.add(1);
    sec_h_.push_back(goro::spawn([this, i, ch = sec_ch_[i], started]() mutable {
      started();
      security_calc c{opt_.ewma_alpha, {}};
      c.s.sym = u_[i].sym;
      live_security& pub = live_sec_[i];
      live_histogram& h = live_sec_lat_[i].latency;
      while (std::optional<quote_ptr> p = ch.recv()) {
        if (opt_.on_consume) opt_.on_consume(consumer_kind::security, i, *p);
        c.update((*p)->q);
        pub.bid.store(c.s.bid, std::memory_order_relaxed);
        pub.ask.store(c.s.ask, std::memory_order_relaxed);
        pub.ewma.store(c.s.ewma, std::memory_order_relaxed);
        pub.updates.store(c.s.updates, std::memory_order_relaxed);
        h.add(steady_ns() - (*p)->arrival_ns);
      }
      return c.s;
    }));
  }
  for (std::size_t s = 0; s < sector_count; ++s) {
    sector_ch_[s] = goro::chan<quote_ptr>(opt_.sector_capacity);
    running.add(1);
    sector_h_.push_back(goro::spawn([this, s, ch = sector_ch_[s], started]() mutable {
      started();
      sector_calc c{opt_.vol_window, std::vector<double>(u_.size(), 0.0), {}, 0, {}};
      c.s.sec = static_cast<sector>(s);
      c.ring.reserve(opt_.vol_window);
      live_consumer& pub = live_sector_[s];
      while (std::optional<quote_ptr> p = ch.recv()) {
        if (opt_.on_consume) opt_.on_consume(consumer_kind::sector, s, *p);
        c.update((*p)->index, (*p)->q);
        pub.value.store(c.s.volatility, std::memory_order_relaxed);
        pub.latency.add(steady_ns() - (*p)->arrival_ns);
      }
      return c.s;
    }));
  }
  index_ch_ = goro::chan<quote_ptr>(opt_.index_capacity);
  running.add(1);
  index_h_ = goro::spawn([this, ch = index_ch_, started]() mutable {
    started();
    index_calc c(u_);
    while (std::optional<quote_ptr> p = ch.recv()) {
      if (opt_.on_consume) opt_.on_consume(consumer_kind::index, 0, *p);
      c.update((*p)->index, (*p)->q);
      live_index_.value.store(c.s.value, std::memory_order_relaxed);
      live_index_.latency.add(steady_ns() - (*p)->arrival_ns);
    }
    return c.s;
  });
  for (std::size_t k = 0; k < opt_.decision_makers; ++k) {
    decision_ch_.emplace_back(opt_.decision_capacity);
    running.add(1);
    decision_h_.push_back(goro::spawn([this, k, ch = decision_ch_[k], started] {
      started();
      decide(k, ch);
    }));
  }
  running.wait();
  fix::session_config cfg;
  cfg.local = opt_.comp_id;
  cfg.remote = opt_.target;
  cfg.initiator = true;
  cfg.heartbeat_s = opt_.heartbeat_interval_s;
  cfg.logout_timeout_ns = std::chrono::nanoseconds(opt_.logout_timeout).count();
  fs_ = std::make_unique<fix::session>(std::move(cfg), opt_.store ? opt_.store : &own_store_, fix::utc_now_ns());
  auto [cx, cn] = goro::with_cancel(goro::context::background());
  ctx_ = std::move(cx);
  cancel_ = std::move(cn);
  {
    std::unique_lock<goro::mutex> lk(mu_);
    fs_->logon(fix::utc_now_ns());
    // The session starts either way: if the Logon could not be written, its first read fails,
    // and it ends, closing every consumer (result::error says why).
    kick(lk);
  }
  session_h_ = goro::spawn([this] { session(); });
  timer_h_ = goro::spawn([this] { timers(); });
}

// Writes the session's output unless another coroutine is writing (mu_ held; released around
// each write). False if the connection failed.
bool client::kick(std::unique_lock<goro::mutex>& lk) {
  if (writing_) return true;
  writing_ = true;
  bool ok = true;
  while (!fs_->output().empty()) {
    wbuf_.clear();
    wbuf_.swap(fs_->output());
    lk.unlock();
    conn_.set_write_deadline(std::chrono::steady_clock::now() + opt_.write_timeout);
    std::error_code ec;
    conn_.write_all(wbuf_, ec);
    lk.lock();
    if (ec) {
      fs_->abort("write: " + ec.message());
      fs_->output().clear();
      conn_.set_read_deadline(std::chrono::steady_clock::now());  // the session's read ends
      ok = false;
      break;
    }
  }
  writing_ = false;
  return ok;
}

// Heartbeats, TestRequests on silence, the Logout timeout: the session layer's timers.
void client::timers() {
  for (;;) {
    std::int64_t wait_ns;
    {
      std::unique_lock<goro::mutex> lk(mu_);
      if (fs_->done()) return;
      const std::int64_t now = fix::utc_now_ns();
      fs_->on_timer(now);
      kick(lk);
      if (fs_->done()) {
        conn_.set_read_deadline(std::chrono::steady_clock::now());  // the session's read ends
        return;
      }
      const std::int64_t t = fs_->next_timer_ns();
      wait_ns = std::clamp<std::int64_t>(t == INT64_MAX ? 1'000'000'000 : t - now, 1'000'000, 1'000'000'000);
    }
    if (goro::sleep_for(ctx_, std::chrono::nanoseconds(wait_ns))) return;
  }
}

void client::send_logout() {
  std::unique_lock<goro::mutex> lk(mu_);
  if (!fs_->logged_on()) return;
  fs_->logout("bye", fix::utc_now_ns());
  kick(lk);
  // After the Logout, the exchange has logout_timeout to answer and close.
  conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.logout_timeout);
}

// ---- decisions and orders -----------------------------------------------------------------------

void client::decide(std::size_t k, goro::chan<quote_ptr> ch) {
  using clock = std::chrono::steady_clock;
  live_histogram& h = live_decision_[k].latency;
  // A token bucket of this decision maker's share of max_orders_per_s, at most one second deep.
  const double rate = opt_.max_orders_per_s / static_cast<double>(opt_.decision_makers);
  double tokens = 1;
  auto refilled = clock::now();
  std::unordered_map<std::uint32_t, clock::time_point> last_order;  // cooldown per security
  while (std::optional<quote_ptr> p = ch.recv()) {
    if (opt_.on_consume) opt_.on_consume(consumer_kind::decision, k, *p);
    const quote_event& ev = **p;
    const live_security& sec = live_sec_[ev.index];
    const double ewma = sec.ewma.load(std::memory_order_relaxed);
    const double vol = live_sector_[static_cast<std::size_t>(u_[ev.index].sec)].value.load(std::memory_order_relaxed);
    const double mid = mid_of(ev.q);
    if (ewma > 0 && vol > 0 && mid > 0) {
      const double dev = std::log(mid / ewma);
      const double limit = opt_.signal_threshold * vol;
      if (dev > limit || dev < -limit) {
        const fix::side sd = dev > 0 ? fix::side::sell : fix::side::buy;  // revert to the mean
        const std::int64_t signed_qty = sd == fix::side::buy ? opt_.order_qty : -opt_.order_qty;
        const auto now = clock::now();
        tokens = std::min(1.0, tokens + rate * std::chrono::duration<double>(now - refilled).count());
        refilled = now;
        const auto last = last_order.find(ev.index);
        const bool cooled = last == last_order.end() || now - last->second >= opt_.order_cooldown;
        const std::int64_t exposure = sec.exposure.load(std::memory_order_relaxed);
        if (tokens >= 1 && cooled && std::abs(exposure + signed_qty) <= opt_.max_position) {
          tokens -= 1;
          last_order[ev.index] = now;
          send_order(k, ev.index, sd, opt_.order_qty);
        }
      }
    }
    h.add(steady_ns() - ev.arrival_ns);
  }
}

bool client::send_order(std::size_t k, std::uint32_t index, fix::side sd, std::int64_t qty) {
  const std::int64_t signed_qty = sd == fix::side::buy ? qty : -qty;
  const std::string id = "D" + std::to_string(k) + "-" + std::to_string(next_order_.fetch_add(1, std::memory_order_relaxed));
  std::unique_lock<goro::mutex> lk(mu_);
  if (!fs_->logged_on()) return false;
  fix::new_order_single o;
  o.cl_ord_id = id;
  o.sym = u_[index].sym;
  o.sd = sd;
  o.qty = qty;
  o.type = fix::ord_type::market;
  o.transact_time_ns = fix::utc_now_ns();
  live_sec_[index].exposure.fetch_add(signed_qty, std::memory_order_relaxed);
  {
    goro::sched::spin_guard g(order_mu_);
    pending_[id] = pending_order{steady_ns(), index, signed_qty};
  }
  // Counted before the write, so that its ExecutionReport never finds fills > sent.
  live_.orders_sent.fetch_add(1, std::memory_order_relaxed);  // several decision makers write it
  // Not kept for a resend: an order is stale by then, so a ResendRequest gap-fills it.
  fs_->send(o, o.transact_time_ns);
  if (!kick(lk)) {  // the session is ending: the order is not in flight
    goro::sched::spin_guard g(order_mu_);
    if (pending_.erase(id)) {
      live_sec_[index].exposure.fetch_sub(signed_qty, std::memory_order_relaxed);
      live_.orders_sent.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;
  }
  return true;
}

// The session's: matches an ExecutionReport with its order.
void client::on_execution(const fix::execution_report& er) {
  pending_order po;
  {
    goro::sched::spin_guard g(order_mu_);
    const auto it = pending_.find(std::string(er.cl_ord_id));
    if (it == pending_.end()) {
      bump(live_.unmatched);
      return;
    }
    po = it->second;
    pending_.erase(it);
  }
  live_rtt_.add(steady_ns() - po.sent_ns);
  live_security& sec = live_sec_[po.index];
  if (er.etype == fix::exec_type::trade && er.last_qty > 0) {
    const std::int64_t filled = po.signed_qty > 0 ? er.last_qty : -er.last_qty;
    owner_add(sec.position, filled);
    if (filled != po.signed_qty) sec.exposure.fetch_add(filled - po.signed_qty, std::memory_order_relaxed);
    owner_add(live_.cash, -static_cast<double>(filled) * fix::to_double(er.last_px));
    owner_add(live_.gross_shares, er.last_qty);
    bump(live_.fills);
  } else {
    sec.exposure.fetch_sub(po.signed_qty, std::memory_order_relaxed);
    bump(live_.rejects);
  }
}

// ---- the session --------------------------------------------------------------------------------

void client::session() {
  fix::framer fr;
  fix::message m;
  std::string out;
  auto dispatch = [&](quote_ptr p) {
    const std::uint32_t i = p->index;
    // Drop the NEW quote for a consumer whose channel is full; the others still get it.
    if (!sec_ch_[i].try_send(p)) {
      ++r_.securities[i].drops;
      bump(live_.sec_drops);
    }
    const auto s = static_cast<std::size_t>(u_[i].sec);
    if (!sector_ch_[s].try_send(p)) {
      ++r_.sectors[s].drops;
      bump(live_.sector_drops);
    }
    if (!decision_ch_.empty() && !decision_ch_[i % decision_ch_.size()].try_send(p)) bump(live_.decision_drops);
    if (!index_ch_.try_send(std::move(p))) {
      ++r_.index.drops;
      bump(live_.index_drops);
    }
  };
  // An in-order application message from the exchange (mu_ held). A message that does not
  // decode is counted by class and answered with a session Reject (the returned error).
  bool logout_asked = false;
  auto app = [&](const fix::message& m) -> fix::error {
    switch (m.type()) {
      case fix::msg_type::quote: {
        if (stop_.load(std::memory_order_relaxed) ||
            (opt_.max_quotes != 0 && r_.quotes_received >= opt_.max_quotes)) {
          ++r_.quotes_ignored;
          return {};
        }
        quote_event ev;
        ++r_.quote_decodes;
        if (const fix::error e = fix::decode(m, ev.q)) {
          fr.errors().add(e.code);
          return e;
        }
        const std::optional<std::size_t> idx = u_.find(ev.q.sym());
        if (!idx) {
          ++r_.unknown_symbols;
          bump(live_.unknown);
          return {};
        }
        ev.index = static_cast<std::uint32_t>(*idx);
        ev.arrival_ns = steady_ns();
        ++r_.quotes_received;
        live_quotes_.store(r_.quotes_received, std::memory_order_relaxed);
        dispatch(std::make_shared<const quote_event>(ev));
        if (opt_.max_quotes != 0 && r_.quotes_received == opt_.max_quotes) logout_asked = true;
        return {};
      }
      case fix::msg_type::execution_report: {
        fix::execution_report er;
        if (const fix::error e = fix::decode(m, er)) {
          fr.errors().add(e.code);
          return e;
        }
        on_execution(er);
        return {};
      }
      default:
        return fix::error::make(fix::errc::unknown_msg_type, "the client takes Quote and ExecutionReport", fix::tag::msg_type);
    }
  };
  conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.io_timeout);
  bool done = false;
  while (!done) {
    const auto room = fr.prepare();
    std::error_code ec;
    const std::size_t n = conn_.read(room.data(), room.size(), ec);
    if (ec || n == 0) {
      fr.finish();
      std::lock_guard<goro::mutex> lk(mu_);
      if (fs_->logged_out() || fs_->done()) break;  // the timers or a failed write ended it
      if (ec) r_.error = "read: " + ec.message();
      else r_.error = "the exchange closed the connection";
      break;
    }
    fr.commit(n);
    std::unique_lock<goro::mutex> lk(mu_);
    if (fs_->logged_on()) conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.io_timeout);
    const std::int64_t now = fix::utc_now_ns();
    for (;;) {
      const fix::framer::result fres = fr.next();
      if (fres.st == fix::framer::status::need_more) break;
      if (fres.st == fix::framer::status::error) {  // counted by the framer
        fs_->on_framer_error(fres.err, now);
        if (fs_->done()) break;
        continue;
      }
      ++r_.parse_calls;
      const fix::error e = fs_->on_frame(fres.f, now, app);
      if (e && e.code != fix::errc::unknown_msg_type) {
        fr.errors().add(e.code);
      } else {
        ++r_.messages;
        if (e) fr.errors().add(e.code);
      }
      if (fs_->logged_on()) r_.logged_on = true;
      if (logout_asked) {
        logout_asked = false;
        fs_->logout("bye", now);
        conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.logout_timeout);
      }
      if (fs_->done()) break;
    }
    kick(lk);
    if (fs_->done()) done = true;
    live_.frames.store(fr.frames(), std::memory_order_relaxed);
    live_.errors.store(fr.errors().total(), std::memory_order_relaxed);
  }
  {
    std::unique_lock<goro::mutex> lk(mu_);
    r_.logged_out = fs_->logged_out();
    if (!r_.logged_out && r_.error.empty() && !fs_->reason().empty() && fs_->reason() != "no answer to our Logout")
      r_.error = "session: " + fs_->reason();
    fs_->abort("connection closed");
    r_.session = fs_->counters();
    r_.heartbeats_sent = r_.session.heartbeats_sent;
  }
  cancel_();
  r_.frames = fr.frames();
  r_.errors = fr.errors();
  conn_.close();
  // Consumers drain what is buffered, then end.
  for (auto& c : sec_ch_) c.close();
  for (auto& c : sector_ch_) c.close();
  index_ch_.close();
  for (auto& c : decision_ch_) c.close();
  session_over_.store(true, std::memory_order_release);
}

// ---- results ------------------------------------------------------------------------------------

live_snapshot client::live() const {
  live_snapshot v;
  v.quotes = live_quotes_.load(std::memory_order_relaxed);
  v.frames = live_.frames.load(std::memory_order_relaxed);
  v.errors = live_.errors.load(std::memory_order_relaxed);
  v.unknown_symbols = live_.unknown.load(std::memory_order_relaxed);
  v.security_drops = live_.sec_drops.load(std::memory_order_relaxed);
  v.sector_drops = live_.sector_drops.load(std::memory_order_relaxed);
  v.index_drops = live_.index_drops.load(std::memory_order_relaxed);
  v.decision_drops = live_.decision_drops.load(std::memory_order_relaxed);
  v.index = live_index_.value.load(std::memory_order_relaxed);
  for (std::size_t s = 0; s < sector_count; ++s) {
    v.volatility[s] = live_sector_[s].value.load(std::memory_order_relaxed);
    v.sector_latency.merge(live_sector_[s].latency.snapshot());
  }
  for (std::size_t i = 0; i < u_.size(); ++i) v.security_latency.merge(live_sec_lat_[i].latency.snapshot());
  v.index_latency = live_index_.latency.snapshot();
  for (std::size_t k = 0; k < opt_.decision_makers; ++k) v.decision_latency.merge(live_decision_[k].latency.snapshot());
  v.order_round_trip = live_rtt_.snapshot();
  v.orders.sent = live_.orders_sent.load(std::memory_order_relaxed);
  v.orders.fills = live_.fills.load(std::memory_order_relaxed);
  v.orders.rejects = live_.rejects.load(std::memory_order_relaxed);
  v.orders.unmatched = live_.unmatched.load(std::memory_order_relaxed);
  v.orders.gross_shares = live_.gross_shares.load(std::memory_order_relaxed);
  v.orders.cash = live_.cash.load(std::memory_order_relaxed);
  double marked = 0;
  for (std::size_t i = 0; i < u_.size(); ++i) {
    const std::int64_t pos = live_sec_[i].position.load(std::memory_order_relaxed);
    if (pos != 0)
      marked += static_cast<double>(pos) * (live_sec_[i].bid.load(std::memory_order_relaxed) +
                                            live_sec_[i].ask.load(std::memory_order_relaxed)) / 2;
  }
  v.orders.pnl = v.orders.cash + marked;
  return v;
}

security_view client::security(std::size_t i) const {
  const live_security& s = live_sec_[i];
  return {s.bid.load(std::memory_order_relaxed), s.ask.load(std::memory_order_relaxed),
          s.ewma.load(std::memory_order_relaxed), s.updates.load(std::memory_order_relaxed),
          s.position.load(std::memory_order_relaxed)};
}

result client::stop() {
  if (!started_) return r_;
  if (!joined_) {
    stop_.store(true, std::memory_order_relaxed);
    send_logout();
  }
  return wait();
}

result client::wait() {
  if (!started_ || joined_) return r_;
  session_h_.get();
  timer_h_.get();
  for (auto& h : decision_h_) h.get();
  for (std::size_t i = 0; i < sec_h_.size(); ++i) {
    security_stats st = sec_h_[i].get();
    st.drops = r_.securities[i].drops;
    r_.securities[i] = st;
    r_.security_drops += st.drops;
    r_.security_latency.merge(live_sec_lat_[i].latency.snapshot());
  }
  for (std::size_t s = 0; s < sector_h_.size(); ++s) {
    sector_stats st = sector_h_[s].get();
    st.drops = r_.sectors[s].drops;
    r_.sectors[s] = st;
    r_.sector_drops += st.drops;
    r_.sector_latency.merge(live_sector_[s].latency.snapshot());
  }
  {
    index_stats st = index_h_.get();
    st.drops = r_.index.drops;
    r_.index = st;
    r_.index_drops = st.drops;
    r_.index_latency = live_index_.latency.snapshot();
  }
  // Everything is joined: the live values are final.
  const live_snapshot v = live();
  r_.decision_drops = v.decision_drops;
  r_.decision_latency = v.decision_latency;
  r_.orders = v.orders;
  r_.order_round_trip = v.order_round_trip;
  r_.positions.resize(u_.size());
  for (std::size_t i = 0; i < u_.size(); ++i) r_.positions[i] = live_sec_[i].position.load(std::memory_order_relaxed);
  joined_ = true;
  return r_;
}

}  // namespace qf::fanout
