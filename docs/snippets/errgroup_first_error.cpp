// golang.org/x/sync/errgroup: g, ctx := errgroup.WithContext(ctx); g.Go(f); err := g.Wait().
// A failure is a non-zero std::error_code returned by f, or an exception escaping it; the first
// cancels g.ctx(); wait() rethrows it (an error code as std::system_error).
#include <goro/goro.hpp>

#include <stdexcept>
#include <system_error>

using namespace std::chrono_literals;

int main() {
  return goro::run([] {
    goro::errgroup g;
    g.set_limit(2);  // g.SetLimit(2): go() parks while two are running
    g.go([] { goro::sleep_for(1ms); });  // succeeds
    g.go([]() -> std::error_code {       // fails: cancels the others' context
      return std::make_error_code(std::errc::connection_refused);
    });
    g.go([&g]() -> std::error_code {
      return goro::sleep_for(g.ctx(), 1h);  // ends at once when the group is cancelled
    });
    bool refused = false;
    try {
      g.wait();  // if err := g.Wait(); err != nil
    } catch (const std::system_error& e) {
      refused = e.code() == std::errc::connection_refused;
    }

    goro::errgroup h;  // an exception keeps its type
    h.go([] { throw std::out_of_range("row 7"); });
    bool typed = false;
    try {
      h.wait();
    } catch (const std::out_of_range&) {
      typed = true;
    }
    return refused && g.ctx().err() == goro::errc::canceled && typed ? 0 : 1;
  });
}
