// goro::exec: real child processes (/bin/true, /bin/false, /bin/cat, /bin/sh, sleep): exit codes
// and signals as values, pipes on the ring, output/combined_output, a context that kills, the
// errors for missing programs and misuse. Every wait is bounded (watchdog; killed sleeps).
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "chan_support.hpp"
#include "support.hpp"

using namespace std::chrono_literals;
using goro_test::contains;
using goro_test::eventually;
using goro_test::watchdog;
using clk = std::chrono::steady_clock;

static_assert(goro::io::reader<goro::exec::pipe>);
static_assert(goro::io::writer<goro::exec::pipe>);

TEST_CASE("exec: /bin/true and /bin/false: exit status as a value") {
  watchdog wd("exec true false");
  goro::run([] {
    goro::exec::exit_status st = goro::exec::command("/bin/true").run();
    CHECK(st.success());
    CHECK(st.exited());
    CHECK(st.code == 0);
    CHECK(st.to_string() == "exit status 0");
    auto f = goro::exec::command("/bin/false");
    f.start();
    CHECK(f.pid() > 0);
    st = f.wait();
    CHECK_FALSE(st.success());
    CHECK(st.code == 1);
    CHECK(st.signal == 0);
    CHECK(st.to_string() == "exit status 1");
    // Through $PATH, with arguments.
    st = goro::exec::command("sh", "-c", "exit 7").run();
    CHECK(st.code == 7);
  });
}

TEST_CASE("exec: a signal ends the child: sh -c 'kill -TERM $$'") {
  watchdog wd("exec signal");
  goro::run([] {
    goro::exec::exit_status st = goro::exec::command("/bin/sh", "-c", "kill -TERM $$").run();
    CHECK(st.signaled());
    CHECK_FALSE(st.exited());
    CHECK(st.signal == SIGTERM);
    CHECK(st.code == -1);
    CHECK(st.to_string() == "signal: terminated");
  });
}

TEST_CASE("exec: /bin/cat through stdin_pipe and stdout_pipe") {
  watchdog wd("exec cat");
  goro::run([] {
    auto c = goro::exec::command("/bin/cat");
    goro::exec::pipe in = c.stdin_pipe();
    goro::exec::pipe out = c.stdout_pipe();
    c.start();
    // Larger than a pipe's buffer, so that writing and reading must overlap: the writer is a
    // coroutine of its own.
    std::string big(300 * 1024, 'x');
    for (std::size_t i = 0; i < big.size(); i += 997) big[i] = char('a' + i % 26);
    goro::go([&in, &big] {
      in.write_all(big);
      in.close();
    });
    std::string got = goro::io::read_all(out);
    CHECK(got.size() == big.size());
    CHECK(got == big);
    CHECK(c.wait().success());
  });
}

TEST_CASE("exec: output, combined_output, and exit_error carrying what was captured") {
  watchdog wd("exec output");
  goro::run([] {
    CHECK(goro::exec::command("/bin/sh", "-c", "echo hi; echo err >&2").output() == "hi\n");
    std::string both =
        goro::exec::command("/bin/sh", "-c", "echo out; echo err >&2").combined_output();
    CHECK(contains(both, "out\n"));
    CHECK(contains(both, "err\n"));
    try {
      (void)goro::exec::command("/bin/sh", "-c", "echo partial; echo why >&2; exit 3").output();
      FAIL("no exit_error");
    } catch (const goro::exec::exit_error& e) {
      CHECK(e.status().code == 3);
      CHECK(e.output() == "partial\n");
      CHECK(e.stderr_output() == "why\n");
      CHECK(std::string(e.what()) == "exit status 3");
    }
    // stderr much larger than a pipe buffer while stdout is read: both drained at once.
    std::string out =
        goro::exec::command("/bin/sh", "-c", "head -c 200000 /dev/zero >&2; echo done").output();
    CHECK(out == "done\n");
    // Environment and directory.
    auto e = goro::exec::command("/bin/sh", "-c", "echo $GORO_X; pwd");
    e.set_env({"GORO_X=42", "PATH=/usr/bin:/bin"});
    e.set_dir("/");
    CHECK(e.output() == "42\n/\n");
  });
}

