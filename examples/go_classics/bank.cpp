// bank: the bank-account race fixed with a mutex, then with a channel, ported line by line from
// bank.go.
//
// Porting notes:
//   - Go's interface Bank is an abstract class; the two implementations override it.
//   - `mu.Lock(); defer mu.Unlock()` is std::lock_guard<goro::mutex>: goro::mutex meets the
//     standard Lockable requirements, so the standard guards work, and like Go's sync.Mutex
//     it parks the coroutine, not the worker thread.
//   - The Teller's goroutine runs for the rest of the program, so it shares the Teller through
//     a std::shared_ptr (Go's garbage collector does this for the *Teller).
//   - The select's send case `case t.balances <- balance:` copies balance when the select
//     starts, as Go evaluates the value on entry to the select.
//   - The racy version is not ported either: in C++ a data race is undefined behaviour.
#include <goro/goro.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

struct Bank {
  virtual void Deposit(int amount) = 0;
  virtual bool Withdraw(int amount) = 0;
  virtual int Balance() = 0;

 protected:
  ~Bank() = default;
};

// Account: a mutex guards the balance.
struct Account final : Bank {
  goro::mutex mu;
  int balance = 0;

  void Deposit(int amount) override {
    std::lock_guard lock(mu);
    balance += amount;
  }

  bool Withdraw(int amount) override {
    std::lock_guard lock(mu);
    if (balance < amount) {
      return false;  // insufficient funds
    }
    balance -= amount;
    return true;
  }

  int Balance() override {
    std::lock_guard lock(mu);
    return balance;
  }
};

// Teller: one goroutine owns the balance (the "monitor goroutine" of the book's bank1).
struct withdrawal {
  int amount;
  goro::chan<bool> ok;
};

struct Teller final : Bank {
  goro::chan<int> deposits;
  goro::chan<withdrawal> withdrawals;
  goro::chan<int> balances;

  void run();
  void Deposit(int amount) override { deposits.send(amount); }
  bool Withdraw(int amount) override {
    goro::chan<bool> ok;
    withdrawals.send(withdrawal{amount, ok});
    return *ok.recv();
  }
  int Balance() override { return *balances.recv(); }
};

static std::shared_ptr<Teller> NewTeller() {
  auto t = std::make_shared<Teller>();
  goro::go([t] { t->run(); });
  return t;
}

void Teller::run() {
  int balance = 0;  // confined to this goroutine
  for (;;) {
    goro::select(
        goro::on_recv(deposits, [&](std::optional<int> amount) { balance += *amount; }),
        goro::on_recv(withdrawals,
                      [&](std::optional<withdrawal> w) {
                        if (!w) {
                          return;  // closed: never (a check g++ -Wmaybe-uninitialized wants)
                        }
                        if (balance < w->amount) {
                          w->ok.send(false);
                        } else {
                          balance -= w->amount;
                          w->ok.send(true);
                        }
                      }),
        goro::on_send(balances, balance));
  }
}

static void scenario(const char* name, Bank& b) {
  // b, wg and the counters outlive the goroutines that use them: scenario waits for them all.
  goro::wait_group wg;
  for (int i = 1; i <= 100; i++) {
    wg.add(1);
    goro::go([&b, &wg](int amount) {
      for (int k = 0; k < 100; k++) {
        b.Deposit(amount);
      }
      wg.done();
    }, i);
  }
  wg.wait();
  std::printf("%s: balance after the deposits: %d\n", name, b.Balance());

  std::atomic<std::int64_t> succeeded{0}, failed{0};
  for (int i = 0; i < 600; i++) {
    wg.add(1);
    goro::go([&] {
      if (b.Withdraw(1000)) {
        succeeded.fetch_add(1);
      } else {
        failed.fetch_add(1);
      }
      wg.done();
    });
  }
  wg.wait();
  std::printf("%s: withdrawals of 1000: %lld succeeded, %lld refused; balance %d\n", name,
              (long long)succeeded.load(), (long long)failed.load(), b.Balance());
}

int main() {
  return goro::run([] {
    Account account;
    scenario("mutex", account);
    scenario("channel", *NewTeller());
  });
}
