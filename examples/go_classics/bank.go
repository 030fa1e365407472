// bank: the bank-account race (after The Go Programming Language, section 9.1), fixed with a
// mutex, then with a channel.
//
// The race: with `balance += amount` run by many goroutines and nothing ordering them, two
// deposits can read the same balance and one of the updates is lost (`go run -race` reports
// it; in C++ it is undefined behaviour). The racy version is not run here. Two fixes follow:
//
//	Account  a mutex guards the balance (sync.Mutex); Withdraw checks and debits under one lock;
//	Teller   one goroutine owns the balance, and the others send it requests on channels.
//
// Both get the same scenario: 100 goroutines each deposit their number 1..100, 100 times;
// then 600 goroutines each try to withdraw 1000. The totals cannot depend on the interleaving:
// 505000 deposited, so exactly 505 withdrawals succeed, whatever their order, if each
// check-and-debit is atomic.
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

type Bank interface {
	Deposit(amount int)
	Withdraw(amount int) bool
	Balance() int
}

// Account: a mutex guards the balance.
type Account struct {
	mu      sync.Mutex
	balance int
}

func (a *Account) Deposit(amount int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.balance += amount
}

func (a *Account) Withdraw(amount int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.balance < amount {
		return false // insufficient funds
	}
	a.balance -= amount
	return true
}

func (a *Account) Balance() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.balance
}

// Teller: one goroutine owns the balance (the "monitor goroutine" of the book's bank1).
type withdrawal struct {
	amount int
	ok     chan bool
}

type Teller struct {
	deposits    chan int
	withdrawals chan withdrawal
	balances    chan int
}

func NewTeller() *Teller {
	t := &Teller{make(chan int), make(chan withdrawal), make(chan int)}
	go t.run()
	return t
}

func (t *Teller) run() {
	var balance int // confined to this goroutine
	for {
		select {
		case amount := <-t.deposits:
			balance += amount
		case w := <-t.withdrawals:
			if balance < w.amount {
				w.ok <- false
			} else {
				balance -= w.amount
				w.ok <- true
			}
		case t.balances <- balance:
		}
	}
}

func (t *Teller) Deposit(amount int) { t.deposits <- amount }

func (t *Teller) Withdraw(amount int) bool {
	ok := make(chan bool)
	t.withdrawals <- withdrawal{amount, ok}
	return <-ok
}

func (t *Teller) Balance() int { return <-t.balances }

func scenario(name string, b Bank) {
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		go func(amount int) {
			defer wg.Done()
			for k := 0; k < 100; k++ {
				b.Deposit(amount)
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("%s: balance after the deposits: %d\n", name, b.Balance())

	var succeeded, failed int64
	for i := 0; i < 600; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.Withdraw(1000) {
				atomic.AddInt64(&succeeded, 1)
			} else {
				atomic.AddInt64(&failed, 1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%s: withdrawals of 1000: %d succeeded, %d refused; balance %d\n",
		name, succeeded, failed, b.Balance())
}

func main() {
	scenario("mutex", &Account{})
	scenario("channel", NewTeller())
}
