// The lock-order checker (goro/sched/lock_rank.hpp): a deliberately inverted pair is fatal and
// names both locks; the orders the table allows pass. Each violation runs in a forked child (no
// runtime is running in this process, so forking is safe) whose exit code and stderr are checked.
// Built with GORO_LOCK_RANKS=1 only (the sanitizer and Debug builds); elsewhere the cases skip.
// The bodies break lock discipline on purpose: clang's static analysis is off for them.
#include <doctest/doctest.h>

#include <goro/sched/lock_rank.hpp>
#include <goro/sched/spin_lock.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <functional>
#include <string>

#include "mutex.hpp"

using goro::sched::lock_rank;
using goro::sched::spin_lock;

namespace {

struct child_result {
  int exit_code = -1;
  std::string err;
};

// Runs body in a child process with stderr captured.
child_result in_child(const std::function<void()>& body) {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(p[1], 2);
    ::close(p[0]);
    body();
    ::_exit(0);
  }
  ::close(p[1]);
  child_result r;
  char buf[512];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) r.err.append(buf, static_cast<std::size_t>(n));
  ::close(p[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace

TEST_CASE("lock ranks: an inverted pair of spin_locks is fatal and names both" *
          doctest::skip(!GORO_LOCK_RANKS)) {
  auto r = in_child([]() GORO_NO_THREAD_SAFETY_ANALYSIS {
    spin_lock inner{lock_rank::timer_heap}, outer{lock_rank::context};
    inner.lock();
    outer.lock();  // context ranks above timer_heap: an inversion
    outer.unlock();
    inner.unlock();
  });
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("lock order violation: taking context") != std::string::npos);
  CHECK(r.err.find("while holding timer_heap") != std::string::npos);
}

TEST_CASE("lock ranks: the scheduler's mutexes are checked too" * doctest::skip(!GORO_LOCK_RANKS)) {
  auto r = in_child([]() GORO_NO_THREAD_SAFETY_ANALYSIS {
    goro::sched::detail::mutex pool{lock_rank::coroutine_pool}, idle{lock_rank::idle};
    pool.lock();
    idle.lock();
    idle.unlock();
    pool.unlock();
  });
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("taking idle") != std::string::npos);
  CHECK(r.err.find("while holding coroutine_pool") != std::string::npos);
}

TEST_CASE("lock ranks: the allowed orders pass; chan locks nest in ascending address order only" *
          doctest::skip(!GORO_LOCK_RANKS)) {
  auto ok = in_child([]() GORO_NO_THREAD_SAFETY_ANALYSIS {
    spin_lock ctx{lock_rank::context}, ch{lock_rank::chan}, heap{lock_rank::timer_heap}, mine;
    ctx.lock();
    mine.lock();  // rank none: never checked
    ch.lock();
    heap.lock();
    heap.unlock();
    ch.unlock();
    mine.unlock();
    ctx.unlock();
    std::array<spin_lock, 2> chans{spin_lock{lock_rank::chan}, spin_lock{lock_rank::chan}};
    chans[0].lock();  // lower address first, as select does
    chans[1].lock();
    chans[1].unlock();
    chans[0].unlock();
    // A try_lock is not checked (it cannot deadlock), but counts as held afterwards.
    REQUIRE(heap.try_lock());
    REQUIRE(ctx.try_lock());
    ctx.unlock();
    heap.unlock();
  });
  CHECK(ok.exit_code == 0);
  CHECK(ok.err.empty());

  auto bad = in_child([]() GORO_NO_THREAD_SAFETY_ANALYSIS {
    std::array<spin_lock, 2> chans{spin_lock{lock_rank::chan}, spin_lock{lock_rank::chan}};
    chans[1].lock();
    chans[0].lock();  // descending address order: two selects could deadlock
  });
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("taking chan") != std::string::npos);
  CHECK(bad.err.find("while holding chan") != std::string::npos);

  auto held = in_child([]() GORO_NO_THREAD_SAFETY_ANALYSIS {
    spin_lock heap{lock_rank::timer_heap}, ctx{lock_rank::context};
    REQUIRE(heap.try_lock());
    ctx.lock();  // blocking lock below a try-locked one: still an inversion
  });
  CHECK(held.exit_code == 2);
  CHECK(held.err.find("while holding timer_heap") != std::string::npos);
}
