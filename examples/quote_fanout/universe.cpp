// universe.cpp: the symbol table, the universe and the random-walk market (see universe.hpp).
#include "universe.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_set>

namespace qf {

namespace {

struct company {
  const char* sym;
  sector sec;
  double cap_bn;  // approximate market capitalisation, 2024
};

using S = sector;

// Real companies by GICS sector, largest first within each sector. AAPL, GOOG, BP and XOM are
// listed first so that every universe has them.
constexpr company table[] = {
    {"AAPL", S::information_technology, 3400},
    {"GOOG", S::communication_services, 1000},
    {"BP", S::energy, 90},
    {"XOM", S::energy, 500},
    // Information Technology
    {"MSFT", S::information_technology, 3100}, {"NVDA", S::information_technology, 3000},
    {"AVGO", S::information_technology, 800}, {"ORCL", S::information_technology, 450},
    {"CRM", S::information_technology, 280}, {"AMD", S::information_technology, 230},
    {"ADBE", S::information_technology, 230}, {"CSCO", S::information_technology, 230},
    {"ACN", S::information_technology, 220}, {"IBM", S::information_technology, 200},
    {"NOW", S::information_technology, 200}, {"INTU", S::information_technology, 180},
    {"TXN", S::information_technology, 180}, {"QCOM", S::information_technology, 180},
    {"AMAT", S::information_technology, 150}, {"PANW", S::information_technology, 120},
    {"ANET", S::information_technology, 120}, {"MU", S::information_technology, 110},
    {"ADI", S::information_technology, 110}, {"LRCX", S::information_technology, 95},
    {"KLAC", S::information_technology, 95}, {"INTC", S::information_technology, 90},
    {"SNPS", S::information_technology, 80}, {"CDNS", S::information_technology, 80},
    // Health Care
    {"LLY", S::health_care, 800}, {"UNH", S::health_care, 500}, {"JNJ", S::health_care, 380},
    {"ABBV", S::health_care, 320}, {"MRK", S::health_care, 250}, {"TMO", S::health_care, 200},
    {"ABT", S::health_care, 200}, {"ISRG", S::health_care, 180}, {"DHR", S::health_care, 170},
    {"AMGN", S::health_care, 160}, {"PFE", S::health_care, 160}, {"SYK", S::health_care, 140},
    {"BSX", S::health_care, 130}, {"VRTX", S::health_care, 120}, {"GILD", S::health_care, 110},
    {"BMY", S::health_care, 110}, {"MDT", S::health_care, 110}, {"REGN", S::health_care, 100},
    {"ELV", S::health_care, 90}, {"CI", S::health_care, 90}, {"ZTS", S::health_care, 80},
    {"HCA", S::health_care, 80}, {"CVS", S::health_care, 75},
    // Financials
    {"BRK.B", S::financials, 1000}, {"JPM", S::financials, 650}, {"V", S::financials, 600},
    {"MA", S::financials, 480}, {"BAC", S::financials, 330}, {"WFC", S::financials, 240},
    {"MS", S::financials, 200}, {"AXP", S::financials, 200}, {"BX", S::financials, 200},
    {"GS", S::financials, 180}, {"SPGI", S::financials, 160}, {"BLK", S::financials, 150},
    {"PGR", S::financials, 150}, {"SCHW", S::financials, 140}, {"C", S::financials, 130},
    {"CB", S::financials, 110}, {"MMC", S::financials, 110}, {"ICE", S::financials, 90},
    {"CME", S::financials, 80}, {"PYPL", S::financials, 80},
    // Consumer Discretionary
    {"AMZN", S::consumer_discretionary, 2200}, {"TSLA", S::consumer_discretionary, 1100},
    {"HD", S::consumer_discretionary, 400}, {"MCD", S::consumer_discretionary, 210},
    {"BKNG", S::consumer_discretionary, 160}, {"LOW", S::consumer_discretionary, 150},
    {"TJX", S::consumer_discretionary, 140}, {"NKE", S::consumer_discretionary, 110},
    {"SBUX", S::consumer_discretionary, 110}, {"CMG", S::consumer_discretionary, 80},
    {"ABNB", S::consumer_discretionary, 80}, {"MAR", S::consumer_discretionary, 75},
    {"ORLY", S::consumer_discretionary, 70}, {"RCL", S::consumer_discretionary, 60},
    {"HLT", S::consumer_discretionary, 60}, {"GM", S::consumer_discretionary, 55},
    {"ROST", S::consumer_discretionary, 50}, {"F", S::consumer_discretionary, 45},
    // Communication Services
    {"GOOGL", S::communication_services, 1100}, {"META", S::communication_services, 1400},
    {"NFLX", S::communication_services, 380}, {"TMUS", S::communication_services, 280},
    {"DIS", S::communication_services, 200}, {"VZ", S::communication_services, 180},
    {"T", S::communication_services, 160}, {"CMCSA", S::communication_services, 150},
    {"CHTR", S::communication_services, 55}, {"EA", S::communication_services, 40},
    {"TTWO", S::communication_services, 30}, {"WBD", S::communication_services, 25},
    {"OMC", S::communication_services, 20},
    // Industrials
    {"GE", S::industrials, 200}, {"CAT", S::industrials, 180}, {"RTX", S::industrials, 160},
    {"UBER", S::industrials, 160}, {"UNP", S::industrials, 140}, {"HON", S::industrials, 140},
    {"ETN", S::industrials, 130}, {"LMT", S::industrials, 120}, {"ADP", S::industrials, 120},
    {"BA", S::industrials, 120}, {"DE", S::industrials, 110}, {"UPS", S::industrials, 110},
    {"WM", S::industrials, 85}, {"GD", S::industrials, 80}, {"NOC", S::industrials, 75},
    {"ITW", S::industrials, 75}, {"MMM", S::industrials, 70}, {"FDX", S::industrials, 70},
    {"CSX", S::industrials, 65}, {"EMR", S::industrials, 65},
    // Consumer Staples
    {"WMT", S::consumer_staples, 700}, {"PG", S::consumer_staples, 400},
    {"COST", S::consumer_staples, 400}, {"KO", S::consumer_staples, 280},
    {"PEP", S::consumer_staples, 230}, {"PM", S::consumer_staples, 190},
    {"MDLZ", S::consumer_staples, 90}, {"MO", S::consumer_staples, 90},
    {"CL", S::consumer_staples, 75}, {"TGT", S::consumer_staples, 70},
    {"KMB", S::consumer_staples, 45}, {"STZ", S::consumer_staples, 45},
    {"KR", S::consumer_staples, 45}, {"KHC", S::consumer_staples, 40},
    {"SYY", S::consumer_staples, 38}, {"HSY", S::consumer_staples, 38},
    {"GIS", S::consumer_staples, 35},
    // Energy
    {"CVX", S::energy, 280}, {"SHEL", S::energy, 210}, {"COP", S::energy, 130},
    {"EOG", S::energy, 70}, {"SLB", S::energy, 60}, {"WMB", S::energy, 60},
    {"OKE", S::energy, 60}, {"KMI", S::energy, 60}, {"MPC", S::energy, 55},
    {"PSX", S::energy, 55}, {"FANG", S::energy, 55}, {"OXY", S::energy, 50},
    {"HES", S::energy, 45}, {"VLO", S::energy, 45}, {"BKR", S::energy, 40},
    {"HAL", S::energy, 30}, {"DVN", S::energy, 25},
    // Utilities
    {"NEE", S::utilities, 160}, {"SO", S::utilities, 100}, {"DUK", S::utilities, 85},
    {"CEG", S::utilities, 75}, {"SRE", S::utilities, 55}, {"AEP", S::utilities, 55},
    {"D", S::utilities, 47}, {"PCG", S::utilities, 45}, {"PEG", S::utilities, 45},
    {"VST", S::utilities, 45}, {"EXC", S::utilities, 40}, {"XEL", S::utilities, 37},
    {"ED", S::utilities, 35}, {"WEC", S::utilities, 30}, {"EIX", S::utilities, 30},
    // Real Estate
    {"PLD", S::real_estate, 110}, {"AMT", S::real_estate, 100}, {"EQIX", S::real_estate, 85},
    {"WELL", S::real_estate, 80}, {"SPG", S::real_estate, 60}, {"PSA", S::real_estate, 55},
    {"O", S::real_estate, 50}, {"DLR", S::real_estate, 50}, {"CCI", S::real_estate, 45},
    {"CBRE", S::real_estate, 38}, {"VICI", S::real_estate, 35}, {"EXR", S::real_estate, 35},
    {"IRM", S::real_estate, 35}, {"AVB", S::real_estate, 32}, {"EQR", S::real_estate, 27},
    // Materials
    {"LIN", S::materials, 220}, {"SHW", S::materials, 95}, {"APD", S::materials, 70},
    {"ECL", S::materials, 70}, {"FCX", S::materials, 65}, {"NEM", S::materials, 60},
    {"CTVA", S::materials, 40}, {"DOW", S::materials, 35}, {"DD", S::materials, 35},
    {"NUE", S::materials, 35}, {"MLM", S::materials, 35}, {"VMC", S::materials, 35},
    {"PPG", S::materials, 30}, {"IP", S::materials, 20}, {"ALB", S::materials, 10},
};
constexpr std::size_t table_len = sizeof table / sizeof table[0];
constexpr std::size_t required_len = 4;  // AAPL, GOOG, BP, XOM

// The table's order of use: the required four, then the largest company of each of the other
// eight sectors (so a universe of 12 covers all eleven), then the sectors in turn, each sector's
// largest company not yet taken.
std::vector<std::size_t> table_order() {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < required_len; ++i) order.push_back(i);
  std::array<std::vector<std::size_t>, sector_count> by_sector;
  for (std::size_t i = required_len; i < table_len; ++i)
    by_sector[static_cast<std::size_t>(table[i].sec)].push_back(i);
  for (auto& v : by_sector)
    std::stable_sort(v.begin(), v.end(), [](std::size_t a, std::size_t b) { return table[a].cap_bn > table[b].cap_bn; });
  std::array<std::size_t, sector_count> next{};
  // First the largest company of each sector the required four leave out, then every sector in turn.
  std::array<bool, sector_count> covered{};
  for (std::size_t i = 0; i < required_len; ++i) covered[static_cast<std::size_t>(table[i].sec)] = true;
  for (std::size_t s = 0; s < sector_count; ++s)
    if (!covered[s] && !by_sector[s].empty()) order.push_back(by_sector[s][next[s]++]);
  for (bool more = true; more;) {
    more = false;
    for (std::size_t s = 0; s < sector_count; ++s) {
      if (next[s] < by_sector[s].size()) {
        order.push_back(by_sector[s][next[s]++]);
        more = true;
      }
    }
  }
  return order;
}

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

__extension__ typedef unsigned __int128 u128;

inline std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

}  // namespace

