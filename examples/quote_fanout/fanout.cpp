// fanout.cpp: the quote-fanout client (see fanout.hpp).
#include "fanout.hpp"

#include <algorithm>
#include <bit>
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

void latency_histogram::add(std::int64_t ns) noexcept {
  if (ns < 0) ns = 0;
  const std::size_t b = std::min<std::size_t>(std::bit_width(static_cast<std::uint64_t>(ns)), 63);
  ++buckets[b];
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

std::int64_t latency_histogram::quantile_ns(double q) const noexcept {
  if (count == 0) return 0;
  const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= std::max<std::uint64_t>(want, 1)) return i == 0 ? 0 : std::min<std::int64_t>(max_ns, (std::int64_t{1} << i) - 1);
  }
  return max_ns;
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
  if (opt_.security_capacity == 0 || opt_.sector_capacity == 0 || opt_.index_capacity == 0)
    throw std::invalid_argument("qf::fanout: channel capacities must be > 0");
}

client::~client() {
  if (started_ && !joined_) stop();
}

void client::start() {
  if (started_) return;
  conn_ = goro::net::dial(opt_.addr);
  {
    std::string out;
    fix::encode(out, fix::header{opt_.comp_id, opt_.target, seq_++, fix::utc_now_ns()},
                fix::logon{.heartbeat_interval_s = opt_.heartbeat_interval_s});
    conn_.write_all(out);
  }
  started_ = true;

  const std::size_t n = u_.size();
  r_.securities.resize(n);
  sec_ch_.reserve(n);
  sec_h_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t cap = opt_.security_capacity_of ? opt_.security_capacity_of(i) : opt_.security_capacity;
    if (cap == 0) throw std::invalid_argument("qf::fanout: channel capacities must be > 0");
    sec_ch_.emplace_back(cap);
    sec_h_.push_back(goro::spawn([this, i, ch = sec_ch_[i]]() mutable {
      security_calc c{opt_.ewma_alpha, {}};
      c.s.sym = u_[i].sym;
      latency_histogram h;
      while (std::optional<quote_ptr> p = ch.recv()) {
        if (opt_.on_consume) opt_.on_consume(consumer_kind::security, i, *p);
        c.update((*p)->q);
        h.add(steady_ns() - (*p)->arrival_ns);
      }
      return std::pair{c.s, h};
    }));
  }
  for (std::size_t s = 0; s < sector_count; ++s) {
    sector_ch_[s] = goro::chan<quote_ptr>(opt_.sector_capacity);
    sector_h_.push_back(goro::spawn([this, s, ch = sector_ch_[s]]() mutable {
      sector_calc c{opt_.vol_window, std::vector<double>(u_.size(), 0.0), {}, 0, {}};
      c.s.sec = static_cast<sector>(s);
      c.ring.reserve(opt_.vol_window);
      latency_histogram h;
      while (std::optional<quote_ptr> p = ch.recv()) {
        if (opt_.on_consume) opt_.on_consume(consumer_kind::sector, s, *p);
        c.update((*p)->index, (*p)->q);
        h.add(steady_ns() - (*p)->arrival_ns);
      }
      return std::pair{c.s, h};
    }));
  }
  index_ch_ = goro::chan<quote_ptr>(opt_.index_capacity);
  index_h_ = goro::spawn([this, ch = index_ch_]() mutable {
    index_calc c(u_);
    latency_histogram h;
    while (std::optional<quote_ptr> p = ch.recv()) {
      if (opt_.on_consume) opt_.on_consume(consumer_kind::index, 0, *p);
      c.update((*p)->index, (*p)->q);
      h.add(steady_ns() - (*p)->arrival_ns);
    }
    return std::pair{c.s, h};
  });
  session_h_ = goro::spawn([this] { session(); });
}

void client::send_logout() {
  std::lock_guard<goro::mutex> lk(write_mu_);
  if (logout_sent_) return;
  logout_sent_ = true;
  std::string out;
  fix::encode(out, fix::header{opt_.comp_id, opt_.target, seq_++, fix::utc_now_ns()}, fix::logout{"bye"});
  std::error_code ec;
  conn_.write_all(out, ec);
  // After the Logout, the exchange has logout_timeout to answer and close.
  conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.logout_timeout);
}

