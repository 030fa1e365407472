// google_search: Rob Pike's "Google Search" 1.0 -> 2.0 -> 2.1 -> 3.0, ported line by line from
// google_search.go.
//
// Porting notes:
//   - Go's variadic `servers ...Search` is a std::vector<Search>; a Search (a Go func value) is
//     a std::function.
//   - `select {}` is goro::select() with no cases: it blocks forever.
//   - time.After(d) is goro::after(d): a channel that receives once. Nothing has to receive it.
//   - The goroutine `go func(search Search) { c <- search(query) }(search)` is a lambda that
//     captures by value (search, query and the channel handle c): each goroutine has its own
//     copies, as the Go closure's argument is its own copy.
//   - A goroutine still parked when main returns (the servers that are down, the slow replicas)
//     is abandoned, as in Go: the buffered channels let the late answers finish without a
//     receiver, exactly as in the Go version.
#include <goro/goro.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace std::chrono_literals;

using Result = std::string;
using Search = std::function<Result(const std::string& query)>;

constexpr auto timeout = 400ms;

// down is a latency meaning "never answers".
constexpr std::chrono::milliseconds down{-1};

static Search fakeSearch(std::string kind, std::chrono::milliseconds latency) {
  return [=](const std::string& query) -> Result {
    if (latency == down) {
      goro::select();  // blocks forever
    }
    goro::sleep_for(latency);
    return kind + " result for \"" + query + "\"";
  };
}

// Google10 asks each server in turn.
static std::vector<Result> Google10(std::string query, std::vector<Search> servers) {
  std::vector<Result> results;
  for (auto& search : servers) {
    results.push_back(search(query));
  }
  return results;
}

// Google20 asks every server at once.
static std::vector<Result> Google20(std::string query, std::vector<Search> servers) {
  std::vector<Result> results;
  goro::chan<Result> c;
  for (auto& search : servers) {
    goro::go([=]() mutable { c.send(search(query)); });
  }
  for (std::size_t i = 0; i < servers.size(); i++) {
    results.push_back(*c.recv());
  }
  return results;
}

// Google21 asks every server at once and returns what has arrived when the timeout expires.
static std::vector<Result> Google21(std::string query, std::vector<Search> servers) {
  std::vector<Result> results;
  goro::chan<Result> c(servers.size());  // late answers do not block their goroutine
  for (auto& search : servers) {
    goro::go([=]() mutable { c.send(search(query)); });
  }
  auto timeout = goro::after(::timeout);
  for (std::size_t i = 0; i < servers.size(); i++) {
    std::size_t fired = goro::select(
        goro::on_recv(c, [&](std::optional<Result> result) { results.push_back(*result); }),
        goro::on_recv(timeout, [&](auto) { std::printf("  timed out\n"); }));
    if (fired == 1) return results;
  }
  return results;
}

// First sends the query to every replica and returns the first answer.
static Result First(std::string query, std::vector<Search> replicas) {
  goro::chan<Result> c(replicas.size());
  auto searchReplica = [=](std::size_t i) mutable { c.send(replicas[i](query)); };
  for (std::size_t i = 0; i < replicas.size(); i++) {
    goro::go(searchReplica, i);
  }
  return *c.recv();
}

// Google30 asks the replicas of every server at once, each kind through First.
static std::vector<Result> Google30(std::string query, std::vector<std::vector<Search>> servers) {
  std::vector<Result> results;
  goro::chan<Result> c(servers.size());
  for (auto& replicas : servers) {
    goro::go([=]() mutable { c.send(First(query, replicas)); });
  }
  auto timeout = goro::after(::timeout);
  for (std::size_t i = 0; i < servers.size(); i++) {
    std::size_t fired = goro::select(
        goro::on_recv(c, [&](std::optional<Result> result) { results.push_back(*result); }),
        goro::on_recv(timeout, [&](auto) { std::printf("  timed out\n"); }));
    if (fired == 1) return results;
  }
  return results;
}

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
struct xorshift {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
};

static void show(std::vector<Result> results, bool sorted) {
  if (sorted) {
    std::sort(results.begin(), results.end());
  }
  for (auto& r : results) {
    std::printf("  %s\n", r.c_str());
  }
}

int main() {
  return goro::run([] {
    xorshift rng{2012};
    auto fast = [&] { return std::chrono::milliseconds(1 + rng.next() % 10); };
    // Drawn in this order, as Go's initializations run top to bottom.
    Search web = fakeSearch("web", fast());
    Search image = fakeSearch("image", fast());
    Search video = fakeSearch("video", fast());
    Search deadVideo = fakeSearch("video", down);

    std::printf("Google 1.0\n");
    show(Google10("golang", {web, image, video}), false);
    std::printf("Google 2.0\n");
    show(Google20("golang", {web, image, video}), true);
    std::printf("Google 2.1\n");
    show(Google21("golang", {web, image, deadVideo}), true);

    // Each kind has a replica that is down, one that answers after a second, and a fast one:
    // the fast one always wins.
    auto replicas = [&](std::string kind, int fastOne) {
      std::vector<Search> rs;
      for (int i = 1; i <= 3; i++) {
        std::string name = kind + " replica " + std::to_string(i);
        if (i == fastOne) {
          rs.push_back(fakeSearch(name, fast()));
        } else if ((i + fastOne) % 2 == 0) {
          rs.push_back(fakeSearch(name, 1000ms));
        } else {
          rs.push_back(fakeSearch(name, down));
        }
      }
      return rs;
    };
    auto webs = replicas("web", 3);
    auto images = replicas("image", 1);
    auto videos = replicas("video", 2);
    std::printf("Google 3.0\n");
    show(Google30("golang", {webs, images, videos}), true);
  });
}
