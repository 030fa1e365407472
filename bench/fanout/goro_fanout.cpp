// goro_fanout: the goro peer of the fanout comparison (bench/fanout/README.md is the
// specification every peer follows; bench/compare.py runs them side by side).
//
//   GOMAXPROCS=2 goro_fanout fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES
//   (GORO_FANOUT_STATS=1 also prints the scheduler's counters on stderr: parks, steals...)
//
// The main coroutine reads the feed in 64 KiB reads (goro::fs: io_uring), frames and parses each
// message once with the quote_fanout example's FIX codec (BodyLength and CheckSum verified), builds
// one immutable quote behind a std::shared_ptr<const quote> and sends that pointer to every
// consumer's goro::chan (capacity 1024, blocking send: no drops). One coroutine per consumer
// computes its statistic (security, sector or index: consumer k has kind k % 3) and returns a
// digest through its join_handle.
#include "fix.hpp"

#include <goro/goro.hpp>

#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

namespace fix = qf::fix;

constexpr std::size_t queue_capacity = 1024;
constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t sectors = 11;
constexpr std::size_t vol_window = 100;

struct instrument {
  int sector = 0;
  double weight = 0, initial = 0;
};

struct universe_file {
  std::vector<instrument> v;
  std::unordered_map<fix::symbol, std::uint32_t> index;
};

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "goro_fanout: %s\n", why.c_str());
  std::exit(1);
}

double parse_double(std::string_view s, const std::string& what) {
  double v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) fail("bad number '" + std::string(s) + "' in " + what);
  return v;
}

universe_file read_universe(const char* path) {
  std::ifstream in(path);
  if (!in) fail(std::string("cannot open ") + path);
  universe_file u;
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    std::string_view rest = line;
    std::array<std::string_view, 4> f;
    for (std::size_t k = 0; k < 4; ++k) {
      const std::size_t c = k < 3 ? rest.find(',') : rest.size();
      if (c == std::string_view::npos) fail(std::string(path) + ":" + std::to_string(n) + ": expected 4 fields");
      f[k] = rest.substr(0, c);
      rest.remove_prefix(std::min(rest.size(), c + 1));
    }
    fix::symbol sym;
    if (!fix::symbol::make(f[0], sym)) fail(std::string(path) + ":" + std::to_string(n) + ": bad symbol");
    const std::string where = std::string(path) + ":" + std::to_string(n);
    const double sec = parse_double(f[1], where);
    if (sec < 0 || sec >= sectors) fail(where + ": sector out of range");
    u.index.emplace(sym, static_cast<std::uint32_t>(u.v.size()));
    u.v.push_back({static_cast<int>(sec), parse_double(f[2], where), parse_double(f[3], where)});
  }
  if (u.v.empty()) fail(std::string(path) + ": no instruments");
  return u;
}

// Parsed once, shared by every consumer, never modified.
struct quote {
  std::uint32_t index;
  double bid, ask;
  std::int64_t bid_size, ask_size;
  std::uint64_t seq;
};
using quote_ptr = std::shared_ptr<const quote>;

// ---- the three consumer kinds, exactly as the specification orders their operations ----------

double security_consumer(goro::chan<quote_ptr> ch, std::size_t n) {
  struct st { double ewma = 0, spread = 0; std::uint64_t count = 0; };
  std::vector<st> s(n);
  while (std::optional<quote_ptr> p = ch.recv()) {
    const quote& q = **p;
    st& x = s[q.index];
    const double mid = (q.bid + q.ask) / 2;
    x.spread = q.ask - q.bid;
    x.ewma = x.count == 0 ? mid : 0.05 * mid + 0.95 * x.ewma;
    ++x.count;
  }
  double d = 0;
  for (const st& x : s)
    if (x.count) d += x.ewma + x.spread;
  return d;
}

double sector_consumer(goro::chan<quote_ptr> ch, const universe_file& u) {
  struct ring { std::array<double, vol_window> r{}; std::size_t n = 0, head = 0; double sum = 0, sumsq = 0; };
  std::vector<double> prev(u.v.size(), 0.0);  // 0: no quote yet (prices are positive)
  std::array<ring, sectors> rs{};
  while (std::optional<quote_ptr> p = ch.recv()) {
    const quote& q = **p;
    const double mid = (q.bid + q.ask) / 2;
    double& pv = prev[q.index];
    if (pv != 0) {
      ring& g = rs[static_cast<std::size_t>(u.v[q.index].sector)];
      const double r = std::log(mid / pv);
      if (g.n == vol_window) {
        const double o = g.r[g.head];
        g.sum -= o;
        g.sumsq -= o * o;
      } else {
        ++g.n;
      }
      g.r[g.head] = r;
      g.head = (g.head + 1) % vol_window;
      g.sum += r;
      g.sumsq += r * r;
    }
    pv = mid;
  }
  double d = 0;
  for (const ring& g : rs) {
    if (g.n < 2) continue;
    const double n = static_cast<double>(g.n);
    d += std::sqrt(std::max(0.0, (g.sumsq - g.sum * g.sum / n) / (n - 1)));
  }
  return d;
}

