// make_feed: writes the fanout comparison's input, the same bytes for every peer.
//
//   make_feed --quotes N [--symbols 300] [--seed 1] FEED_FILE UNIVERSE_FILE
//
// FEED_FILE: N FIX 4.4 Quote (S) messages back to back, exactly as qf::exchange sends them
// (SenderCompID EXCH, TargetCompID CLIENT, MsgSeqNum 1..N, QuoteID = MsgSeqNum), the ticks of
// qf::market over qf::universe(symbols, seed). UNIVERSE_FILE: one line per instrument, in
// universe order, "SYMBOL,SECTOR,WEIGHT,INITIAL_PRICE": the sector's index (0-10, GICS order
// of qf::sector), the weight printed with 17 significant digits (it reads back to the same
// double) and the initial price as a decimal with two places.
#include "fix.hpp"
#include "universe.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr, "make_feed: %s\nusage: make_feed --quotes N [--symbols S] [--seed X] FEED_FILE UNIVERSE_FILE\n", why);
  std::exit(2);
}

unsigned long long number(const char* s) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (!*s || *end || errno || s[0] == '-') usage("a whole number was expected");
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned long long quotes = 0, symbols = qf::universe::default_size, seed = 1;
  const char* files[2] = {nullptr, nullptr};
  int nfiles = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quotes") == 0 && i + 1 < argc) {
      quotes = number(argv[++i]);
    } else if (std::strcmp(argv[i], "--symbols") == 0 && i + 1 < argc) {
      symbols = number(argv[++i]);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = number(argv[++i]);
    } else if (argv[i][0] != '-' && nfiles < 2) {
      files[nfiles++] = argv[i];
    } else {
      usage((std::string("unexpected argument '") + argv[i] + "'").c_str());
    }
  }
  if (quotes == 0) usage("--quotes must be at least 1");
  if (nfiles != 2) usage("FEED_FILE and UNIVERSE_FILE are required");
  if (symbols < 1 || symbols > qf::universe::max_size) usage("--symbols is out of range");

  const qf::universe u(symbols, seed);
  qf::market m(u, seed);
  std::FILE* feed = std::fopen(files[0], "wb");
  std::FILE* uni = std::fopen(files[1], "w");
  if (!feed || !uni) {
    std::fprintf(stderr, "make_feed: cannot create %s: %s\n", feed ? files[1] : files[0], std::strerror(errno));
    return 1;
  }
  for (std::size_t i = 0; i < u.size(); ++i) {
    const qf::instrument& in = u[i];
    const long long cents = in.initial_price / (qf::fix::price_scale / 100);
    std::fprintf(uni, "%s,%d,%.17g,%lld.%02lld\n", in.sym.str().c_str(), static_cast<int>(in.sec), in.weight,
                 cents / 100, cents % 100);
  }
  std::string out;
  // A fixed clock, so that the file is the same on every run (the peers do not use the times).
  const std::int64_t t0 = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
  for (unsigned long long k = 1; k <= quotes; ++k) {
    const qf::market::tick t = m.next();
    const std::int64_t now = t0 + static_cast<std::int64_t>(k) * 1000;
    const qf::fix::quote q(u[t.index].sym, t.bid, t.ask, t.bid_size, t.ask_size, now, now, k);
    qf::fix::encode(out, qf::fix::header{"EXCH", "CLIENT", k, now}, q);
    if (out.size() >= (1 << 20) || k == quotes) {
      if (std::fwrite(out.data(), 1, out.size(), feed) != out.size()) {
        std::fprintf(stderr, "make_feed: writing %s: %s\n", files[0], std::strerror(errno));
        return 1;
      }
      out.clear();
    }
  }
  if (std::fclose(feed) != 0 || std::fclose(uni) != 0) {
    std::fprintf(stderr, "make_feed: closing the files: %s\n", std::strerror(errno));
    return 1;
  }
  return 0;
}
