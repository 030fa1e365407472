// rate_limit: rate limiting with a ticker, then a limiter that allows bursts (Go by Example,
// "Rate Limiting").
//
// Every request waits for a token. The plain limiter's tokens are a ticker's ticks: one
// request per period. The bursty limiter is a buffered channel holding up to 3 tokens: it
// starts full, so the first 3 requests go through at once, and a goroutine refills it from a
// ticker. Each token says where it came from. Timings are not printed (they depend on the
// machine); what is printed cannot vary: the order of the tokens, and lower bounds on the
// elapsed time (a ticker never fires early).
package main

import (
	"fmt"
	"time"
)

const period = 20 * time.Millisecond

func main() {
	requests := make(chan int, 5)
	for i := 1; i <= 5; i++ {
		requests <- i
	}
	close(requests)

	start := time.Now()
	limiter := time.NewTicker(period)
	defer limiter.Stop()
	for req := range requests {
		<-limiter.C
		fmt.Println("request", req, "served on a tick")
	}
	fmt.Println("5 requests took at least 5 periods:", time.Since(start) >= 5*period)

	burstyLimiter := make(chan string, 3)
	for i := 0; i < 3; i++ {
		burstyLimiter <- "burst"
	}
	start = time.Now()
	go func() {
		for range time.Tick(period) {
			burstyLimiter <- "tick"
		}
	}()

	burstyRequests := make(chan int, 5)
	for i := 1; i <= 5; i++ {
		burstyRequests <- i
	}
	close(burstyRequests)
	for req := range burstyRequests {
		token := <-burstyLimiter
		fmt.Println("request", req, "served with a", token, "token")
	}
	fmt.Println("5 bursty requests took at least 2 periods:", time.Since(start) >= 2*period)
}