double index_consumer(goro::chan<quote_ptr> ch, const universe_file& u) {
  std::vector<double> last(u.v.size());
  for (std::size_t i = 0; i < u.v.size(); ++i) last[i] = u.v[i].initial;
  double value = 100;
  while (std::optional<quote_ptr> p = ch.recv()) {
    const quote& q = **p;
    const double mid = (q.bid + q.ask) / 2;
    const instrument& in = u.v[q.index];
    value += 100 * in.weight * (mid - last[q.index]) / in.initial;
    last[q.index] = mid;
  }
  return value;
}

int run(const char* feed_path, const universe_file& u, std::size_t consumers, std::uint64_t quotes) {
  std::vector<goro::chan<quote_ptr>> chans;
  std::vector<goro::join_handle<double>> hs;
  goro::wait_group ready;
  ready.add(static_cast<std::int64_t>(consumers));
  for (std::size_t k = 0; k < consumers; ++k) {
    chans.emplace_back(queue_capacity);
    hs.push_back(goro::spawn([k, ch = chans.back(), &u, &ready] {
      ready.done();
      switch (k % 3) {
        case 0: return security_consumer(ch, u.v.size());
        case 1: return sector_consumer(ch, u);
        default: return index_consumer(ch, u);
      }
    }));
  }
  ready.wait();
  goro::fs::file f = goro::fs::file::open(feed_path);

  const auto t0 = std::chrono::steady_clock::now();
  fix::framer fr;
  fix::message m;
  std::uint64_t taken = 0;
  while (taken < quotes) {
    const std::span<char> room = fr.prepare();
    const std::size_t n = f.read(room.data(), std::min(room.size(), read_size));
    if (n == 0) {
      if (fr.finish().st == fix::framer::status::error) fail("the feed ends inside a message");
      fail("the feed holds " + std::to_string(taken) + " quotes, fewer than " + std::to_string(quotes));
    }
    fr.commit(n);
    while (taken < quotes) {
      const fix::framer::result r = fr.next();
      if (r.st == fix::framer::status::need_more) break;
      if (r.st == fix::framer::status::error) fail("message " + std::to_string(taken + 1) + ": " + r.err.message());
      if (const fix::error e = m.parse(r.f)) fail("message " + std::to_string(taken + 1) + ": " + e.message());
      if (m.type() != fix::msg_type::quote) fail("message " + std::to_string(taken + 1) + ": not a Quote (35=S)");
      // The fields the specification asks for, no more (fix::decode(quote) would also parse the
      // two timestamps, which the other peers do not).
      fix::symbol sym;
      fix::price bid = 0, ask = 0;
      std::int64_t bid_size = 0, ask_size = 0;
      if (!fix::symbol::make(m.get(fix::tag::symbol), sym) || !fix::parse_price(m.get(fix::tag::bid_px), bid) ||
          !fix::parse_price(m.get(fix::tag::offer_px), ask) || !fix::parse_qty(m.get(fix::tag::bid_size), bid_size) ||
          !fix::parse_qty(m.get(fix::tag::offer_size), ask_size))
        fail("message " + std::to_string(taken + 1) + ": a missing or malformed Symbol, price or size");
      const auto it = u.index.find(sym);
      if (it == u.index.end()) fail("message " + std::to_string(taken + 1) + ": unknown symbol " + sym.str());
      auto q = std::make_shared<const quote>(
          quote{it->second, fix::to_double(bid), fix::to_double(ask), bid_size, ask_size, m.seq()});
      for (goro::chan<quote_ptr>& ch : chans) ch.send(q);
      ++taken;
    }
  }
  for (goro::chan<quote_ptr>& ch : chans) ch.close();
  std::vector<double> digests;
  for (auto& h : hs) digests.push_back(h.get());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (std::getenv("GORO_FANOUT_STATS")) {
    const goro::sched::stats st = goro::sched::get_stats();
    std::fprintf(stderr, "switches %llu parks %llu steals %llu stolen %llu sleeps %llu wakeups %llu global %llu\n",
                 (unsigned long long)st.switches, (unsigned long long)st.parks, (unsigned long long)st.steals,
                 (unsigned long long)st.stolen, (unsigned long long)st.worker_sleeps,
                 (unsigned long long)st.worker_wakeups, (unsigned long long)st.global_queue_pushes);
  }
  std::printf("RESULT fanout_qps %.1f quotes/s\n", static_cast<double>(quotes) / secs);
  for (std::size_t k = 0; k < consumers; ++k)
    std::printf("DIGEST %zu %s %.12e\n", k, k % 3 == 0 ? "security" : k % 3 == 1 ? "sector" : "index", digests[k]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6 || std::string_view(argv[1]) != "fanout") {
    std::fprintf(stderr, "usage: goro_fanout fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES\n");
    return 2;
  }
  char* end = nullptr;
  const unsigned long consumers = std::strtoul(argv[4], &end, 10);
  if (*end || consumers == 0 || consumers > 100000) fail("CONSUMERS must be 1 to 100000");
  const unsigned long long quotes = std::strtoull(argv[5], &end, 10);
  if (*end || quotes == 0) fail("QUOTES must be at least 1");
  const universe_file u = read_universe(argv[3]);
  try {
    return goro::run([&] { return run(argv[2], u, consumers, quotes); });
  } catch (const std::exception& e) {
    fail(e.what());
  }
}
