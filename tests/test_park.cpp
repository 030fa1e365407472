// park/ready and waiter: the one blocking primitive, from coroutines and from plain threads.
#include <doctest/doctest.h>
#include <goro/goro.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "chan_support.hpp"
#include "sync_flag.hpp"

using namespace std::chrono_literals;
namespace sched = goro::sched;

TEST_CASE("ready before park is not lost (the permit)") {
  goro_test::watchdog wd("the permit");  // a lost permit parks the main coroutine forever
  goro::run(goro::options{.workers = 1}, [] {
    sched::coroutine* self = sched::current();
    const auto before = goro::stats().switches;
    sched::ready(self);  // we are running: this leaves a permit
    sched::park();       // returns at once, consuming it
    // At once: without switching out (nothing else exists to run, so a switch would be this
    // coroutine's own resumption).
    CHECK(goro::stats().switches == before);
  });
}

TEST_CASE("a plain thread wakes a parked coroutine and what it wrote before is visible") {
  goro::run([] {
    int payload = 0;
    sched::coroutine* self = sched::current();
    std::thread t([&payload, self] {
      std::this_thread::sleep_for(20ms);
      payload = 42;  // plain write: ready() must publish it
      sched::ready(self);
    });
    sched::park();
    CHECK(payload == 42);
    t.join();
  });
}

TEST_CASE("a waiter on a plain thread blocks until a coroutine wakes it") {
  goro::run([] {
    goro_test::flag f;
    int payload = 0;
    std::thread t([&] {
      f.wait();  // blocks this thread on a futex
      CHECK(payload == 7);
    });
    std::this_thread::sleep_for(10ms);
    auto h = goro::spawn([&f, &payload] {  // f, payload outlive it: joined below
      payload = 7;
      f.set();
    });
    h.get();
    t.join();
  });
}

TEST_CASE("park outside a coroutine is an error") {
  CHECK_THROWS_AS(sched::park(), std::logic_error);
}

TEST_CASE("a coroutine parked inside a catch block keeps its exception state across workers") {
  // The C++ runtime keeps "the exception being handled" per thread. A coroutine that parks in a
  // catch block and resumes on another thread must still be able to rethrow its own exception,
  // while other coroutines throw and catch on the thread it left.
  std::atomic<int> ok{0};
  goro::run(goro::options{.workers = 2}, [&] {
    auto* pok = &ok;
    std::vector<goro::join_handle<void>> hs;
    for (int c = 0; c < 16; ++c) {
      hs.push_back(goro::spawn([pok, c] {
        try {
          throw std::runtime_error("mine " + std::to_string(c));
        } catch (const std::exception&) {
          for (int i = 0; i < 50; ++i) {
            auto child = goro::spawn([] {
              try {
                throw 1;
              } catch (int) {
              }
            });
            child.get();
            goro::yield();
          }
          CHECK(std::uncaught_exceptions() == 0);
          try {
            throw;  // rethrows the exception this coroutine is handling
          } catch (const std::runtime_error& e) {
            if (std::string(e.what()) == "mine " + std::to_string(c)) pok->fetch_add(1);
          }
        }
      }));
    }
    for (auto& h : hs) h.get();
  });
  CHECK(ok.load() == 16);
}
