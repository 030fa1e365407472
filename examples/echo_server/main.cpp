// echo_server: a TCP echo server on goro, one coroutine per connection, and a load client.
//
//   echo_server serve --addr 127.0.0.1:9000 [--max-conns 1024] [--seconds 0]
//   echo_server load  --addr 127.0.0.1:9000 [--conns 64] [--rounds 20000] [--size 64] [--timeout 60]
//   echo_server demo                   # server on 127.0.0.1:0 and a short load against it, in-process
//
// The server is the Go program everybody has written once: an accept loop that starts a
// coroutine per connection, each reading what arrives and writing it back until end of stream.
// A connection's failure (reset by the peer, ...) is reported on stderr and ends that connection
// only. The load client opens N connections, each a coroutine doing M round trips of S bytes
// (write_all, then read_full of the echo, checked), timing every round trip; it prints requests
// per second and the p50/p99/max latency. Both sides run on all cores (GOMAXPROCS to change it).
//
// Loopback only: the addresses must be 127.x.x.x, [::1] or localhost. Bounded: the server takes
// at most --max-conns connections at once (it closes the others at once) and stops after
// --seconds (0: on SIGINT or SIGTERM); the load is at most 10,000 connections of 64 KiB messages,
// and every connection fails once --timeout seconds have passed. Bad command lines: exit code 2.
#include <goro/goro.hpp>
#include <goro/runtime/net.hpp>

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

using namespace std::chrono_literals;
using goro::net::conn;
using goro::net::listener;

namespace {

using steady = std::chrono::steady_clock;

// ---- the server --------------------------------------------------------------------------------

class echo_server {
 public:
  echo_server(listener ln, std::size_t max_conns) : ln_(std::move(ln)), max_conns_(max_conns) {}

  std::string addr() const { return ln_.addr(); }

  // The accept loop: returns once the listener is closed (stop_accepting or stop).
  void serve() {
    auto backoff = 5ms;
    for (std::uint64_t id = 1;;) {
      std::error_code ec;
      conn c = ln_.accept(ec);
      if (ec == goro::errc::closed) return;
      if (ec) {
        // Out of descriptors, or a connection that died in the accept queue: the listener is
        // still usable, so wait a little and go on (as Go's http.Server does).
        std::fprintf(stderr, "echo_server: accept: %s (retrying in %lld ms)\n",
                     ec.message().c_str(), static_cast<long long>(backoff.count()));
        goro::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
        continue;
      }
      backoff = 5ms;
      accepted_.fetch_add(1, std::memory_order_relaxed);
      if (active_.load(std::memory_order_relaxed) >= max_conns_) {
        refused_.fetch_add(1, std::memory_order_relaxed);
        std::fprintf(stderr, "echo_server: %s: refused, %zu connections already open\n",
                     c.remote_addr().c_str(), max_conns_);
        continue;  // c's destructor closes it
      }
      active_.fetch_add(1, std::memory_order_relaxed);
      wg_.add(1);
      // The connection moves into its coroutine; `this` outlives it (wait() below).
      goro::go(goro::spawn_options{.name = "echo conn"},
               [this, id](conn c) { handle(std::move(c), id); }, std::move(c));
      ++id;
    }
  }

  // No new connections; those open go on until their clients close them.
  void stop_accepting() noexcept { ln_.close(); }

  // No new connections, and every open one is closed: their coroutines end at once.
  void stop() {
    ln_.close();
    std::lock_guard lk(mu_);
    stopping_ = true;
    for (auto& [id, c] : open_) c->close();  // safe while their coroutines are reading
  }

  // Waits for every connection's coroutine to end.
  void wait() { wg_.wait(); }
  std::int64_t open_connections() const noexcept { return wg_.count(); }

  void print_stats(std::FILE* f) const {
    std::fprintf(f,
                 "echo_server: %llu connections accepted (%llu refused), %llu bytes echoed, %llu "
                 "connection errors\n",
                 (unsigned long long)accepted_.load(), (unsigned long long)refused_.load(),
                 (unsigned long long)bytes_.load(), (unsigned long long)errors_.load());
  }
  std::uint64_t errors() const noexcept { return errors_.load(); }

