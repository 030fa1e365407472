// gobench: the Go peer of goro's benchmarks. Standard library only.
//
// Usage: gobench <benchmark> [size]
// Prints one line per measurement on stdout: "RESULT <name> <value> <unit>", and exits non-zero
// with a message on stderr if the result it computed is wrong. The number of Ps comes from
// $GOMAXPROCS, as for any Go program.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "gobench: "+format+"\n", a...)
	os.Exit(1)
}

// ---- skynet -----------------------------------------------------------------------------------
//
// The classic form: every goroutine sends its sum on its parent's channel; a parent makes one
// channel (buffered, capacity 10: a child never blocks on its send) for its 10 children and
// receives 10 values. We also measured the unbuffered-channel original and the array + WaitGroup
// form (children write res[i], the parent wg.Wait()s) on the 2-core box: all three were within
// noise of each other (WaitGroup ~5% faster with 2 Ps, the buffered channel ~10% faster with 1 P),
// so the classic channel form, the one every skynet comparison uses, is kept.
func skynet(c chan<- int64, num int64, size int64, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64, div)
	var sum int64
	size /= div
	for i := int64(0); i < div; i++ {
		go skynet(rc, num+i*size, size, div)
	}
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func benchSkynet(leaves int64) {
	want := leaves * (leaves - 1) / 2
	c := make(chan int64, 1) // the root runs in main, as in the C++ programs; it never blocks on c
	start := time.Now()
	skynet(c, 0, leaves, 10)
	got := <-c
	el := time.Since(start)
	if got != want {
		die("skynet: sum %d, want %d", got, want)
	}
	fmt.Printf("RESULT skynet %.3f ms\n", float64(el.Nanoseconds())/1e6)
}

// ---- spawn_join -------------------------------------------------------------------------------
func benchSpawnJoin(n int) {
	res := make([]int, n)
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) { res[i] = i; wg.Done() }(i)
	}
	wg.Wait()
	var sum int64
	for _, v := range res {
		sum += int64(v)
	}
	el := time.Since(start)
	if want := int64(n) * int64(n-1) / 2; sum != want {
		die("spawn_join: sum %d, want %d", sum, want)
	}
	fmt.Printf("RESULT spawn_join %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- yield ------------------------------------------------------------------------------------
func benchYield(m int) {
	var wg sync.WaitGroup
	var count [2]int
	start := time.Now()
	wg.Add(2)
	for g := 0; g < 2; g++ {
		go func(g int) {
			for i := 0; i < m; i++ {
				runtime.Gosched()
				count[g]++
			}
			wg.Done()
		}(g)
	}
	wg.Wait()
	el := time.Since(start)
	if count[0] != m || count[1] != m {
		die("yield: counts %d %d, want %d", count[0], count[1], m)
	}
	fmt.Printf("RESULT yield %.3f ns\n", float64(el.Nanoseconds())/float64(2*m))
}

// ---- memory -----------------------------------------------------------------------------------
// Resident set size from /proc/self/statm (second field, in pages), as the C++ programs read it.
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		die("read /proc/self/statm: %v", err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		die("parse /proc/self/statm: %v", err)
	}
	return resident * int64(os.Getpagesize())
}

func memName(n int) string {
	switch {
	case n%1000000 == 0:
		return fmt.Sprintf("memory_%dm", n/1000000)
	case n%1000 == 0:
		return fmt.Sprintf("memory_%dk", n/1000)
	}
	return fmt.Sprintf("memory_%d", n)
}

func benchMemory(n int) {
	ch := make(chan struct{})
	var parked, released int64
	var wg sync.WaitGroup
	wg.Add(n)
	before := rssBytes()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&parked, 1)
			<-ch
			atomic.AddInt64(&released, 1)
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		runtime.Gosched()
	}
	runtime.Gosched()
	after := rssBytes()
	close(ch)
	wg.Wait()
	if released != int64(n) {
		die("memory: %d goroutines released, want %d", released, n)
	}
	fmt.Printf("RESULT %s %d B\n", memName(n), (after-before)/int64(n))
}

func main() {
	if len(os.Args) < 2 {
		die("usage: gobench skynet|spawn_join|yield|memory [size]")
	}
	size := 0
	if len(os.Args) > 2 {
		v, err := strconv.Atoi(os.Args[2])
		if err != nil || v <= 0 {
			die("bad size %q", os.Args[2])
		}
		size = v
	}
	def := func(d int) int {
		if size == 0 {
			return d
		}
		return size
	}
	switch os.Args[1] {
	case "skynet":
		n := def(1000000)
		for m := n; m > 1; m /= 10 {
			if m%10 != 0 {
				die("skynet: size must be a power of 10, not %d", n)
			}
		}
		benchSkynet(int64(n))
	case "spawn_join":
		benchSpawnJoin(def(1000000))
	case "yield":
		benchYield(def(10000000))
	case "memory":
		benchMemory(def(100000))
	default:
		die("unknown benchmark %q", os.Args[1])
	}
}