std::string_view to_string(sector s) noexcept {
  switch (s) {
    case sector::information_technology: return "Information Technology";
    case sector::health_care: return "Health Care";
    case sector::financials: return "Financials";
    case sector::consumer_discretionary: return "Consumer Discretionary";
    case sector::communication_services: return "Communication Services";
    case sector::industrials: return "Industrials";
    case sector::consumer_staples: return "Consumer Staples";
    case sector::energy: return "Energy";
    case sector::utilities: return "Utilities";
    case sector::real_estate: return "Real Estate";
    case sector::materials: return "Materials";
  }
  return "?";
}

// ---- rng ----------------------------------------------------------------------------------------

rng::rng(std::uint64_t seed) noexcept {
  std::uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
}

std::uint64_t rng::next() noexcept {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t rng::below(std::uint64_t n) noexcept {
  return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
}

double rng::unit() noexcept { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

// ---- universe -----------------------------------------------------------------------------------

std::size_t universe::table_size() noexcept { return table_len; }

universe::universe(std::size_t n, std::uint64_t seed) : seed_(seed) {
  if (n < 1 || n > max_size)
    throw std::invalid_argument("qf::universe: the number of symbols must be from 1 to " +
                                std::to_string(max_size) + ", not " + std::to_string(n));
  rng r(seed ^ 0x756e697665727365ull);  // "universe"
  v_.reserve(n);
  std::unordered_set<std::string_view> taken;
  for (std::size_t i : table_order()) {
    if (v_.size() == n) break;
    instrument in;
    in.sym = fix::symbol(table[i].sym);
    in.sec = table[i].sec;
    in.market_cap_bn = table[i].cap_bn;
    v_.push_back(in);
    taken.insert(table[i].sym);
  }
  // Synthetic tickers: four letters not already taken, sectors in turn, capitalisations from $2bn
  // to $40bn (uniform, in steps of $0.1bn).
  std::vector<std::string> names;
  names.reserve(n > v_.size() ? n - v_.size() : 0);
  for (std::size_t k = 0; v_.size() < n; ++k) {
    std::string name(4, 'A');
    for (char& c : name) c = static_cast<char>('A' + r.below(26));
    if (taken.count(name)) continue;
    names.push_back(name);
    taken.insert(names.back());  // names is reserved: the view stays valid
    instrument in;
    in.sym = fix::symbol(name);
    in.sec = static_cast<sector>(k % sector_count);
    in.synthetic = true;
    in.market_cap_bn = static_cast<double>(20 + r.below(381)) / 10;
    v_.push_back(in);
  }
  double total = 0;
  for (const auto& in : v_) total += in.market_cap_bn;
  for (auto& in : v_) {
    in.weight = in.market_cap_bn / total;
    // A starting price from $10 to $600 (uniform, in whole cents).
    in.initial_price = fix::price_from_cents(static_cast<std::int64_t>(1000 + r.below(59001)));
  }
  index_.reserve(v_.size());
  for (std::size_t i = 0; i < v_.size(); ++i) index_.emplace(v_[i].sym, static_cast<std::uint32_t>(i));
}

std::optional<std::size_t> universe::find(const fix::symbol& sym) const noexcept {
  const auto it = index_.find(sym);
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::size_t> universe::find(std::string_view sym) const noexcept {
  fix::symbol s;
  if (!fix::symbol::make(sym, s)) return std::nullopt;
  return find(s);
}

std::array<std::size_t, sector_count> universe::count_by_sector() const noexcept {
  std::array<std::size_t, sector_count> c{};
  for (const auto& in : v_) ++c[static_cast<std::size_t>(in.sec)];
  return c;
}

double universe::total_weight() const noexcept {
  double t = 0;
  for (const auto& in : v_) t += in.weight;
  return t;
}

// ---- market -------------------------------------------------------------------------------------

market::market(const universe& u, std::uint64_t seed) : u_(&u), rng_(seed ^ 0x6d61726b6574ull) {  // "market"
  const std::size_t n = u.size();
  st_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    st_[i].bid_cents = std::max<std::int64_t>(1, u[i].initial_price / (fix::price_scale / 100));
    st_[i].spread_cents = 1;
    st_[i].bid_size = 100 * static_cast<std::int64_t>(1 + rng_.below(20));
    st_[i].ask_size = 100 * static_cast<std::int64_t>(1 + rng_.below(20));
  }
  // Vose's alias method, in integer thresholds out of 2^32.
  prob_.assign(n, 0);
  alias_.assign(n, 0);
  std::vector<double> scaled(n);
  std::vector<std::uint32_t> small, large;
  for (std::size_t i = 0; i < n; ++i) {
    scaled[i] = u[i].weight * static_cast<double>(n);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<std::uint32_t>(i));
  }
  constexpr double one = 4294967296.0;  // 2^32
  while (!small.empty() && !large.empty()) {
    const std::uint32_t s = small.back(), l = large.back();
    small.pop_back();
    large.pop_back();
    prob_[s] = static_cast<std::uint32_t>(std::min(scaled[s] * one, one - 1));
    alias_[s] = l;
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    (scaled[l] < 1.0 ? small : large).push_back(l);
  }
  for (std::uint32_t i : large) prob_[i] = 0xffffffffu, alias_[i] = i;
  for (std::uint32_t i : small) prob_[i] = 0xffffffffu, alias_[i] = i;  // rounding leftovers
}

market::tick market::next() noexcept {
  const std::uint64_t r = rng_.next();
  // The symbol: a column of the alias table, then its own or its alias by the threshold.
  const auto col = static_cast<std::uint32_t>((static_cast<u128>(r >> 32) * st_.size()) >> 32);
  const auto coin = static_cast<std::uint32_t>(r);
  const std::uint32_t i = coin < prob_[col] ? col : alias_[col];
  state& s = st_[i];
  const std::uint64_t r2 = rng_.next();
  // The bid moves by up to ~5 basis points (at least a cent) either way, never below a cent.
  const std::int64_t m = std::max<std::int64_t>(1, s.bid_cents / 2000);
  const std::int64_t d = static_cast<std::int64_t>((r2 & 0xffffffffu) % static_cast<std::uint64_t>(2 * m + 1)) - m;
  s.bid_cents = std::max<std::int64_t>(1, s.bid_cents + d);
  // The spread: a cent, up to a cent per $50 of price more.
  const std::int64_t w = 1 + s.bid_cents / 5000;
  s.spread_cents = 1 + static_cast<std::int64_t>(((r2 >> 32) & 0xffff) % static_cast<std::uint64_t>(w));
  s.bid_size = 100 * static_cast<std::int64_t>(1 + ((r2 >> 48) & 0xff) % 20);
  s.ask_size = 100 * static_cast<std::int64_t>(1 + ((r2 >> 56) & 0xff) % 20);
  ++ticks_;
  tick t;
  t.index = i;
  t.bid = bid(i);
  t.ask = ask(i);
  t.bid_size = s.bid_size;
  t.ask_size = s.ask_size;
  return t;
}

}  // namespace qf