 private:
  // One connection's coroutine: echo until end of stream or an error.
  void handle(conn c, std::uint64_t id) {
    const std::string peer = c.remote_addr();
    bool registered = false;
    {
      std::lock_guard lk(mu_);
      if (!stopping_) {
        open_.emplace(id, &c);
        registered = true;
      }
    }
    std::error_code ec;
    const char* op = "read";
    if (registered) {
      try {
        echo(c, ec, op);
      } catch (const std::exception& e) {  // std::bad_alloc from a std::string, say
        std::fprintf(stderr, "echo_server: connection %llu (%s): %s\n", (unsigned long long)id,
                     peer.c_str(), e.what());
        errors_.fetch_add(1, std::memory_order_relaxed);
      }
      std::lock_guard lk(mu_);
      open_.erase(id);
    }
    // A connection closed by stop() is no error of the connection's.
    if (ec && !(ec == goro::errc::closed && is_stopping())) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      std::fprintf(stderr, "echo_server: connection %llu (%s): %s: %s\n", (unsigned long long)id,
                   peer.c_str(), op, ec.message().c_str());
    }
    c.close();
    active_.fetch_sub(1, std::memory_order_relaxed);
    wg_.done();
  }

  void echo(conn& c, std::error_code& ec, const char*& op) {
    char buf[16 * 1024];  // on the coroutine's stack (256 KiB of address space, committed lazily)
    for (;;) {
      op = "read";
      const std::size_t n = c.read(buf, sizeof buf, ec);
      if (ec || n == 0) return;  // n == 0: the client shut down its side
      op = "write";
      c.write_all(buf, n, ec);
      if (ec) return;
      bytes_.fetch_add(n, std::memory_order_relaxed);
    }
  }

  bool is_stopping() {
    std::lock_guard lk(mu_);
    return stopping_;
  }

  listener ln_;
  const std::size_t max_conns_;
  goro::wait_group wg_;
  goro::mutex mu_;  // guards open_ and stopping_
  std::unordered_map<std::uint64_t, conn*> open_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> accepted_{0}, refused_{0}, bytes_{0}, errors_{0}, active_{0};
};

// ---- the load client ---------------------------------------------------------------------------

struct load_params {
  std::string addr;
  unsigned conns = 64;
  std::uint64_t rounds = 20000;
  std::size_t size = 64;
  unsigned timeout_s = 60;
};

// The p-th percentile of sorted values, nearest rank.
std::int64_t percentile(const std::vector<std::int64_t>& sorted, unsigned p) {
  const std::size_t rank = (static_cast<std::size_t>(p) * sorted.size() + 99) / 100;
  return sorted[rank == 0 ? 0 : rank - 1];
}

