// Where an exception goes, for each way of starting work. recover() is a catch in the same
// coroutine; an exception never crosses to another coroutine except through the handles below.
#include <goro/goro.hpp>

#include <stdexcept>
#include <string>

int main() {
  // An exception escaping the main coroutine is rethrown by goro::run, after the workers stop.
  bool from_run = false;
  try {
    goro::run([] { throw std::runtime_error("main failed"); });
  } catch (const std::runtime_error&) {
    from_run = true;
  }

  return goro::run([&] {
    // defer func() { if r := recover(); r != nil { ... } }(): try/catch in the coroutine itself.
    goro::chan<std::string> recovered(1);
    goro::go([recovered]() mutable {
      try {
        throw std::logic_error("bad state");
      } catch (const std::exception& e) {
        recovered.send(e.what());
      }
    });

    // spawn: get() rethrows the coroutine's exception, with its type.
    auto h = goro::spawn([]() -> int { throw std::out_of_range("index 3"); });
    bool from_get = false;
    try {
      h.get();
    } catch (const std::out_of_range&) {
      from_get = true;
    }

    // A catch block may park (sleep, receive) and then rethrow: the exception survives the
    // switch, even if the coroutine resumes on another thread.
    auto p = goro::spawn([] {
      try {
        throw std::runtime_error("retry later");
      } catch (...) {
        goro::sleep_for(std::chrono::milliseconds(1));
        throw;
      }
    });
    bool rethrown = false;
    try {
      p.get();
    } catch (const std::runtime_error& e) {
      rethrown = std::string(e.what()) == "retry later";
    }

    // A select handler's exception comes out of select, on the selecting coroutine.
    goro::chan<int> c(1);
    c.send(1);
    bool from_select = false;
    try {
      goro::select(goro::on_recv(c, [](std::optional<int>) { throw std::invalid_argument("x"); }));
    } catch (const std::invalid_argument&) {
      from_select = true;
    }

    // goro::blocking rethrows the call's exception in the calling coroutine.
    bool from_blocking = false;
    try {
      goro::blocking([] { throw std::runtime_error("dns"); });
    } catch (const std::runtime_error&) {
      from_blocking = true;
    }

    bool ok = from_run && *recovered.recv() == std::string("bad state") && from_get &&
              rethrown && from_select && from_blocking;
    return ok ? 0 : 1;
  });
}
