// sieve: the concurrent prime sieve (after Doug McIlroy; the Go spec's example program).
//
// A generator sends 2, 3, 4, ... down a channel. Each prime found starts a new filter
// goroutine between the last one and main, which removes that prime's multiples: the chain
// grows by one goroutine per prime.
package main

import "fmt"

// generate sends the sequence 2, 3, 4, ... to channel ch.
func generate(ch chan<- int) {
	for i := 2; ; i++ {
		ch <- i
	}
}

// filter copies the values from channel in to channel out, removing those divisible by prime.
func filter(in <-chan int, out chan<- int, prime int) {
	for {
		i := <-in
		if i%prime != 0 {
			out <- i
		}
	}
}

func main() {
	const n = 1000 // primes to find
	ch := make(chan int)
	go generate(ch)
	sum := 0
	for i := 0; i < n; i++ {
		prime := <-ch
		sum += prime
		if i < 100 {
			fmt.Printf("%5d", prime)
			if i%10 == 9 {
				fmt.Println()
			}
		}
		ch1 := make(chan int)
		go filter(ch, ch1, prime)
		ch = ch1
	}
	fmt.Printf("the first %d primes sum to %d\n", n, sum)
}