// Runs the load; prints the results on stdout and each connection's failure on stderr. Returns
// the number of connections that failed.
unsigned run_load(const load_params& p) {
  const std::uint64_t rounds = p.rounds;
  std::vector<std::int64_t> lat(static_cast<std::size_t>(p.conns) * rounds);  // ns, per round trip
  std::vector<std::uint64_t> completed(p.conns, 0);
  std::atomic<unsigned> failed{0};
  goro::wait_group ready, finished;
  goro::chan<int> start;  // closed to start every connection at once
  const auto deadline = steady::now() + std::chrono::seconds(p.timeout_s);

  // Everything a client coroutine uses outlives it: run_load waits for all of them.
  auto client = [&, start](unsigned i) mutable {
    struct on_exit {
      goro::wait_group& wg;
      ~on_exit() { wg.done(); }  // last: after the connection is closed
    } finish{finished};
    auto fail = [&](const std::string& what, std::error_code ec) {
      std::fprintf(stderr, "echo_server load: connection %u: %s: %s\n", i, what.c_str(),
                   ec.message().c_str());
      failed.fetch_add(1, std::memory_order_relaxed);
    };
    std::error_code ec;
    conn c = goro::net::dial(p.addr, ec);
    ready.done();
    start.recv();  // returns once start is closed
    if (ec) return fail("dial", ec);
    c.set_deadline(deadline);
    std::vector<char> out(p.size), in(p.size);
    for (std::size_t k = 0; k < p.size; ++k) out[k] = static_cast<char>('a' + (i + k) % 26);
    std::int64_t* my = lat.data() + static_cast<std::size_t>(i) * rounds;
    for (std::uint64_t r = 0; r < rounds; ++r) {
      // Every message differs (connection and round in its first bytes) so a misrouted or stale
      // echo cannot pass the check.
      const std::uint64_t tag = (std::uint64_t(i) << 40) | r;
      std::memcpy(out.data(), &tag, std::min(sizeof tag, p.size));
      const auto t0 = steady::now();
      c.write_all(out.data(), p.size, ec);
      if (ec) return fail("write", ec);
      c.read_full(in.data(), p.size, ec);
      if (ec) return fail("read", ec);
      my[r] = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - t0).count();
      if (std::memcmp(in.data(), out.data(), p.size) != 0)
        return fail("round " + std::to_string(r), std::make_error_code(std::errc::bad_message));
      completed[i] = r + 1;
    }
  };

  std::printf("echo_server load: %u connections x %llu round trips of %zu bytes to %s\n", p.conns,
              (unsigned long long)rounds, p.size, p.addr.c_str());
  std::fflush(stdout);
  ready.add(p.conns);
  finished.add(p.conns);
  for (unsigned i = 0; i < p.conns; ++i) goro::go(goro::spawn_options{.name = "echo client"}, client, i);
  ready.wait();  // every connection dialled (or failed to): the clock starts now
  const auto t0 = steady::now();
  start.close();
  finished.wait();
  const double wall_s = std::chrono::duration<double>(steady::now() - t0).count();

  std::vector<std::int64_t> all;
  for (unsigned i = 0; i < p.conns; ++i) {
    const std::int64_t* my = lat.data() + static_cast<std::size_t>(i) * rounds;
    all.insert(all.end(), my, my + completed[i]);
  }
  std::sort(all.begin(), all.end());
  if (all.empty()) {
    std::printf("  no round trip completed\n");
  } else {
    std::printf("  %zu round trips in %.3f s: %.0f requests/s\n", all.size(), wall_s,
                double(all.size()) / wall_s);
    std::printf("  latency p50 %.1f us, p99 %.1f us, max %.1f us\n", percentile(all, 50) / 1e3,
                percentile(all, 99) / 1e3, all.back() / 1e3);
  }
  const unsigned nfailed = failed.load();
  if (nfailed) std::printf("  %u of %u connections failed\n", nfailed, p.conns);
  std::fflush(stdout);
  return nfailed;
}

// ---- the command line ----------------------------------------------------------------------------

const char usage_text[] =
    "usage: echo_server serve --addr HOST:PORT [--max-conns N] [--seconds S]\n"
    "       echo_server load  --addr HOST:PORT [--conns N] [--rounds M] [--size BYTES] [--timeout S]\n"
    "       echo_server demo\n"
    "HOST must be a loopback address: 127.x.x.x, [::1] or localhost. Defaults: --max-conns 1024,\n"
    "--seconds 0 (serve until SIGINT/SIGTERM), --conns 64 (1-10000), --rounds 20000, --size 64\n"
    "(1-65536), --timeout 60 (seconds; the load fails past it); --conns x --rounds at most\n"
    "20,000,000.\n";

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "echo_server: %s\n", why.c_str());
  std::fputs(usage_text, stderr);
  std::exit(2);
}

