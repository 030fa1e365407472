// pipeline_inputs: writes the inputs of the statistics pipeline (examples/stats_pipeline) for a
// peer in another language (bench/go/pipeline.go), so that the peer need not port the universe,
// market and book generators: it reads the very numbers the goro program computes.
//
//   pipeline_inputs --quotes Q [--symbols 300] [--options-per-underlying 100] [--seed 1] DIR
//
// The same parameters as stats_pipeline's, with its seed rule: the universe, the book and the
// market are all seeded with --seed (main.cpp sets cfg.seed = seed). DIR (created if missing)
// receives three binary files. Every number is little-endian; a double is its IEEE-754 bit
// pattern as a u64, so it reads back bit for bit.
//
//   book.bin   "GOROBOOK", u64 options n, u64 underlyings, u64 sector_count, f64 rate,
//              u32[n] underlying, u8[n] sector, u8[n] call (1 call, 0 put),
//              f64[n] strike, expiry, sigma, quantity, sig_sqrt_t, drift, disc_strike, sqrt_t
//              (the arrays of sp::book in declaration order, the precomputed ones included)
//   spots.bin  "GOROSPOT", u64 count, f64[count]: each underlying's starting price, as
//              run_pipeline's snapshot updater starts from it: the mid 0.5 * (bid + ask) of a fresh
//              qf::market(u, seed), in dollars
//   ticks.bin  "GOROTICK", u64 count Q, i64 price_scale (10^6: a price is an integer count of
//              millionths of a dollar), then Q records {u32 index, i64 bid, i64 ask}: the ticks
//              run_pipeline's quote source draws (qf::market(u, seed).next(), Q times). The
//              updater's mid is 0.5 * (bid / scale + ask / scale), as qf::fix::to_double computes
//              it; the ticks are written as integers, the exact values the market produced.
//
// Also DIR/inputs.txt: the parameters, for whoever looks at the directory.
#include "stats_pipeline.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <bit>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace {

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "pipeline_inputs: %s\n"
               "usage: pipeline_inputs --quotes Q [--symbols S] [--options-per-underlying K] [--seed X] DIR\n",
               why.c_str());
  std::exit(2);
}

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "pipeline_inputs: %s\n", why.c_str());
  std::exit(1);
}

unsigned long long number(const char* s) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (!*s || *end || errno || s[0] == '-') usage(std::string("'") + s + "' is not a whole number");
  return v;
}

// A little-endian binary file, written through a buffer of about 1 MiB.
class writer {
 public:
  explicit writer(const std::filesystem::path& p) : path_(p.string()), f_(std::fopen(path_.c_str(), "wb")) {
    if (!f_) fail("cannot create " + path_ + ": " + std::strerror(errno));
    buf_.reserve(flush_at + 64);
  }
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() {
    if (f_) std::fclose(f_);
  }

  void magic(const char (&m)[9]) { buf_.insert(buf_.end(), m, m + 8); }
  void u8(std::uint8_t v) { put(v, 1); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void i64(std::int64_t v) { put(static_cast<std::uint64_t>(v), 8); }
  void f64(double v) { put(std::bit_cast<std::uint64_t>(v), 8); }

  template <class T, class F>
  void array(std::span<const T> v, F each) {
    for (const T& x : v) (this->*each)(x);
  }

  // Flushes and closes; fails loudly if any write did not reach the file.
  void close() {
    flush();
    const int rc = std::fclose(f_);
    f_ = nullptr;
    if (rc != 0) fail("cannot write " + path_ + ": " + std::strerror(errno));
  }

 private:
  static constexpr std::size_t flush_at = 1 << 20;

  void put(std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) buf_.push_back(static_cast<unsigned char>(v >> (8 * i)));
    if (buf_.size() >= flush_at) flush();
  }
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size())
      fail("cannot write " + path_ + ": " + std::strerror(errno));
    buf_.clear();
  }

  std::string path_;
  std::FILE* f_;
  std::vector<unsigned char> buf_;
};

}  // namespace

int main(int argc, char** argv) {
  unsigned long long quotes = 0, symbols = qf::universe::default_size, per_underlying = 100, seed = 1;
  bool have_quotes = false;
  const char* dir = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quotes" && i + 1 < argc) {
      quotes = number(argv[++i]);
      have_quotes = true;
    } else if (a == "--symbols" && i + 1 < argc) {
      symbols = number(argv[++i]);
    } else if (a == "--options-per-underlying" && i + 1 < argc) {
      per_underlying = number(argv[++i]);
    } else if (a == "--seed" && i + 1 < argc) {
      seed = number(argv[++i]);
    } else if (argv[i][0] != '-' && !dir) {
      dir = argv[i];
    } else {
      usage("unexpected argument '" + a + "'");
    }
  }
  if (!have_quotes) usage("--quotes is required");
  if (!dir) usage("DIR is required");
  if (symbols < 1 || symbols > qf::universe::max_size) usage("--symbols is out of range");
  if (per_underlying < 1) usage("--options-per-underlying must be at least 1");

  // As stats_pipeline's main.cpp: one seed for the universe, the book and the market.
  const qf::universe u(symbols, seed);
  const sp::book b = sp::make_book(u, per_underlying, seed);

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(std::string("cannot create ") + dir + ": " + ec.message());
  const std::filesystem::path d(dir);

  {
    writer w(d / "book.bin");
    w.magic("GOROBOOK");
    w.u64(b.size());
    w.u64(b.underlyings);
    w.u64(qf::sector_count);
    w.f64(b.rate);
    w.array(std::span<const std::uint32_t>(b.underlying), &writer::u32);
    w.array(std::span<const std::uint8_t>(b.sector), &writer::u8);
    w.array(std::span<const std::uint8_t>(b.call), &writer::u8);
    for (const std::vector<double>* v :
         {&b.strike, &b.expiry, &b.sigma, &b.quantity, &b.sig_sqrt_t, &b.drift, &b.disc_strike, &b.sqrt_t})
      w.array(std::span<const double>(*v), &writer::f64);
    w.close();
  }
  {
    // The snapshot updater's starting prices: stats_pipeline.cpp's initial_spots(u, cfg.seed)
    // (internal to that file), the same expression over a fresh market.
    const qf::market m(u, seed);
    writer w(d / "spots.bin");
    w.magic("GOROSPOT");
    w.u64(u.size());
    for (std::size_t i = 0; i < u.size(); ++i)
      w.f64(0.5 * (qf::fix::to_double(m.bid(i)) + qf::fix::to_double(m.ask(i))));
    w.close();
  }
  {
    // The quote source's ticks: a second fresh market with the same seed, as run_pipeline's
    // source makes its own.
    qf::market m(u, seed);
    writer w(d / "ticks.bin");
    w.magic("GOROTICK");
    w.u64(quotes);
    w.i64(qf::fix::price_scale);
    for (unsigned long long k = 0; k < quotes; ++k) {
      const qf::market::tick t = m.next();
      w.u32(t.index);
      w.i64(t.bid);
      w.i64(t.ask);
    }
    w.close();
  }
  {
    std::FILE* f = std::fopen((d / "inputs.txt").c_str(), "w");
    if (!f) fail("cannot create " + (d / "inputs.txt").string());
    std::fprintf(f, "quotes %llu\nsymbols %llu\noptions_per_underlying %llu\nseed %llu\noptions %zu\n", quotes,
                 symbols, per_underlying, seed, b.size());
    if (std::fclose(f) != 0) fail("cannot write " + (d / "inputs.txt").string());
  }
  return 0;
}
