// whispers: Rob Pike's daisy chain of "Chinese whispers" (Go Concurrency Patterns, 2012).
//
// 100,000 goroutines in a line, each connected to its neighbours by an unbuffered channel.
// A 1 enters at the right end; each goroutine adds one to what it hears and passes it left.
package main

import "fmt"

func whisper(left chan<- int, right <-chan int) {
	left <- 1 + <-right
}

func main() {
	const n = 100000
	leftmost := make(chan int)
	right := leftmost
	left := leftmost
	for i := 0; i < n; i++ {
		right = make(chan int)
		go whisper(left, right)
		left = right
	}
	go func(c chan<- int) { c <- 1 }(right)
	fmt.Println(<-leftmost)
}
