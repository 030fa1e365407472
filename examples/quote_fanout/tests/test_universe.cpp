// The symbol universe and the random-walk market.
#include "universe.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace fix = qf::fix;

TEST_CASE("universe: the default has a few hundred symbols over the 11 GICS sectors") {
  const qf::universe u;
  CHECK(u.size() == 300);
  CHECK(u.size() > qf::universe::table_size());  // some synthetic ones too
  const auto by_sector = u.count_by_sector();
  for (std::size_t s = 0; s < qf::sector_count; ++s) {
    INFO(qf::to_string(static_cast<qf::sector>(s)));
    CHECK(by_sector[s] >= 10);
  }
  std::set<std::string> names;
  for (const auto& in : u.instruments()) {
    CHECK(names.insert(in.sym.str()).second);  // unique
    CHECK(in.weight > 0);
    CHECK(in.market_cap_bn > 0);
    CHECK(in.initial_price >= fix::price_from_cents(1000));
    CHECK(in.initial_price <= fix::price_from_cents(60000));
    CHECK(in.initial_price % fix::price_from_cents(1) == 0);
  }
  CHECK(std::abs(u.total_weight() - 1.0) < 1e-9);

  struct want {
    const char* sym;
    qf::sector sec;
  };
  for (const want w : {want{"AAPL", qf::sector::information_technology}, want{"GOOG", qf::sector::communication_services},
                       want{"BP", qf::sector::energy}, want{"XOM", qf::sector::energy},
                       want{"JPM", qf::sector::financials}, want{"NEE", qf::sector::utilities}}) {
    INFO(w.sym);
    const auto i = u.find(w.sym);
    REQUIRE(i);
    CHECK(u[*i].sym.view() == w.sym);
    CHECK(u[*i].sec == w.sec);
    CHECK_FALSE(u[*i].synthetic);
  }
  CHECK_FALSE(u.find("NOPE1"));
  CHECK_FALSE(u.find(""));
  CHECK(qf::to_string(qf::sector::real_estate) == "Real Estate");
  CHECK(qf::to_string(qf::sector::communication_services) == "Communication Services");
  // Weights follow market capitalisation.
  CHECK(u[*u.find("AAPL")].weight > u[*u.find("BP")].weight);
  CHECK(u[*u.find("AAPL")].weight == doctest::Approx(3400.0 / [&] {
          double t = 0;
          for (const auto& in : u.instruments()) t += in.market_cap_bn;
          return t;
        }()));
}

TEST_CASE("universe: sizes, and the required symbols first") {
  for (std::size_t n : {1, 4, 12, 50, 1000}) {
    INFO(n);
    const qf::universe u(n, 7);
    CHECK(u.size() == n);
    CHECK(std::abs(u.total_weight() - 1.0) < 1e-9);
    CHECK(u[0].sym.view() == "AAPL");
    if (n >= 4) {
      CHECK(u.find("GOOG"));
      CHECK(u.find("BP"));
      CHECK(u.find("XOM"));
    }
    if (n >= 12) {
      for (std::size_t c : u.count_by_sector()) CHECK(c >= 1);
    }
  }
  CHECK_THROWS_AS(qf::universe(0, 1), std::invalid_argument);
  CHECK_THROWS_AS(qf::universe(qf::universe::max_size + 1, 1), std::invalid_argument);
}

TEST_CASE("universe: deterministic from the seed") {
  const qf::universe a(300, 1), b(300, 1), c(300, 2);
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].sym == b[i].sym);
    CHECK(a[i].sec == b[i].sec);
    CHECK(a[i].weight == b[i].weight);
    CHECK(a[i].initial_price == b[i].initial_price);
    differs |= a[i].sym != c[i].sym || a[i].initial_price != c[i].initial_price;
  }
  CHECK(differs);
  // The real companies are the same whatever the seed.
  for (std::size_t i = 0; i < qf::universe::table_size(); ++i) CHECK(a[i].sym == c[i].sym);
}

TEST_CASE("market: a seeded random walk") {
  const qf::universe u(300, 1);
  qf::market a(u, 5), b(u, 5), c(u, 6);
  std::vector<std::size_t> hits(u.size());
  bool differs = false;
  constexpr int n = 200000;
  for (int k = 0; k < n; ++k) {
    const auto ta = a.next(), tb = b.next(), tc = c.next();
    CHECK_EQ(ta.index, tb.index);
    CHECK_EQ(ta.bid, tb.bid);
    CHECK_EQ(ta.ask, tb.ask);
    CHECK_EQ(ta.bid_size, tb.bid_size);
    differs |= ta.index != tc.index;
    REQUIRE(ta.index < u.size());
    ++hits[ta.index];
    // A bid of a cent or more, a spread of a cent or more, whole cents, round lots.
    CHECK(ta.bid >= fix::price_from_cents(1));
    CHECK(ta.ask >= ta.bid + fix::price_from_cents(1));
    CHECK(ta.bid % fix::price_from_cents(1) == 0);
    CHECK(ta.bid_size % 100 == 0);
    CHECK(ta.ask_size >= 100);
    CHECK(a.bid(ta.index) == ta.bid);
    CHECK(a.ask(ta.index) == ta.ask);
  }
  CHECK(differs);
  CHECK(a.ticks() == n);
  // Symbols are picked by weight: each one's share of the ticks is close to its weight.
  for (const char* sym : {"AAPL", "MSFT", "GOOG", "XOM", "BP"}) {
    const std::size_t i = *u.find(sym);
    const double share = static_cast<double>(hits[i]) / n;
    INFO(sym << ": share " << share << ", weight " << u[i].weight);
    CHECK(share == doctest::Approx(u[i].weight).epsilon(0.1));
  }
}
