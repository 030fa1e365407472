// reflect.Select (a select over a slice of channels known only at run time) has no goro
// equivalent yet. The usual workaround for receives: fan in, with one forwarding coroutine per
// channel into one merged channel of (index, value), closed when every source is closed.
// Unlike reflect.Select, a forwarder takes a value from its source before anyone selects it.
#include <goro/goro.hpp>

#include <atomic>
#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

template <class T>
goro::recv_chan<std::pair<std::size_t, T>> merge(std::vector<goro::chan<T>> sources) {
  goro::chan<std::pair<std::size_t, T>> out;
  auto left = std::make_shared<std::atomic<std::size_t>>(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) {
    goro::go([i, in = sources[i], out, left]() mutable {
      for (T v : in) out.send({i, std::move(v)});
      if (--*left == 0) out.close();  // the last forwarder to finish closes the merged channel
    });
  }
  return out;
}

int main() {
  return goro::run([] {
    std::vector<goro::chan<int>> sources;
    for (int i = 0; i < 5; ++i) sources.emplace_back(2);  // a count known only at run time
    for (std::size_t i = 0; i < sources.size(); ++i) {
      sources[i].send(static_cast<int>(i) * 10);
      sources[i].close();
    }
    int sum = 0;
    std::vector<int> from(sources.size(), 0);
    for (auto [i, v] : merge(sources)) {  // chosen, recv, recvOK := reflect.Select(cases)
      sum += v;
      ++from[i];
    }
    return sum == 100 && from == std::vector<int>(5, 1) ? 0 : 1;
  });
}
