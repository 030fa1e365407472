// stats_pipeline.cpp: see stats_pipeline.hpp.
#include "stats_pipeline.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <chrono>
#include <cmath>
#include <map>
#include <stdexcept>
#include <utility>

namespace sp {

namespace {

constexpr double inv_sqrt_2pi = 0.39894228040143267794;  // 1 / sqrt(2 pi)
constexpr double sqrt1_2 = 0.70710678118654752440;       // 1 / sqrt(2)

// N(x), the standard normal distribution function.
inline double norm_cdf(double x) noexcept { return 0.5 * std::erfc(-x * sqrt1_2); }

// The one Black-Scholes kernel, used by black_scholes() and by the book's revaluation.
// w = +1 for a call, -1 for a put: price = w (S N(w d1) - K e^{-rT} N(w d2)), delta = w N(w d1).
inline bs_result bs_kernel(double w, double S, double K, double disc_k, double drift,
                           double sig_sqrt_t, double sqrt_t) noexcept {
  const double d1 = (std::log(S / K) + drift) / sig_sqrt_t;
  const double d2 = d1 - sig_sqrt_t;
  const double n1 = norm_cdf(w * d1);
  const double n2 = norm_cdf(w * d2);
  const double pdf = std::exp(-0.5 * d1 * d1) * inv_sqrt_2pi;
  bs_result r;
  r.price = w * (S * n1 - disc_k * n2);
  r.delta = w * n1;
  r.gamma = pdf / (S * sig_sqrt_t);
  r.vega = S * pdf * sqrt_t;
  return r;
}

std::vector<double> initial_spots(const qf::universe& u, std::uint64_t seed) {
  qf::market m(u, seed);
  std::vector<double> px(u.size());
  for (std::size_t i = 0; i < u.size(); ++i) px[i] = 0.5 * (qf::fix::to_double(m.bid(i)) + qf::fix::to_double(m.ask(i)));
  return px;
}

inline double mid(const qf::market::tick& t) noexcept {
  return 0.5 * (qf::fix::to_double(t.bid) + qf::fix::to_double(t.ask));
}

std::size_t chunks_of(const book& b, std::size_t chunk) { return (b.size() + chunk - 1) / chunk; }

void validate(const config& cfg, const book& b) {
  if (cfg.chunk == 0) throw std::invalid_argument("stats_pipeline: chunk must be positive");
  if (cfg.quotes_per_snapshot == 0)
    throw std::invalid_argument("stats_pipeline: quotes_per_snapshot must be positive");
  if (cfg.versions_in_flight == 0)
    throw std::invalid_argument("stats_pipeline: versions_in_flight must be positive");
  if (b.size() == 0) throw std::invalid_argument("stats_pipeline: the book is empty");
}

// The report of one version from its chunk partials, summed in chunk order (the pipeline and
// reference() both use this, so their results are identical bit for bit).
report assemble(std::uint64_t version, std::uint64_t quotes, const std::vector<aggregate>& parts) {
  report r;
  r.version = version;
  r.quotes = quotes;
  for (const aggregate& p : parts) r.agg += p;
  finish(r.agg);
  return r;
}

}  // namespace

bs_result black_scholes(bool call, double S, double K, double r, double sigma, double T) noexcept {
  const double sqrt_t = std::sqrt(T);
  return bs_kernel(call ? 1.0 : -1.0, S, K, K * std::exp(-r * T), (r + 0.5 * sigma * sigma) * T,
                   sigma * sqrt_t, sqrt_t);
}

book make_book(const qf::universe& u, std::size_t options_per_underlying, std::uint64_t seed) {
  static constexpr double expiries[] = {1.0 / 12, 0.25, 0.5, 1.0, 2.0};
  book b;
  b.underlyings = u.size();
  const std::size_t n = u.size() * options_per_underlying;
  b.underlying.reserve(n);
  b.sector.reserve(n);
  b.call.reserve(n);
  for (auto* v : {&b.strike, &b.expiry, &b.sigma, &b.quantity, &b.sig_sqrt_t, &b.drift, &b.disc_strike, &b.sqrt_t})
    v->reserve(n);
  qf::rng g(seed ^ 0x5f0c4a3e2d1b0987ULL);
  for (std::size_t i = 0; i < u.size(); ++i) {
    const double s0 = qf::fix::to_double(u[i].initial_price);
    const double base_vol = 0.15 + 0.45 * g.unit();
    for (std::size_t k = 0; k < options_per_underlying; ++k) {
      const double moneyness = 0.7 + 0.6 * g.unit();
      const double strike = std::round(s0 * moneyness * 100.0) / 100.0;
      const double t = expiries[g.below(std::size(expiries))];
      const double smile = 0.2 * (moneyness - 1.0) * (moneyness - 1.0) / 0.09;  // up to +20% of vol
      const double sigma = base_vol * (1.0 + smile);
      std::int64_t contracts = static_cast<std::int64_t>(g.below(100)) - 50;
      if (contracts == 0) contracts = 1;
      b.underlying.push_back(static_cast<std::uint32_t>(i));
      b.sector.push_back(static_cast<std::uint8_t>(u[i].sec));
      b.call.push_back(static_cast<std::uint8_t>(g.below(2)));
      b.strike.push_back(strike);
      b.expiry.push_back(t);
      b.sigma.push_back(sigma);
      b.quantity.push_back(static_cast<double>(contracts) * 100.0);
      const double sqrt_t = std::sqrt(t);
      b.sqrt_t.push_back(sqrt_t);
      b.sig_sqrt_t.push_back(sigma * sqrt_t);
      b.drift.push_back((b.rate + 0.5 * sigma * sigma) * t);
      b.disc_strike.push_back(strike * std::exp(-b.rate * t));
    }
  }
  return b;
}

aggregate& aggregate::operator+=(const aggregate& o) noexcept {
  for (std::size_t s = 0; s < qf::sector_count; ++s) by_sector[s] += o.by_sector[s];
  total += o.total;
  valuations += o.valuations;
  return *this;
}

void finish(aggregate& a) noexcept {
  a.total = greeks{};
  for (const greeks& g : a.by_sector) a.total += g;
}

aggregate value_chunk(const book& b, const snapshot& s, std::size_t begin, std::size_t end) noexcept {
  aggregate a;
  const double* spot = s.spot.data();
  for (std::size_t i = begin; i < end; ++i) {
    const double S = spot[b.underlying[i]];
    const bs_result r = bs_kernel(b.call[i] ? 1.0 : -1.0, S, b.strike[i], b.disc_strike[i], b.drift[i],
                                  b.sig_sqrt_t[i], b.sqrt_t[i]);
    const double q = b.quantity[i];
    greeks& g = a.by_sector[b.sector[i]];
    g.value += q * r.price;
    g.delta += q * r.delta;
    g.gamma += q * r.gamma;
    g.vega += q * r.vega;
  }
  a.valuations = end - begin;
  return a;
}

std::vector<report> reference(const config& cfg, const qf::universe& u, const book& b) {
  validate(cfg, b);
  const std::size_t nchunks = chunks_of(b, cfg.chunk);
  qf::market m(u, cfg.seed);
  snapshot s;
  s.spot = initial_spots(u, cfg.seed);
  std::vector<report> out;
  std::vector<aggregate> parts(nchunks);
  std::size_t pending = 0;
  auto revalue = [&] {
    ++s.version;
    for (std::size_t k = 0; k < nchunks; ++k)
      parts[k] = value_chunk(b, s, k * cfg.chunk, std::min(b.size(), (k + 1) * cfg.chunk));
    out.push_back(assemble(s.version, s.quotes, parts));
    pending = 0;
  };
  for (std::size_t i = 0; i < cfg.quotes; ++i) {
    const qf::market::tick t = m.next();
    s.spot[t.index] = mid(t);
    ++s.quotes;
    if (++pending == cfg.quotes_per_snapshot) revalue();
  }
  if (pending) revalue();
  return out;
}

std::uint64_t in_flight_quote_bound(const config& cfg, const book& b, std::size_t workers,
                                    std::size_t report_capacity) {
  (void)b;
  (void)workers;
  // Quotes: one drawn and being sent by the source, the quote channel, the updater's batch.
  // Versions (K quotes each): one the updater is sending, the snapshot channel, one the fan-out
  // holds while it waits for a window token, the window (fan-out to report sent), and the report
  // channel. The jobs, partials and workers are inside the window.
  const std::uint64_t k = cfg.quotes_per_snapshot;
  const std::uint64_t versions = 1 + cfg.snapshot_capacity + 1 + cfg.versions_in_flight + report_capacity;
  return 1 + cfg.quote_capacity + k + k * versions;
}

run_result run_pipeline(const config& cfg, const qf::universe& u, const book& b,
                        goro::send_chan<report> reports, counters* ctr) {
  validate(cfg, b);
  counters local;
  counters& c = ctr ? *ctr : local;
  const std::size_t workers = cfg.workers ? cfg.workers : std::max<std::uint64_t>(1, goro::stats().workers);
  const std::size_t nchunks = chunks_of(b, cfg.chunk);

  struct job {
    snapshot_ptr snap;
    std::uint32_t chunk = 0;
  };
  struct partial {
    std::uint64_t version = 0, quotes = 0;
    std::uint32_t chunk = 0;
    aggregate agg;
  };

  goro::chan<qf::market::tick> quotes(cfg.quote_capacity);
  goro::chan<snapshot_ptr> snaps(cfg.snapshot_capacity);
  goro::chan<job> jobs(cfg.job_capacity ? cfg.job_capacity : 2 * workers);
  goro::chan<partial> partials(cfg.partial_capacity ? cfg.partial_capacity : 2 * workers);
  goro::semaphore window(static_cast<std::ptrdiff_t>(cfg.versions_in_flight));
  snapshot_cell cell;
  // Every coroutine below is joined before this function returns, so they may refer to its
  // locals (cfg, u, b, cell, window, c).

  // Failure handling (see the header): the first exception is kept; the pipeline's own channels
  // are closed (a blocked sender throws closed_channel_error, a receiver's range ends) and the
  // window opened (the fan-out may wait on it for a report that will never come). Every stage
  // body runs under guarded(), so each one ends one way or the other and run_pipeline can join
  // them all. first_mu guards first; failed makes the shutdown happen once.
  goro::mutex first_mu;
  std::exception_ptr first;
  std::atomic<bool> failed{false};
  auto close_quietly = [](auto ch) {
    try {
      ch.close();
    } catch (const goro::closed_channel_error&) {
      // already closed: by its stage, at the end, or by an earlier failure
    }
  };
  auto fail = [&](std::exception_ptr e) {
    {
      std::lock_guard<goro::mutex> lk(first_mu);
      if (!first) first = e;
    }
    if (failed.exchange(true)) return;
    close_quietly(quotes);
    close_quietly(snaps);
    close_quietly(jobs);
    close_quietly(partials);
    window.release(static_cast<std::ptrdiff_t>(cfg.versions_in_flight + 1));
  };
  auto guarded = [&fail](auto body) {
    return [&fail, body]() mutable {
      try {
        body();
      } catch (...) {
        fail(std::current_exception());
      }
    };
  };

  const auto t0 = std::chrono::steady_clock::now();

  // Quote source.
  auto source = goro::spawn(goro::spawn_options{.name = "quote-source"}, guarded([&cfg, &u, &c, quotes]() mutable {
    qf::market m(u, cfg.seed);
    for (std::size_t i = 0; i < cfg.quotes; ++i) {
      const qf::market::tick t = m.next();
      c.quotes_drawn.fetch_add(1, std::memory_order_relaxed);
      quotes.send(t);
    }
    quotes.close();
  }));

  // Snapshot updater.
  auto updater = goro::spawn(goro::spawn_options{.name = "snapshot-updater"}, guarded([&cfg, &u, &c, &cell, quotes, snaps]() mutable {
    std::vector<double> px = initial_spots(u, cfg.seed);
    std::uint64_t applied = 0, version = 0;
    std::size_t pending = 0;
    auto publish = [&] {
      auto s = std::make_shared<snapshot>();
      s->version = ++version;
      s->quotes = applied;
      s->spot = px;
      snapshot_ptr p = std::move(s);
      cell.store(p);
      c.snapshots_published.fetch_add(1, std::memory_order_relaxed);
      snaps.send(std::move(p));
      pending = 0;
    };
    for (const qf::market::tick& t : quotes) {
      px[t.index] = mid(t);
      ++applied;
      if (++pending == cfg.quotes_per_snapshot) publish();
    }
    if (pending) publish();
    snaps.close();
  }));

  // Fan-out: one job per chunk of the book, each with a reference to the same snapshot.
  auto fanout = goro::spawn(goro::spawn_options{.name = "fan-out"}, guarded([&window, nchunks, snaps, jobs]() mutable {
    for (snapshot_ptr& s : snaps) {
      window.acquire();
      for (std::size_t k = 0; k < nchunks; ++k) jobs.send(job{s, static_cast<std::uint32_t>(k)});
    }
    jobs.close();
  }));

  // Revaluation workers.
  std::vector<goro::join_handle<void>> pool;
  pool.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    pool.push_back(goro::spawn(goro::spawn_options{.name = "revalue"}, guarded([&cfg, &b, &c, jobs, partials]() mutable {
      for (job& j : jobs) {
        if (cfg.on_job) cfg.on_job(j.snap->version, j.chunk);
        partial p;
        p.version = j.snap->version;
        p.quotes = j.snap->quotes;
        p.chunk = j.chunk;
        const std::size_t begin = std::size_t{j.chunk} * cfg.chunk;
        p.agg = value_chunk(b, *j.snap, begin, std::min(b.size(), begin + cfg.chunk));
        j.snap.reset();  // the last reference to an old snapshot goes as soon as possible
        partials.send(std::move(p));
        c.jobs_done.fetch_add(1, std::memory_order_relaxed);
      }
    })));
  }

