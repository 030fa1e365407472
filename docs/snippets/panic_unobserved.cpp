// A spawned coroutine's exception waits in its join_handle for get(). Dropping the handle
// without get() detaches the coroutine; if it then ends with an exception nobody can observe,
// that is an unrecovered panic too (exit code 2): an error never vanishes.
// Its test expects exit code 2 and "panic: std::out_of_range: row 9".
#include <goro/goro.hpp>

#include <chrono>
#include <stdexcept>

int main() {
  return goro::run([] {
    {
      auto h = goro::spawn([] {
        goro::sleep_for(std::chrono::milliseconds(1));
        throw std::out_of_range("row 9");
      });
    }  // h dropped: nobody will call get()
    goro::sleep_for(std::chrono::seconds(5));  // never returns
    return 0;
  });
}