void client::session() {
  fix::framer fr;
  fix::message m;
  std::string out;
  auto dispatch = [&](quote_ptr p) {
    const std::uint32_t i = p->index;
    // Drop the NEW quote for a consumer whose channel is full; the others still get it.
    if (!sec_ch_[i].try_send(p)) ++r_.securities[i].drops;
    const auto s = static_cast<std::size_t>(u_[i].sec);
    if (!sector_ch_[s].try_send(p)) ++r_.sectors[s].drops;
    if (!index_ch_.try_send(std::move(p))) ++r_.index.drops;
  };
  conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.io_timeout);
  bool done = false;
  while (!done) {
    const auto room = fr.prepare();
    std::error_code ec;
    const std::size_t n = conn_.read(room.data(), room.size(), ec);
    if (ec || n == 0) {
      fr.finish();
      if (ec && !r_.logged_out) r_.error = "read: " + ec.message();
      break;
    }
    fr.commit(n);
    {
      std::lock_guard<goro::mutex> lk(write_mu_);
      if (!logout_sent_) conn_.set_read_deadline(std::chrono::steady_clock::now() + opt_.io_timeout);
    }
    for (;;) {
      const fix::framer::result fres = fr.next();
      if (fres.st == fix::framer::status::need_more) break;
      if (fres.st == fix::framer::status::error) continue;  // counted by the framer
      ++r_.parse_calls;
      if (const fix::error e = m.parse(fres.f)) {
        fr.errors().add(e.code);
        continue;
      }
      ++r_.messages;
      switch (m.type()) {
        case fix::msg_type::quote: {
          if (stop_.load(std::memory_order_relaxed) ||
              (opt_.max_quotes != 0 && r_.quotes_received >= opt_.max_quotes)) {
            ++r_.quotes_ignored;
            break;
          }
          quote_event ev;
          ++r_.quote_decodes;
          if (const fix::error e = fix::decode(m, ev.q)) {
            fr.errors().add(e.code);
            break;
          }
          const std::optional<std::size_t> idx = u_.find(ev.q.sym());
          if (!idx) {
            ++r_.unknown_symbols;
            break;
          }
          ev.index = static_cast<std::uint32_t>(*idx);
          ev.arrival_ns = steady_ns();
          ++r_.quotes_received;
          live_quotes_.store(r_.quotes_received, std::memory_order_relaxed);
          dispatch(std::make_shared<const quote_event>(ev));
          if (opt_.max_quotes != 0 && r_.quotes_received == opt_.max_quotes) send_logout();
          break;
        }
        case fix::msg_type::logon:
          r_.logged_on = true;
          break;
        case fix::msg_type::logout:
          r_.logged_out = true;
          done = true;
          break;
        case fix::msg_type::test_request: {
          fix::test_request tr;
          if (const fix::error e = fix::decode(m, tr)) {
            fr.errors().add(e.code);
            break;
          }
          std::lock_guard<goro::mutex> lk(write_mu_);
          if (logout_sent_) break;
          out.clear();
          fix::encode(out, fix::header{opt_.comp_id, opt_.target, seq_++, fix::utc_now_ns()},
                      fix::heartbeat{tr.test_req_id});
          std::error_code ec;
          conn_.write_all(out, ec);
          ++r_.heartbeats_sent;
          break;
        }
        default:
          break;
      }
      if (done) break;
    }
  }
  r_.frames = fr.frames();
  r_.errors = fr.errors();
  conn_.close();
  // Consumers drain what is buffered, then end.
  for (auto& c : sec_ch_) c.close();
  for (auto& c : sector_ch_) c.close();
  index_ch_.close();
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
  for (std::size_t i = 0; i < sec_h_.size(); ++i) {
    auto [st, h] = sec_h_[i].get();
    st.drops = r_.securities[i].drops;
    r_.securities[i] = st;
    r_.security_drops += st.drops;
    r_.security_latency.merge(h);
  }
  for (std::size_t s = 0; s < sector_h_.size(); ++s) {
    auto [st, h] = sector_h_[s].get();
    st.drops = r_.sectors[s].drops;
    r_.sectors[s] = st;
    r_.sector_drops += st.drops;
    r_.sector_latency.merge(h);
  }
  {
    auto [st, h] = index_h_.get();
    st.drops = r_.index.drops;
    r_.index = st;
    r_.index_drops = st.drops;
    r_.index_latency.merge(h);
  }
  joined_ = true;
  return r_;
}

}  // namespace qf::fanout
