// quote_fanout: the market-quote fanout demo (the README's main job).
//
//   quote_fanout [--duration 10] [--symbols 300] [--rate 50000] [--consumers 4] [--seed 1]
//                [--connect HOST:PORT] [--json]
//
// Without --connect it starts the exchange simulator in-process on a loopback port and connects
// to it; with --connect it uses an external FIX 4.4 feed (fix_exchange, or anything that speaks
// the same dialect: --symbols and --seed must then match its universe). The client (fanout.hpp)
// parses each quote once and shares it with a coroutine per security, per sector, the index and
// --consumers decision makers that send orders back over the same session.
//
// While it runs: a live view refreshed every second (redrawn in place on a terminal, a line per
// second otherwise); at the end a summary, or with --json a machine-readable one on stdout (the
// per-second lines then go to stderr). SIGINT/SIGTERM end the run early, with the summary.
// Exit codes: 0 done, 1 the session failed (refused connection, lost feed), 2 bad command line.
#include "cli.hpp"
#include "exchange.hpp"
#include "fanout.hpp"
#include "stop_signals.hpp"

#include <goro/goro.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;
namespace fo = qf::fanout;

namespace {

const char usage_text[] =
    "usage: quote_fanout [--duration SECONDS] [--symbols N] [--rate QUOTES_PER_S] [--consumers N]\n"
    "                    [--seed S] [--connect HOST:PORT] [--json]\n"
    "  --duration   how long to run (default 10; 0: until SIGINT/SIGTERM)\n"
    "  --symbols    symbols in the universe (default 300, 1-10000)\n"
    "  --rate       quotes a second from the embedded exchange (default 50000; 0: as fast as we read)\n"
    "  --consumers  decision makers, each watching 1/N of the securities (default 4; 0: none)\n"
    "  --seed       universe and market seed (default 1)\n"
    "  --connect    an external FIX 4.4 exchange instead of the embedded one\n"
    "  --json       a machine-readable summary on stdout (the live lines go to stderr)\n";

using qf::cli::number;
using qf::cli::usage;

struct command {
  double duration_s = 10;
  std::size_t symbols = qf::universe::default_size;
  double rate = 50000;
  std::size_t consumers = 4;
  std::uint64_t seed = 1;
  std::string connect;
  bool json = false;
};

command parse(int argc, char** argv) {
  qf::cli::set_program("quote_fanout", usage_text);
  command c;
  for (int k = 1; k < argc; ++k) {
    const std::string opt = argv[k];
    if (opt == "-h" || opt == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    }
    if (opt == "--json") {
      c.json = true;
      continue;
    }
    if (opt != "--duration" && opt != "--symbols" && opt != "--rate" && opt != "--consumers" &&
        opt != "--seed" && opt != "--connect")
      usage("unknown option '" + opt + "'");
    if (k + 1 >= argc) usage(opt + " needs a value");
    const char* v = argv[++k];
    if (opt == "--duration") c.duration_s = number(opt, v, 0, 86400 * 365.0);
    if (opt == "--symbols") c.symbols = static_cast<std::size_t>(number(opt, v, 1, qf::universe::max_size));
    if (opt == "--rate") c.rate = number(opt, v, 0, 1e9);
    if (opt == "--consumers") c.consumers = static_cast<std::size_t>(number(opt, v, 0, 1000));
    if (opt == "--seed") c.seed = static_cast<std::uint64_t>(number(opt, v, 0, 1e15));
    if (opt == "--connect") {
      c.connect = v;
      if (c.connect.find(':') == std::string::npos) usage("--connect takes HOST:PORT, not '" + c.connect + "'");
    }
  }
  return c;
}

// ---- formatting ---------------------------------------------------------------------------------

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// 1234567 -> "1,234,567"
std::string grouped(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::string micros(std::int64_t ns) {
  if (ns < 10'000) return fmt("%.1f µs", static_cast<double>(ns) / 1e3);
  if (ns < 10'000'000) return fmt("%.0f µs", static_cast<double>(ns) / 1e3);
  return fmt("%.0f ms", static_cast<double>(ns) / 1e6);
}

std::string latency_row(const char* name, const fo::latency_histogram& h) {
  if (h.count == 0) return fmt("   %-10s %10s\n", name, "-");
  return fmt("   %-10s %10s %10s %10s %10s %10s\n", name, grouped(h.count).c_str(),
             micros(h.quantile_ns(0.5)).c_str(), micros(h.quantile_ns(0.99)).c_str(),
             micros(h.quantile_ns(0.999)).c_str(), micros(h.max_ns).c_str());
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::uint64_t max_rss_bytes() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;
}

fo::latency_histogram all_statistics(const fo::latency_histogram& a, const fo::latency_histogram& b,
                                     const fo::latency_histogram& c) {
  fo::latency_histogram h = a;
  h.merge(b);
  h.merge(c);
  return h;
}

const char* const watched[] = {"AAPL", "GOOG", "BP", "XOM"};

struct frame_info {
  std::string source;      // "embedded exchange 127.0.0.1:40123" or "127.0.0.1:9878"
  double elapsed_s = 0, duration_s = 0;
  unsigned workers = 0;
  double cpu_share = 0;    // CPU seconds over wall seconds in the last second
};

// The live view: cumulative counters, rates and latencies over the last second.
std::string render(const fo::client& cl, const fo::live_snapshot& now, const fo::live_snapshot& prev,
                   double dt, const frame_info& fi) {
  std::string s;
  s += fmt("goro quote fanout · %s · %zu symbols · %u workers · %.0f s", fi.source.c_str(), cl.symbols().size(),
           fi.workers, fi.elapsed_s);
  s += fi.duration_s > 0 ? fmt(" of %.0f\n", fi.duration_s) : std::string("\n");
  const std::uint64_t dq = now.quotes - prev.quotes;
  s += fmt(" feed      %9s quotes/s   %s quotes, each parsed once   errors %s   cpu %.0f%% of a core\n",
           grouped(static_cast<std::uint64_t>(static_cast<double>(dq) / dt)).c_str(), grouped(now.quotes).c_str(),
           grouped(now.errors + now.unknown_symbols).c_str(), fi.cpu_share * 100);
  s += fmt(" dropped   security %s · sector %s · index %s · decision %s  (a full consumer drops; the others go on)\n",
           grouped(now.security_drops).c_str(), grouped(now.sector_drops).c_str(), grouped(now.index_drops).c_str(),
           grouped(now.decision_drops).c_str());
  s += fmt(" index     %.3f  (%+.3f%% since the start)\n", now.index, now.index - 100);
  s += fmt(" latency   arrival → statistic updated, last second\n   %-10s %10s %10s %10s %10s %10s\n", "consumer",
           "updates", "p50", "p99", "p99.9", "max");
  s += latency_row("security", now.security_latency.since(prev.security_latency));
  s += latency_row("sector", now.sector_latency.since(prev.sector_latency));
  s += latency_row("index", now.index_latency.since(prev.index_latency));
  s += latency_row("decision", now.decision_latency.since(prev.decision_latency));
  s += " sectors   volatility of one-quote log returns, rolling, in basis points\n";
  for (std::size_t k = 0; k < qf::sector_count; k += 2) {
    const std::string_view a = qf::to_string(static_cast<qf::sector>(k));
    s += fmt("   %-24.*s %7.3f", static_cast<int>(a.size()), a.data(), now.volatility[k] * 1e4);
    if (k + 1 < qf::sector_count) {
      const std::string_view b = qf::to_string(static_cast<qf::sector>(k + 1));
      s += fmt("     %-24.*s %7.3f", static_cast<int>(b.size()), b.data(), now.volatility[k + 1] * 1e4);
    }
    s += "\n";
  }
  s += " watch    ";
  for (const char* w : watched) {
    if (const std::optional<std::size_t> i = cl.symbols().find(std::string_view(w))) {
      const fo::security_view v = cl.security(*i);
      s += fmt(" %s %.2f/%.2f (ewma %.2f)", w, v.bid, v.ask, v.ewma);
    }
  }
  s += "\n";
  const fo::latency_histogram rt = now.order_round_trip.since(prev.order_round_trip);
  s += fmt(" orders    sent %s · filled %s · rejected %s · round trip p50 %s p99 %s · P&L $%.2f\n",
           grouped(now.orders.sent).c_str(), grouped(now.orders.fills).c_str(), grouped(now.orders.rejects).c_str(),
           rt.count ? micros(rt.quantile_ns(0.5)).c_str() : "-", rt.count ? micros(rt.quantile_ns(0.99)).c_str() : "-",
           now.orders.pnl);
  return s;
}

// One line a second, for logs and pipes.
std::string render_line(const fo::live_snapshot& now, const fo::live_snapshot& prev, double dt, const frame_info& fi) {
  const fo::latency_histogram h = all_statistics(now.security_latency.since(prev.security_latency),
                                                 now.sector_latency.since(prev.sector_latency),
                                                 now.index_latency.since(prev.index_latency));
  return fmt("t=%3.0fs  %s quotes/s  index %.3f  p99 arrival→update %s  orders %s/%s filled  drops %s\n", fi.elapsed_s,
             grouped(static_cast<std::uint64_t>(static_cast<double>(now.quotes - prev.quotes) / dt)).c_str(), now.index,
             micros(h.quantile_ns(0.99)).c_str(), grouped(now.orders.fills).c_str(), grouped(now.orders.sent).c_str(),
             grouped(now.security_drops + now.sector_drops + now.index_drops + now.decision_drops).c_str());
}

// A JSON string's contents: quotes, backslashes and control characters escaped.
std::string json_escape(std::string_view in) {
  std::string out;
  for (const char ch : in) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt("\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
    } else {
      out += ch;
    }
  }
  return out;
}

std::string json_latency(const fo::latency_histogram& h) {
  return fmt("{\"count\":%" PRIu64 ",\"mean\":%.0f,\"p50\":%" PRId64 ",\"p90\":%" PRId64 ",\"p99\":%" PRId64
             ",\"p999\":%" PRId64 ",\"max\":%" PRId64 "}",
             h.count, h.mean_ns(), h.quantile_ns(0.5), h.quantile_ns(0.9), h.quantile_ns(0.99), h.quantile_ns(0.999),
             h.max_ns);
}

struct run_summary {
  fo::result r;
  double seconds = 0, cpu_s = 0;
  unsigned workers = 0;
  std::string source;
  std::optional<qf::exchange_stats> ex;
};

void print_json(const command& cmd, const run_summary& s) {
  const fo::result& r = s.r;
  std::string o = "{";
  o += fmt("\"source\":\"%s\",\"symbols\":%zu,\"rate\":%.0f,\"consumers\":%zu,\"workers\":%u,\"seconds\":%.3f,",
           cmd.connect.empty() ? "embedded" : json_escape(cmd.connect).c_str(), cmd.symbols, cmd.rate, cmd.consumers, s.workers,
           s.seconds);
  o += fmt("\"quotes\":%" PRIu64 ",\"quotes_per_s\":%.0f,\"frames\":%" PRIu64 ",\"parse_calls\":%" PRIu64
           ",\"quote_decodes\":%" PRIu64 ",\"unknown_symbols\":%" PRIu64 ",",
           r.quotes_received, s.seconds > 0 ? static_cast<double>(r.quotes_received) / s.seconds : 0, r.frames,
           r.parse_calls, r.quote_decodes, r.unknown_symbols);
  o += fmt("\"errors\":{\"total\":%" PRIu64, r.errors.total());
  for (std::size_t e = 1; e < qf::fix::errc_count; ++e) {
    const auto code = static_cast<qf::fix::errc>(e);
    o += fmt(",\"%s\":%" PRIu64, qf::fix::to_string(code), r.errors[code]);
  }
  o += "},";
  o += fmt("\"drops\":{\"security\":%" PRIu64 ",\"sector\":%" PRIu64 ",\"index\":%" PRIu64 ",\"decision\":%" PRIu64 "},",
           r.security_drops, r.sector_drops, r.index_drops, r.decision_drops);
  o += "\"latency_ns\":{\"security\":" + json_latency(r.security_latency) + ",\"sector\":" +
       json_latency(r.sector_latency) + ",\"index\":" + json_latency(r.index_latency) +
       ",\"decision\":" + json_latency(r.decision_latency) + ",\"all_statistics\":" +
       json_latency(all_statistics(r.security_latency, r.sector_latency, r.index_latency)) + "},";
  o += fmt("\"index\":%.6f,\"sector_volatility\":{", r.index.value);
  for (std::size_t k = 0; k < qf::sector_count; ++k) {
    const std::string_view n = qf::to_string(static_cast<qf::sector>(k));
    o += fmt("%s\"%.*s\":%.9g", k ? "," : "", static_cast<int>(n.size()), n.data(), r.sectors[k].volatility);
  }
  o += "},";
  o += fmt("\"orders\":{\"sent\":%" PRIu64 ",\"fills\":%" PRIu64 ",\"rejects\":%" PRIu64 ",\"unmatched\":%" PRIu64
           ",\"gross_shares\":%" PRId64 ",\"pnl\":%.2f,\"round_trip_ns\":%s},",
           r.orders.sent, r.orders.fills, r.orders.rejects, r.orders.unmatched, r.orders.gross_shares, r.orders.pnl,
           json_latency(r.order_round_trip).c_str());
  if (s.ex)
    o += fmt("\"exchange\":{\"quotes_sent\":%" PRIu64 ",\"orders\":%" PRIu64 ",\"fills\":%" PRIu64 ",\"rejects\":%" PRIu64
             "},",
             s.ex->quotes_sent, s.ex->orders, s.ex->fills, s.ex->rejects);
  o += fmt("\"cpu_seconds\":%.3f,\"max_rss_bytes\":%" PRIu64 ",\"session\":{\"logged_on\":%s,\"logged_out\":%s,\"error\":\"%s\"}}",
           s.cpu_s, max_rss_bytes(), r.logged_on ? "true" : "false", r.logged_out ? "true" : "false", json_escape(r.error).c_str());
  std::puts(o.c_str());
}

void print_summary(const command& cmd, const run_summary& s) {
  const fo::result& r = s.r;
  std::string o = "\n";
  o += fmt("quote fanout: %.1f s from %s, %u workers\n", s.seconds, s.source.c_str(), s.workers);
  o += fmt("  quotes     %s (%s/s), each parsed once and shared by pointer with %zu coroutines\n",
           grouped(r.quotes_received).c_str(),
           grouped(static_cast<std::uint64_t>(s.seconds > 0 ? static_cast<double>(r.quotes_received) / s.seconds : 0)).c_str(),
           r.securities.size() + qf::sector_count + 1 + cmd.consumers);
  o += fmt("  errors     %s\n", r.errors.total() + r.unknown_symbols == 0
                                    ? "none"
                                    : (r.errors.summary() + fmt(", %" PRIu64 " unknown symbols", r.unknown_symbols)).c_str());
  o += fmt("  dropped    security %s, sector %s, index %s, decision %s\n", grouped(r.security_drops).c_str(),
           grouped(r.sector_drops).c_str(), grouped(r.index_drops).c_str(), grouped(r.decision_drops).c_str());
  o += fmt("  latency    arrival → statistic updated, whole run\n   %-10s %10s %10s %10s %10s %10s\n", "consumer",
           "updates", "p50", "p99", "p99.9", "max");
  o += latency_row("security", r.security_latency);
  o += latency_row("sector", r.sector_latency);
  o += latency_row("index", r.index_latency);
  o += latency_row("decision", r.decision_latency);
  const fo::latency_histogram all = all_statistics(r.security_latency, r.sector_latency, r.index_latency);
  if (all.count)
    o += fmt("  target     p99 under 100 µs (statistics, at 50,000 quotes/s): p99 %s: %s\n",
             micros(all.quantile_ns(0.99)).c_str(), all.quantile_ns(0.99) < 100'000 ? "met" : "MISSED");
  o += fmt("  index      100 → %.3f\n", r.index.value);
  o += fmt("  orders     sent %s, filled %s, rejected %s; round trip p50 %s, p99 %s; %s shares traded, P&L $%.2f\n",
           grouped(r.orders.sent).c_str(), grouped(r.orders.fills).c_str(), grouped(r.orders.rejects).c_str(),
           micros(r.order_round_trip.quantile_ns(0.5)).c_str(), micros(r.order_round_trip.quantile_ns(0.99)).c_str(),
           grouped(static_cast<std::uint64_t>(r.orders.gross_shares)).c_str(), r.orders.pnl);
  if (s.ex)
    o += fmt("  exchange   sent %s quotes, %s orders in, %s filled, %s rejected\n", grouped(s.ex->quotes_sent).c_str(),
             grouped(s.ex->orders).c_str(), grouped(s.ex->fills).c_str(), grouped(s.ex->rejects).c_str());
  o += fmt("  process    %.2f CPU s (%.0f%% of one core, exchange included), max RSS %.1f MiB\n", s.cpu_s,
           s.seconds > 0 ? 100 * s.cpu_s / s.seconds : 0, static_cast<double>(max_rss_bytes()) / (1 << 20));
  o += fmt("  session    %s%s\n", r.logged_out ? "logged out cleanly" : "ended without the exchange's Logout",
           r.error.empty() ? "" : (": " + r.error).c_str());
  std::fputs(o.c_str(), stdout);
}

int run(const command& cmd) {
  std::unique_ptr<qf::exchange> ex;
  std::string addr = cmd.connect, source = cmd.connect;
  if (addr.empty()) {
    ex = std::make_unique<qf::exchange>(qf::exchange_options{
        .listen = "127.0.0.1:0", .symbols = cmd.symbols, .seed = cmd.seed, .rate = cmd.rate});
    ex->start();
    addr = ex->addr();
    source = "embedded exchange " + addr;
  }
  fo::options o{.addr = addr, .symbols = cmd.symbols, .seed = cmd.seed};
  o.decision_makers = cmd.consumers;
  fo::client cl(o);
  try {
    cl.start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "quote_fanout: cannot connect to %s: %s\n", addr.c_str(), e.what());
    return 1;
  }

  const bool tty = ::isatty(cmd.json ? STDERR_FILENO : STDOUT_FILENO) == 1;
  std::FILE* view = cmd.json ? stderr : stdout;
  frame_info fi{source, 0, cmd.duration_s, static_cast<unsigned>(goro::stats().workers), 0};
  qf::stop_signals sig;
  goro::ticker tick(1s);
  goro::recv_chan<std::chrono::steady_clock::time_point> deadline;  // nil: never
  if (cmd.duration_s > 0)
    deadline = goro::after(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(cmd.duration_s)));
  const auto t0 = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  fo::live_snapshot prev = cl.live();
  auto prev_t = t0;
  double prev_cpu = cpu0;
  bool interrupted = false;
  for (bool running = true; running;) {
    goro::select(goro::on_recv(sig.c(), [&](auto) { running = false, interrupted = true; }),
                 goro::on_recv(deadline, [&](auto) { running = false; }),
                 goro::on_recv(tick.c(), [&](auto) {
                   const auto now_t = std::chrono::steady_clock::now();
                   const double dt = std::chrono::duration<double>(now_t - prev_t).count();
                   const double cpu = cpu_seconds();
                   const fo::live_snapshot now = cl.live();
                   fi.elapsed_s = std::chrono::duration<double>(now_t - t0).count();
                   fi.cpu_share = dt > 0 ? (cpu - prev_cpu) / dt : 0;
                   // On a terminal: home, the frame with every line cleared to its end, then
                   // clear below. Otherwise one line a second.
                   std::string frame = tty ? render(cl, now, prev, dt, fi) : render_line(now, prev, dt, fi);
                   if (tty) {
                     std::string out = "\x1b[H";
                     for (std::size_t b = 0, e; b < frame.size(); b = e + 1) {
                       e = frame.find('\n', b);
                       out.append(frame, b, e - b).append("\x1b[K\n");
                     }
                     frame = out + "\x1b[J";
                   }
                   std::fputs(frame.c_str(), view);
                   std::fflush(view);
                   prev = now;
                   prev_t = now_t;
                   prev_cpu = cpu;
                 }));
    if (cl.session_over()) running = false;  // the exchange ended it: summarise what we have
  }
  tick.stop();
  run_summary s;
  s.r = cl.stop();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  s.cpu_s = cpu_seconds() - cpu0;
  s.workers = fi.workers;
  s.source = source;
  if (ex) {
    ex->stop();
    s.ex = ex->stats();
  }
  if (interrupted) std::fprintf(stderr, "quote_fanout: interrupted, stopping\n");
  if (cmd.json)
    print_json(cmd, s);
  else
    print_summary(cmd, s);
  std::fflush(stdout);
  if (!s.r.error.empty() || !s.r.logged_on) {
    std::fprintf(stderr, "quote_fanout: the session failed: %s\n", s.r.error.empty() ? "no Logon from the exchange" : s.r.error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const command cmd = parse(argc, argv);
  return qf::cli::run_main([&cmd] { return run(cmd); });
}
