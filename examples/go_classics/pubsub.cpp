// pubsub: a publish/subscribe broker, ported line by line from pubsub.go.
//
// Porting notes:
//   - The Broker's channels are members of a struct the broker goroutine and its callers share.
//     Go keeps it alive through the garbage collector; here NewBroker returns a
//     std::shared_ptr<Broker> and the goroutine holds a copy.
//   - Go compares a chan string with a <-chan string directly; in C++ the chan converts to a
//     recv_chan, and recv_chan's == compares identity.
//   - Go's `break` inside a select case body leaves the select (here: the inner for), and
//     `return` in a case leaves the function: the port tests the index goro::select returns.
//   - fmt's %-5s and %2d are printf's; strings.Join is a loop.
#include <goro/goro.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

struct subscription {
  std::vector<std::string> topics;
  goro::chan<std::string> ch;
};

struct message {
  std::string topic, text;
};

struct Broker {
  goro::chan<subscription> subscribe;
  goro::chan<goro::recv_chan<std::string>> unsubscribe;
  goro::chan<message> publish;
  goro::chan<std::monostate> stop;
  goro::chan<std::monostate> stopped;

  void run();
  goro::recv_chan<std::string> Subscribe(std::vector<std::string> topics);
  void Unsubscribe(goro::recv_chan<std::string> ch);
  void Publish(std::string topic, std::string text);
  void Stop();
};

static std::shared_ptr<Broker> NewBroker() {
  auto b = std::make_shared<Broker>();
  goro::go([b] { b->run(); });
  return b;
}

void Broker::run() {
  std::vector<subscription> subs;
  for (;;) {
    std::size_t fired = goro::select(
        goro::on_recv(subscribe, [&](std::optional<subscription> s) { subs.push_back(*s); }),
        goro::on_recv(unsubscribe, [&](std::optional<goro::recv_chan<std::string>> ch) {
          for (auto it = subs.begin(); it != subs.end(); ++it) {
            if (goro::recv_chan<std::string>(it->ch) == *ch) {
              goro::chan<std::string> c = it->ch;
              subs.erase(it);
              c.close();
              break;
            }
          }
        }),
        goro::on_recv(publish, [&](std::optional<message> m) {
          for (auto& s : subs) {
            for (auto& t : s.topics) {
              if (t == m->topic) {
                s.ch.send(m->topic + ":" + m->text);
              }
            }
          }
        }),
        goro::on_recv(stop, [&] {
          for (auto& s : subs) {
            s.ch.close();
          }
          stopped.close();
        }));
    if (fired == 3) {
      return;
    }
  }
}

// Subscribe returns a channel that receives the messages published on any of topics.
goro::recv_chan<std::string> Broker::Subscribe(std::vector<std::string> topics) {
  goro::chan<std::string> ch(8);
  subscribe.send(subscription{topics, ch});
  return ch;
}

// Unsubscribe stops the messages to ch and closes it.
void Broker::Unsubscribe(goro::recv_chan<std::string> ch) { unsubscribe.send(ch); }

void Broker::Publish(std::string topic, std::string text) { publish.send(message{topic, text}); }

// Stop closes every subscriber's channel and waits for the broker to end.
void Broker::Stop() {
  stop.close();
  stopped.recv();
}

static void reader(std::string name, goro::recv_chan<std::string> ch, goro::send_chan<std::string> reports) {
  std::vector<std::string> got;
  for (std::string& m : ch) {
    got.push_back(m);
  }
  std::string joined;
  for (std::size_t i = 0; i < got.size(); i++) {
    joined += (i ? " " : "") + got[i];
  }
  char head[64];
  std::snprintf(head, sizeof head, "%-5s got %2zu: ", name.c_str(), got.size());
  reports.send(head + joined);
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

int main() {
  return goro::run([] {
    auto b = NewBroker();
    goro::chan<std::string> reports;
    struct subscriber {
      std::string name;
      std::vector<std::string> topics;
    };
    std::vector<subscriber> subscribers{
        {"alice", {"go"}},
        {"bob", {"go", "rust"}},
        {"carol", {"c++"}},
        {"dave", {"c++", "go", "rust"}},
    };
    std::map<std::string, goro::recv_chan<std::string>> chans;
    for (auto& s : subscribers) {
      auto ch = b->Subscribe(s.topics);
      chans[s.name] = ch;
      goro::go(reader, s.name, ch, reports);
    }

    xorshift rng{42};
    std::vector<std::string> topics{"go", "rust", "c++"};
    for (int i = 1; i <= 16; i++) {
      if (i == 9) {
        b->Unsubscribe(chans["bob"]);
        std::printf("bob unsubscribes after message 8\n");
      }
      b->Publish(topics[rng.next() % 3], "m" + std::to_string(i));
    }
    b->Stop();

    std::vector<std::string> all;
    for (std::size_t i = 0; i < subscribers.size(); i++) {
      all.push_back(*reports.recv());
    }
    std::sort(all.begin(), all.end());
    for (auto& r : all) {
      std::printf("%s\n", r.c_str());
    }
  });
}