  // Aggregator: reports in version order.
  auto aggregator = goro::spawn(goro::spawn_options{.name = "aggregator"}, guarded([&c, &cell, &window, nchunks, partials, reports]() mutable {
    struct pending_version {
      std::uint64_t quotes = 0;
      std::size_t got = 0;
      std::vector<aggregate> parts;
    };
    std::map<std::uint64_t, pending_version> pend;
    std::uint64_t next = 1;
    for (partial& p : partials) {
      pending_version& e = pend[p.version];
      if (e.parts.empty()) e.parts.resize(nchunks);
      e.parts[p.chunk] = p.agg;
      e.quotes = p.quotes;
      ++e.got;
      while (!pend.empty() && pend.begin()->first == next && pend.begin()->second.got == nchunks) {
        report r = assemble(next, pend.begin()->second.quotes, pend.begin()->second.parts);
        pend.erase(pend.begin());
        const snapshot_ptr latest = cell.load();
        r.lag = latest ? latest->version - r.version : 0;
        reports.send(std::move(r));
        c.reports_sent.fetch_add(1, std::memory_order_relaxed);
        window.release();
        ++next;
      }
    }
    reports.close();
  }));

  // The stages' exceptions went to fail(): these joins do not throw.
  source.get();
  updater.get();
  fanout.get();
  for (auto& h : pool) h.get();
  close_quietly(partials);
  aggregator.get();
  if (first) {
    close_quietly(reports);  // the aggregator may have died before closing it
    std::rethrow_exception(first);
  }

  run_result res;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  res.workers = workers;
  res.quotes = c.quotes_drawn.load();
  res.snapshots = c.snapshots_published.load();
  res.valuations = res.snapshots * b.size();  // every version is revalued in full
  return res;
}

}  // namespace sp
