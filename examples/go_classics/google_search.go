// google_search: Rob Pike's "Google Search" progression (Go Concurrency Patterns, 2012):
//
//	1.0  ask the web, image and video servers one after the other;
//	2.0  ask them concurrently and collect the answers from one channel;
//	2.1  the same, but give up on servers slower than a timeout;
//	3.0  send each query to several replicas of each server and take the first answer.
//
// The servers are fakes that sleep a few milliseconds (drawn from a seeded xorshift generator,
// so the runs are repeatable) and answer, or never answer at all (a server that is down). The
// latencies are far below the timeout, so which servers time out does not depend on load.
// Where answers arrive in no fixed order, they are printed sorted.
package main

import (
	"fmt"
	"sort"
	"time"
)

type Result string
type Search func(query string) Result

const timeout = 400 * time.Millisecond

// down is a latency meaning "never answers".
const down = time.Duration(-1)

func fakeSearch(kind string, latency time.Duration) Search {
	return func(query string) Result {
		if latency == down {
			select {} // blocks forever
		}
		time.Sleep(latency)
		return Result(fmt.Sprintf("%s result for %q", kind, query))
	}
}

// Google10 asks each server in turn.
func Google10(query string, servers ...Search) (results []Result) {
	for _, search := range servers {
		results = append(results, search(query))
	}
	return
}

// Google20 asks every server at once.
func Google20(query string, servers ...Search) (results []Result) {
	c := make(chan Result)
	for _, search := range servers {
		go func(search Search) { c <- search(query) }(search)
	}
	for range servers {
		results = append(results, <-c)
	}
	return
}

// Google21 asks every server at once and returns what has arrived when the timeout expires.
func Google21(query string, servers ...Search) (results []Result) {
	c := make(chan Result, len(servers)) // late answers do not block their goroutine
	for _, search := range servers {
		go func(search Search) { c <- search(query) }(search)
	}
	timeout := time.After(timeout)
	for range servers {
		select {
		case result := <-c:
			results = append(results, result)
		case <-timeout:
			fmt.Println("  timed out")
			return
		}
	}
	return
}

// First sends the query to every replica and returns the first answer.
func First(query string, replicas ...Search) Result {
	c := make(chan Result, len(replicas))
	searchReplica := func(i int) { c <- replicas[i](query) }
	for i := range replicas {
		go searchReplica(i)
	}
	return <-c
}

// Google30 asks the replicas of every server at once, each kind through First.
func Google30(query string, servers ...[]Search) (results []Result) {
	c := make(chan Result, len(servers))
	for _, replicas := range servers {
		go func(replicas []Search) { c <- First(query, replicas...) }(replicas)
	}
	timeout := time.After(timeout)
	for range servers {
		select {
		case result := <-c:
			results = append(results, result)
		case <-timeout:
			fmt.Println("  timed out")
			return
		}
	}
	return
}

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func show(results []Result, sorted bool) {
	if sorted {
		sort.Slice(results, func(i, j int) bool { return results[i] < results[j] })
	}
	for _, r := range results {
		fmt.Println("  " + string(r))
	}
}

func main() {
	rng := xorshift(2012)
	fast := func() time.Duration { return time.Duration(1+rng.next()%10) * time.Millisecond }
	web := fakeSearch("web", fast())
	image := fakeSearch("image", fast())
	video := fakeSearch("video", fast())
	deadVideo := fakeSearch("video", down)

	fmt.Println("Google 1.0")
	show(Google10("golang", web, image, video), false)
	fmt.Println("Google 2.0")
	show(Google20("golang", web, image, video), true)
	fmt.Println("Google 2.1")
	show(Google21("golang", web, image, deadVideo), true)

	// Each kind has a replica that is down, one that answers after a second, and a fast one:
	// the fast one always wins.
	replicas := func(kind string, fastOne int) []Search {
		var rs []Search
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("%s replica %d", kind, i)
			switch {
			case i == fastOne:
				rs = append(rs, fakeSearch(name, fast()))
			case (i+fastOne)%2 == 0:
				rs = append(rs, fakeSearch(name, time.Second))
			default:
				rs = append(rs, fakeSearch(name, down))
			}
		}
		return rs
	}
	webs := replicas("web", 3)
	images := replicas("image", 1)
	videos := replicas("video", 2)
	fmt.Println("Google 3.0")
	show(Google30("golang", webs, images, videos), true)
}