// "host:port" with a loopback host; for `load`, a port other than 0.
bool loopback_address(std::string_view a, bool need_port) {
  const auto colon = a.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string host(a.substr(0, colon));
  const std::string_view port = a.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return false;
  const long pv = std::strtol(std::string(port).c_str(), nullptr, 10);
  if (pv > 65535 || (need_port && pv == 0)) return false;
  if (host == "localhost") return true;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    in6_addr a6{};
    return ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&a6);
  }
  in_addr a4{};
  return ::inet_pton(AF_INET, host.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

std::uint64_t number(const std::string& opt, const char* s, std::uint64_t lo, std::uint64_t hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi)
    usage(opt + " takes a number from " + std::to_string(lo) + " to " + std::to_string(hi) +
          ", not '" + s + "'");
  return v;
}

struct command {
  std::string mode;
  std::string addr;
  std::size_t max_conns = 1024;
  unsigned seconds = 0;
  load_params load;
};

command parse(int argc, char** argv) {
  if (argc < 2) usage("");
  command cmd;
  cmd.mode = argv[1];
  if (cmd.mode == "-h" || cmd.mode == "--help" || cmd.mode == "help") {
    std::fputs(usage_text, stdout);
    std::exit(0);
  }
  if (cmd.mode != "serve" && cmd.mode != "load" && cmd.mode != "demo")
    usage("unknown mode '" + cmd.mode + "'");
  for (int k = 2; k < argc; ++k) {
    const std::string opt = argv[k];
    const bool serve = cmd.mode == "serve", load = cmd.mode == "load";
    const bool known = (opt == "--addr" && (serve || load)) ||
                       ((opt == "--max-conns" || opt == "--seconds") && serve) ||
                       ((opt == "--conns" || opt == "--rounds" || opt == "--size" ||
                         opt == "--timeout") && load);
    if (!known) usage("unknown option '" + opt + "' for " + cmd.mode);
    if (k + 1 >= argc) usage(opt + " needs a value");
    const char* v = argv[++k];
    if (opt == "--addr") cmd.addr = v;
    else if (opt == "--max-conns") cmd.max_conns = number(opt, v, 1, 100000);
    else if (opt == "--seconds") cmd.seconds = static_cast<unsigned>(number(opt, v, 0, 86400));
    else if (opt == "--conns") cmd.load.conns = static_cast<unsigned>(number(opt, v, 1, 10000));
    else if (opt == "--rounds") cmd.load.rounds = number(opt, v, 1, 100000000);
    else if (opt == "--size") cmd.load.size = number(opt, v, 1, 65536);
    else if (opt == "--timeout") cmd.load.timeout_s = static_cast<unsigned>(number(opt, v, 1, 3600));
  }
  if (cmd.mode != "demo") {
    if (cmd.addr.empty()) usage(cmd.mode + " needs --addr");
    if (!loopback_address(cmd.addr, cmd.mode == "load"))
      usage("--addr must be a loopback HOST:PORT (127.0.0.1:9000, [::1]:9000, localhost:9000), "
            "not '" + cmd.addr + "'");
  }
  // The latencies are kept in memory: 8 bytes a round trip.
  if (cmd.mode == "load" && std::uint64_t(cmd.load.conns) * cmd.load.rounds > 20000000)
    usage("--conns x --rounds must be at most 20,000,000");
  cmd.load.addr = cmd.addr;
  return cmd;
}