TEST_CASE("exec: a context cancel kills the child with SIGKILL") {
  watchdog wd("exec ctx");
  goro::run([] {
    // t0 before the deadline is fixed: the deadline is 50 ms after a moment no later than t0.
    const auto t0 = clk::now();
    auto [ctx, cancel] = goro::with_timeout(goro::context(), 50ms);
    auto c = goro::exec::command(ctx, "sleep", "60");
    c.start();
    goro::exec::exit_status st = c.wait();
    CHECK(clk::now() - t0 >= 50ms);
    CHECK(clk::now() - t0 < 20s);
    CHECK(st.signal == SIGKILL);
    CHECK(st.to_string() == "signal: killed");
    CHECK(c.ctx().err() == goro::errc::deadline_exceeded);
    cancel();
    // A ctx done before start: start fails, nothing runs.
    auto [dead, kill] = goro::with_cancel(goro::context());
    kill();
    auto d = goro::exec::command(dead, "/bin/true");
    CHECK_THROWS_WITH_AS(d.start(), "exec: context canceled", goro::exec::error);
    // Cancelled while a pipe is being read: the read ends (end of file) when the child dies.
    auto [c2, cancel2] = goro::with_cancel(goro::context());
    auto s = goro::exec::command(c2, "/bin/sh", "-c", "echo started; exec sleep 60");
    goro::exec::pipe out = s.stdout_pipe();
    s.start();
    char buf[64];
    CHECK(out.read(buf, sizeof buf) == 8);  // "started\n"
    goro::go([cancel2 = cancel2]() mutable {
      goro::sleep_for(10ms);
      cancel2();
    });
    CHECK(out.read(buf, sizeof buf) == 0);
    CHECK(s.wait().signal == SIGKILL);
  });
}

TEST_CASE("exec: signal() and kill() reach the child, after wait() they are an error") {
  watchdog wd("exec signal call");
  goro::run([] {
    auto c = goro::exec::command("sleep", "60");
    CHECK_THROWS_AS(c.signal(SIGTERM), std::logic_error);  // not started
    c.start();
    // From another coroutine while this one waits.
    goro::go([&c] {
      goro::sleep_for(std::chrono::milliseconds(10));
      c.signal(SIGTERM);
    });
    goro::exec::exit_status st = c.wait();
    CHECK(st.signal == SIGTERM);
    CHECK_THROWS_WITH_AS(c.kill(), "goro::exec::cmd::signal: process already finished",
                         std::logic_error);
    auto k = goro::exec::command("sleep", "60");
    k.start();
    k.kill();
    CHECK(k.wait().signal == SIGKILL);
  });
}

TEST_CASE("exec: missing programs and misuse are clear errors") {
  watchdog wd("exec errors");
  goro::run([] {
    auto m = goro::exec::command("goro-no-such-program-xyz");
    CHECK_THROWS_WITH_AS(m.start(),
                         "exec: \"goro-no-such-program-xyz\": executable file not found in $PATH",
                         goro::exec::error);
    CHECK_THROWS_AS((void)goro::exec::look_path("goro-no-such-program-xyz"), goro::exec::error);
    CHECK(goro::exec::look_path("sh").find("/sh") != std::string::npos);
    try {
      goro::exec::command("/nonexistent/goro-prog").start();
      FAIL("started");
    } catch (const goro::exec::error& e) {
      CHECK(e.code() == std::errc::no_such_file_or_directory);
      CHECK(contains(e.what(), "fork/exec /nonexistent/goro-prog"));
    }
    auto c = goro::exec::command("/bin/true");
    CHECK_THROWS_AS(c.wait(), std::logic_error);  // not started
    (void)c.stdout_pipe();
    CHECK_THROWS_AS(c.stdout_pipe(), std::logic_error);  // twice
    c.start();
    CHECK_THROWS_AS(c.start(), std::logic_error);
    CHECK_THROWS_AS(c.stdin_pipe(), std::logic_error);  // after start
    CHECK(c.wait().success());
    CHECK_THROWS_AS(c.wait(), std::logic_error);  // twice
    // Writing to a child that has gone: broken_pipe, not a SIGPIPE for this process.
    auto t = goro::exec::command("/bin/true");
    goro::exec::pipe in = t.stdin_pipe();
    t.start();
    CHECK(t.wait().success());
    std::error_code ec;
    std::string data(1 << 16, 'z');
    in.write_all(data, ec);
    CHECK(ec == std::errc::broken_pipe);
    // Destroyed unwaited: reaped in the background (no zombie, no crash).
    {
      auto u = goro::exec::command("/bin/true");
      u.start();
    }
  });
}

TEST_CASE("exec: many children at once, and from a plain thread") {
  watchdog wd("exec many");
  goro::run([] {
    constexpr int n = 16;
    std::atomic<int> ok{0};
    goro::wait_group wg;
    wg.add(n);
    for (int i = 0; i < n; ++i)
      goro::go([&, i] {
        std::string out =
            goro::exec::command("/bin/sh", "-c", "echo " + std::to_string(i)).output();
        if (out == std::to_string(i) + "\n") ++ok;
        wg.done();
      });
    wg.wait();
    CHECK(ok.load() == n);
    std::string from_thread;
    std::atomic<bool> over{false};
    std::thread th([&] {
      from_thread = goro::exec::command("/bin/echo", "plain").output();
      over = true;
    });
    CHECK(eventually([&] { return over.load(); }));
    th.join();
    CHECK(from_thread == "plain\n");
  });
}
