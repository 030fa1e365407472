// fix_exchange: the FIX 4.4 exchange simulator.
//
//   fix_exchange [--listen 127.0.0.1:9878] [--symbols 300] [--rate 50000] [--seed 1]
//                [--duration SECONDS] [--comp-id EXCH] [--quiet]
//
// Serves every client that logs on with quotes of the simulated market (see exchange.hpp): --rate
// quotes a second per session (0: as fast as the client reads), over --symbols symbols, prices
// and universe drawn from --seed. Runs until SIGINT or SIGTERM, or for --duration seconds (0:
// until a signal), then logs every session out, prints what it did and exits 0. A status line
// every 5 seconds on stderr (not with --quiet). Bad command lines: exit code 2.
#include "cli.hpp"
#include "exchange.hpp"
#include "stop_signals.hpp"

#include <goro/goro.hpp>

#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

using namespace std::chrono_literals;

namespace {

const char usage_text[] =
    "usage: fix_exchange [--listen HOST:PORT] [--symbols N] [--rate QUOTES_PER_S] [--seed S]\n"
    "                    [--duration SECONDS] [--comp-id ID] [--quiet]\n"
    "Defaults: --listen 127.0.0.1:9878, --symbols 300 (1-10000), --rate 50000 (per session;\n"
    "0: as fast as the client reads), --seed 1, --duration 0 (until SIGINT/SIGTERM), --comp-id EXCH.\n";

using qf::cli::number;
using qf::cli::usage;

struct command {
  qf::exchange_options ex;
  double duration_s = 0;
  bool quiet = false;
};

command parse(int argc, char** argv) {
  qf::cli::set_program("fix_exchange", usage_text);
  command cmd;
  cmd.ex.listen = "127.0.0.1:9878";
  cmd.ex.rate = 50000;
  cmd.ex.log = stderr;
  for (int k = 1; k < argc; ++k) {
    const std::string opt = argv[k];
    if (opt == "-h" || opt == "--help") {
      std::fputs(usage_text, stdout);
      std::exit(0);
    }
    if (opt == "--quiet") {
      cmd.quiet = true;
      cmd.ex.log = nullptr;
      continue;
    }
    if (opt != "--listen" && opt != "--symbols" && opt != "--rate" && opt != "--seed" &&
        opt != "--duration" && opt != "--comp-id")
      usage("unknown option '" + opt + "'");
    if (k + 1 >= argc) usage(opt + " needs a value");
    const char* v = argv[++k];
    if (opt == "--listen") {
      cmd.ex.listen = v;
    } else if (opt == "--symbols") {
      cmd.ex.symbols = static_cast<std::size_t>(number(opt, v, 1, qf::universe::max_size));
    } else if (opt == "--rate") {
      cmd.ex.rate = number(opt, v, 0, 1e9);
    } else if (opt == "--seed") {
      char* end = nullptr;
      errno = 0;
      cmd.ex.seed = std::strtoull(v, &end, 10);
      if (!*v || *end || errno || v[0] == '-') usage("--seed takes a whole number, not '" + std::string(v) + "'");
    } else if (opt == "--duration") {
      cmd.duration_s = number(opt, v, 0, 86400 * 365.0);
    } else if (opt == "--comp-id") {
      cmd.ex.comp_id = v;
      if (cmd.ex.comp_id.empty() || cmd.ex.comp_id.find('\x01') != std::string::npos)
        usage("--comp-id must be a non-empty string without SOH");
    }
  }
  return cmd;
}

void print_stats(std::FILE* f, const qf::exchange_stats& s) {
  std::fprintf(f,
               "fix_exchange: %llu sessions (%llu logged on, %llu open), %llu quotes, %llu messages "
               "sent (%.1f MB), %llu received, %llu orders (%llu filled, %llu rejected), errors: %s\n",
               (unsigned long long)s.sessions_accepted, (unsigned long long)s.sessions_logged_on,
               (unsigned long long)s.sessions_active, (unsigned long long)s.quotes_sent,
               (unsigned long long)s.messages_sent, s.bytes_sent / 1e6,
               (unsigned long long)s.messages_received, (unsigned long long)s.orders,
               (unsigned long long)s.fills, (unsigned long long)s.rejects, s.errors.summary().c_str());
  const qf::fix::session_counters& k = s.session;
  auto u = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
  std::fprintf(f,
               "fix_exchange: session: %llu gaps (%llu ResendRequests sent, %llu messages held), %llu "
               "ResendRequests received (%llu replayed, %llu gap fills), %llu duplicates ignored, %llu "
               "MsgSeqNum too low, %llu CompID errors, %llu Rejects and %llu BusinessMessageRejects sent, "
               "%llu rejects received, %llu resets, %llu heartbeats, %llu test requests, %llu slow-reader "
               "drops\n",
               u(k.gaps), u(k.resend_requests_sent), u(k.queued), u(k.resend_requests_received), u(k.replayed),
               u(k.gap_fills_sent), u(k.duplicates_ignored), u(k.seq_too_low), u(k.comp_id_errors),
               u(k.rejects_sent), u(k.business_rejects_sent), u(k.rejects_received), u(k.resets),
               u(k.heartbeats_sent), u(k.test_requests_sent), u(s.slow_reader_drops));
}

int serve(const command& cmd) {
  std::unique_ptr<qf::exchange> ex;
  try {
    ex = std::make_unique<qf::exchange>(cmd.ex);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fix_exchange: listen %s: %s\n", cmd.ex.listen.c_str(), e.what());
    return 1;
  }
  ex->start();
  std::printf("fix_exchange: listening on %s: %zu symbols, seed %llu, %s, SenderCompID %s\n",
              ex->addr().c_str(), ex->symbols().size(), (unsigned long long)cmd.ex.seed,
              cmd.ex.rate > 0 ? (std::to_string(static_cast<long long>(cmd.ex.rate)) + " quotes/s per session").c_str()
                              : "quotes as fast as each client reads",
              cmd.ex.comp_id.c_str());
  std::fflush(stdout);

  // SIGINT/SIGTERM (blocked on every thread since main) arrive on sig.c().
  qf::stop_signals sig;
  goro::ticker status(5s);
  goro::recv_chan<std::chrono::steady_clock::time_point> deadline;  // nil: never
  if (cmd.duration_s > 0)
    deadline = goro::after(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(cmd.duration_s)));
  const auto t0 = std::chrono::steady_clock::now();
  std::uint64_t last_quotes = 0;
  for (bool running = true; running;) {
    goro::select(goro::on_recv(sig.c(), [&](std::optional<int> signo) {
                   std::fprintf(stderr, "fix_exchange: %s, stopping\n", signo && *signo == SIGINT ? "SIGINT" : "SIGTERM");
                   running = false;
                 }),
                 goro::on_recv(deadline, [&](auto) { running = false; }),
                 goro::on_recv(status.c(), [&](auto) {
                   if (cmd.quiet) return;
                   const qf::exchange_stats s = ex->stats();
                   std::fprintf(stderr, "fix_exchange: %llu sessions open, %.0f quotes/s\n",
                                (unsigned long long)s.sessions_active, (s.quotes_sent - last_quotes) / 5.0);
                   last_quotes = s.quotes_sent;
                 }));
  }
  status.stop();
  ex->stop();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const qf::exchange_stats s = ex->stats();
  print_stats(stdout, s);
  std::printf("fix_exchange: ran %.1f s, %.0f quotes/s on average\n", secs, s.quotes_sent / (secs > 0 ? secs : 1));
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const command cmd = parse(argc, argv);
  return qf::cli::run_main([&cmd] { return serve(cmd); });
}
