// pingpong: two players hit a ball back and forth over a table, a channel (after Sameer Ajmani,
// "Advanced Go Concurrency Patterns", 2013). Whoever holds the ball owns it; the table hands it
// over. After the last hit the player hands the ball to main instead.
//
// Which player serves first depends on which one reaches the table first, so the program
// prints only what cannot vary: the number of hits, each player's share, and whether the
// players alternated (the table is unbuffered: a player that puts the ball down cannot pick it
// up again, since only the other player is waiting).
package main

import (
	"fmt"
	"time"
)

type Ball struct {
	hits      int
	last      string
	perPlayer map[string]int
	twice     bool // someone hit the ball twice in a row
}

const totalHits = 20

func player(name string, table chan *Ball, done chan<- *Ball) {
	for {
		ball := <-table
		if ball.last == name {
			ball.twice = true
		}
		ball.hits++
		ball.last = name
		ball.perPlayer[name]++
		time.Sleep(time.Millisecond)
		if ball.hits == totalHits {
			done <- ball
			return
		}
		table <- ball
	}
}

func main() {
	table := make(chan *Ball)
	done := make(chan *Ball)
	go player("ping", table, done)
	go player("pong", table, done)

	table <- &Ball{perPlayer: make(map[string]int)} // game on; toss the ball
	ball := <-done                                  // game over; grab the ball
	fmt.Printf("the ball was hit %d times: ping %d, pong %d\n",
		ball.hits, ball.perPlayer["ping"], ball.perPlayer["pong"])
	fmt.Println("the players alternated:", !ball.twice)
}