int serve_main(const command& cmd) {
  std::error_code ec;
  listener ln = goro::net::listen(cmd.addr, ec);
  if (ec) {
    std::fprintf(stderr, "echo_server: listen %s: %s\n", cmd.addr.c_str(), ec.message().c_str());
    return 1;
  }
  echo_server srv(std::move(ln), cmd.max_conns);
  std::printf("echo_server: serving on %s (%u worker(s))%s\n", srv.addr().c_str(),
              goro::workers(),
              cmd.seconds ? (", for " + std::to_string(cmd.seconds) + " s").c_str() : "");
  std::fflush(stdout);
  // SIGINT/SIGTERM are blocked on every thread (main blocked them before goro::run): one thread
  // of the blocking pool waits for them, as Go's signal.Notify would, and stops the server.
  std::atomic<bool> served{false};
  auto signals = goro::spawn([&srv, &served] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    goro::blocking([&] { return ::sigwait(&set, &sig); });
    if (served.load()) return;  // our own SIGTERM, below
    std::fprintf(stderr, "echo_server: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv.stop();
  });
  if (cmd.seconds) {
    const unsigned s = cmd.seconds;
    goro::go([&srv, s] {
      goro::sleep_for(std::chrono::seconds(s));
      srv.stop();
    });
  }
  srv.serve();  // until stop()
  srv.wait();
  srv.print_stats(stdout);
  // Stopped by the timer: end the signal wait (its job lives on that coroutine's stack) with a
  // SIGTERM of our own, still blocked everywhere, so that sigwait takes it.
  served.store(true);
  if (!signals.done()) ::kill(::getpid(), SIGTERM);
  signals.get();
  // The timer's coroutine, if the signal came first, is abandoned when main returns.
  return 0;
}

int load_main(const command& cmd) { return run_load(cmd.load) == 0 ? 0 : 1; }

// demo: the server on 127.0.0.1:0, a load against it, a client that resets its connection (the
// server reports it and goes on), a second load with bigger messages, then a clean shutdown.
int demo_main() {
  echo_server srv(goro::net::listen("127.0.0.1:0"), 1024);
  std::printf("echo_server demo: serving on %s (%u worker(s))\n", srv.addr().c_str(),
              goro::workers());
  std::fflush(stdout);
  auto acceptor = goro::spawn([&srv] { srv.serve(); });
  int rc = 0;

  load_params p;
  p.addr = srv.addr();
  p.conns = 16, p.rounds = 2000, p.size = 64, p.timeout_s = 30;
  if (run_load(p) != 0) rc = 1;

  std::printf("echo_server demo: a client resets its connection; the server reports it on "
              "stderr and goes on\n");
  std::fflush(stdout);
  {
    std::error_code ec;
    conn c = goro::net::dial(srv.addr(), ec);
    char buf[5];
    if (!ec) c.set_deadline(steady::now() + 10s);
    if (!ec) c.write_all("hello", 5, ec);
    if (!ec) c.read_full(buf, 5, ec);  // the server's coroutine is in its loop now
    if (ec) {
      std::fprintf(stderr, "echo_server demo: reset client: %s\n", ec.message().c_str());
      rc = 1;
    } else {
      // SO_LINGER with a zero timeout: close() sends a RST instead of a FIN.
      linger lg{1, 0};
      ::setsockopt(c.native_handle(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      c.close();
    }
  }

  p.conns = 4, p.rounds = 500, p.size = 4096;
  if (run_load(p) != 0) rc = 1;

  srv.stop_accepting();
  acceptor.get();
  // Every client has closed its connection: the server's coroutines end on their own. Bounded:
  // anything still open after 10 s is closed.
  auto waiter = goro::spawn([&srv] { srv.wait(); });
  for (int k = 0; k < 1000 && !waiter.done(); ++k) goro::sleep_for(10ms);
  if (!waiter.done()) {
    std::fprintf(stderr, "echo_server demo: %lld connection(s) still open 10 s after the clients "
                 "closed them\n", static_cast<long long>(srv.open_connections()));
    srv.stop();
    rc = 1;
  }
  waiter.get();
  srv.print_stats(stdout);
  if (srv.errors() != 1) {
    std::fprintf(stderr, "echo_server demo: the server reported %llu connection errors, want 1 "
                 "(the reset)\n", (unsigned long long)srv.errors());
    rc = 1;
  }
  std::printf("echo_server demo: %s\n", rc == 0 ? "ok" : "FAILED");
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  const command cmd = parse(argc, argv);
  if (cmd.mode == "serve") {
    // Before goro::run, so that every worker and pool thread inherits the mask (see serve_main).
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }
  try {
    return goro::run([&cmd] {
      if (cmd.mode == "serve") return serve_main(cmd);
      if (cmd.mode == "load") return load_main(cmd);
      return demo_main();
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
  }
}
