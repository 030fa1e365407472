// fanin: generators, fan-in, restoring sequence, and a quit channel (Rob Pike, Go Concurrency
// Patterns, 2012).
//
// boring returns a channel on which a goroutine says "<name> <i>" forever: a generator. fanIn
// multiplexes two generators onto one channel with a select. Each message carries a wait
// channel, and a speaker does not speak again until main signals on it, so main hears one
// message from each speaker per round (the order within a round is not fixed: main prints a
// round's two messages sorted). After the last round main tells each speaker to quit on its
// quit channel, and the speaker answers on the same channel once it has cleaned up.
package main

import (
	"fmt"
	"sort"
)

type Message struct {
	str  string
	wait chan bool
}

func boring(name string, quit chan string) <-chan Message {
	c := make(chan Message)
	go func() {
		wait := make(chan bool)
		for i := 0; ; i++ {
			c <- Message{fmt.Sprintf("%s %d", name, i), wait}
			select {
			case <-wait: // main says: go on
			case bye := <-quit: // main says: stop
				quit <- fmt.Sprintf("%s heard %q: see you!", name, bye)
				return
			}
		}
	}()
	return c
}

func fanIn(input1, input2 <-chan Message) <-chan Message {
	c := make(chan Message)
	go func() {
		for {
			select {
			case s := <-input1:
				c <- s
			case s := <-input2:
				c <- s
			}
		}
	}()
	return c
}

func main() {
	joeQuit := make(chan string)
	annQuit := make(chan string)
	c := fanIn(boring("Joe", joeQuit), boring("Ann", annQuit))
	const rounds = 5
	for round := 1; round <= rounds; round++ {
		msg1 := <-c
		msg2 := <-c
		heard := []string{msg1.str, msg2.str}
		sort.Strings(heard)
		fmt.Printf("round %d: %s, %s\n", round, heard[0], heard[1])
		if round < rounds { // after the last round both speakers wait for quit instead
			msg1.wait <- true
			msg2.wait <- true
		}
	}
	joeQuit <- "bye"
	fmt.Println(<-joeQuit)
	annQuit <- "bye"
	fmt.Println(<-annQuit)
}
