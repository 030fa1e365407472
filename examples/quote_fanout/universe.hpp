// universe.hpp: the exchange simulator's symbols and their random-walk prices.
//
//   qf::universe u(300, /*seed=*/1);     // AAPL, GOOG, BP, XOM, ... over the 11 GICS sectors
//   qf::market m(u, /*seed=*/1);         // prices move one tick() at a time
//   qf::market::tick t = m.next();        // a symbol picked by market-cap weight, its new bid/ask
//   u[t.index].sym.view();                // "AAPL"
//
// The universe: about 200 real US-listed companies (plus BP and Shell) with their GICS sector and
// an approximate market capitalisation (2024, in $bn), in an order that covers every sector early
// (AAPL, GOOG, BP, XOM first, then the sectors in turn, largest first), then synthetic tickers
// (four letters, sector in turn, a capitalisation drawn from the seed) up to the size asked for.
// Weights are the capitalisations normalised to sum to 1. Everything that is not from the table
// (synthetic names and capitalisations, every starting price) is drawn from the seed with the
// generator below, in integers, so a universe, and a market, are the same for the same size and
// seed on every run and every machine.
//
// The market: each tick picks a symbol with probability equal to its weight (Walker's alias
// table, built once with IEEE double divisions), moves its bid by a random whole number of cents
// within about 5 basis points (never below one cent), and draws a new spread (1 cent or more,
// wider for dearer stocks) and new sizes (round lots of 100). Ticks are integer arithmetic, so a
// market re-run from the same seed reproduces every tick exactly.
#pragma once

#include "fix.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qf {

// The eleven GICS sectors.
enum class sector : std::uint8_t {
  information_technology,
  health_care,
  financials,
  consumer_discretionary,
  communication_services,
  industrials,
  consumer_staples,
  energy,
  utilities,
  real_estate,
  materials,
};
inline constexpr std::size_t sector_count = 11;
std::string_view to_string(sector s) noexcept;  // "Information Technology", ...

// xoshiro256** seeded through splitmix64: small, fast, and the same sequence everywhere.
class rng {
 public:
  explicit rng(std::uint64_t seed) noexcept;
  std::uint64_t next() noexcept;
  // Uniform in [0, n) (n > 0), by Lemire's multiply-and-shift (bias below 2^-64 * n: negligible).
  std::uint64_t below(std::uint64_t n) noexcept;
  double unit() noexcept;  // uniform in [0, 1)

 private:
  std::uint64_t s_[4];
};

struct instrument {
  fix::symbol sym;
  sector sec = sector::information_technology;
  bool synthetic = false;            // not from the table of real companies
  double market_cap_bn = 0;          // $bn
  double weight = 0;                 // market_cap_bn / the universe's total
  fix::price initial_price = 0;      // a whole number of cents
};

class universe {
 public:
  static constexpr std::size_t default_size = 300;
  static constexpr std::size_t max_size = 10000;

  // n symbols (1 to max_size; std::invalid_argument otherwise), deterministic from seed.
  explicit universe(std::size_t n = default_size, std::uint64_t seed = 1);

  std::size_t size() const noexcept { return v_.size(); }
  const instrument& operator[](std::size_t i) const noexcept { return v_[i]; }
  std::span<const instrument> instruments() const noexcept { return v_; }
  std::uint64_t seed() const noexcept { return seed_; }

  // The index of a symbol, if it is in the universe.
  std::optional<std::size_t> find(std::string_view sym) const noexcept;
  std::optional<std::size_t> find(const fix::symbol& sym) const noexcept;

  // How many symbols each sector has, indexed by sector.
  std::array<std::size_t, sector_count> count_by_sector() const noexcept;
  // The sum of the weights (1 up to rounding).
  double total_weight() const noexcept;

  // How many real companies the built-in table has.
  static std::size_t table_size() noexcept;

 private:
  std::vector<instrument> v_;
  std::unordered_map<fix::symbol, std::uint32_t> index_;
  std::uint64_t seed_;
};

// Random-walk quotes over a universe.
class market {
 public:
  struct tick {
    std::uint32_t index = 0;  // into the universe
    fix::price bid = 0, ask = 0;
    std::int64_t bid_size = 0, ask_size = 0;
  };

  // Keeps a reference to u, which must outlive the market.
  market(const universe& u, std::uint64_t seed);

  // The next quote: one symbol's new bid and ask.
  tick next() noexcept;

  const universe& symbols() const noexcept { return *u_; }
  fix::price bid(std::size_t i) const noexcept { return fix::price_from_cents(st_[i].bid_cents); }
  fix::price ask(std::size_t i) const noexcept {
    return fix::price_from_cents(st_[i].bid_cents + st_[i].spread_cents);
  }
  std::int64_t bid_size(std::size_t i) const noexcept { return st_[i].bid_size; }
  std::int64_t ask_size(std::size_t i) const noexcept { return st_[i].ask_size; }
  std::uint64_t ticks() const noexcept { return ticks_; }

 private:
  struct state {
    std::int64_t bid_cents;
    std::int64_t spread_cents;
    std::int64_t bid_size, ask_size;
  };
  const universe* u_;
  rng rng_;
  std::vector<state> st_;
  // Walker's alias method: a symbol in O(1) with probability equal to its weight. prob_ is a
  // threshold out of 2^32 so that the choice is integer arithmetic.
  std::vector<std::uint32_t> prob_;
  std::vector<std::uint32_t> alias_;
  std::uint64_t ticks_ = 0;
};

}  // namespace qf
