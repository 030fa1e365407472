// gobench: the Go peer of goro's benchmarks. Standard library only.
//
// Usage:
//
//	gobench <benchmark> [size]
//	gobench fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES   (fanout.go, bench/fanout/README.md)
//	gobench pipeline DIR QUOTES_PER_SNAPSHOT CHUNK            (pipeline.go)
//
// Prints one line per measurement on stdout: "RESULT <name> <value> <unit>", and exits non-zero
// with a message on stderr if the result it computed is wrong. The number of Ps comes from
// $GOMAXPROCS, as for any Go program.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
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

// ---- chan_pingpong ------------------------------------------------------------------------------
// Two goroutines, two unbuffered channels: the pinger sends i on ping, the ponger receives it and
// sends it back on pong, the pinger receives it. One round trip = two unbuffered hand-offs.
func benchChanPingpong(n int) {
	ping, pong := make(chan int), make(chan int)
	var sum, rounds int
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	go func() { // ponger
		for v := range ping {
			pong <- v
			rounds++
		}
		wg.Done()
	}()
	go func() { // pinger
		for i := 0; i < n; i++ {
			ping <- i
			sum += <-pong
		}
		close(ping)
		wg.Done()
	}()
	wg.Wait()
	el := time.Since(start)
	if want := n * (n - 1) / 2; sum != want || rounds != n {
		die("chan_pingpong: sum %d, want %d; %d rounds, want %d", sum, want, rounds, n)
	}
	fmt.Printf("RESULT chan_pingpong %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- select_pingpong ----------------------------------------------------------------------------
// chan_pingpong where every receive is a 2-case select: the data channel, or quit (closed by the
// pinger once it is done, so it fires only to end the ponger).
func benchSelectPingpong(n int) {
	ping, pong, quit := make(chan int), make(chan int), make(chan int)
	var sum, rounds int
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	go func() { // ponger
		defer wg.Done()
		for {
			select {
			case v := <-ping:
				pong <- v
				rounds++
			case <-quit:
				return
			}
		}
	}()
	go func() { // pinger
		defer wg.Done()
		for i := 0; i < n; i++ {
			ping <- i
			select {
			case v := <-pong:
				sum += v
			case <-quit:
				die("select_pingpong: quit fired early")
			}
		}
		close(quit)
	}()
	wg.Wait()
	el := time.Since(start)
	if want := n * (n - 1) / 2; sum != want || rounds != n {
		die("select_pingpong: sum %d, want %d; %d rounds, want %d", sum, want, rounds, n)
	}
	fmt.Printf("RESULT select_pingpong %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- chan_spsc ----------------------------------------------------------------------------------
// One producer sends 0..n-1 on a channel of capacity 1024 and closes it; one consumer sums them.
func benchChanSpsc(n int) {
	ch := make(chan int, 1024)
	var sum int
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(2)
	go func() {
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
		wg.Done()
	}()
	go func() {
		for v := range ch {
			sum += v
		}
		wg.Done()
	}()
	wg.Wait()
	el := time.Since(start)
	if want := n * (n - 1) / 2; sum != want {
		die("chan_spsc: sum %d, want %d", sum, want)
	}
	fmt.Printf("RESULT chan_spsc %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- chan_mpmc ----------------------------------------------------------------------------------
// 4 producers (producer p sends p, p+4, p+8, ... < n) and 4 consumers on one channel of capacity
// 1024; the channel is closed once every producer is done; each consumer sums what it receives.
const mpmcSide = 4

func benchChanMpmc(n int) {
	ch := make(chan int, 1024)
	var sums [mpmcSide]int
	var counts [mpmcSide]int
	var prod, cons sync.WaitGroup
	start := time.Now()
	prod.Add(mpmcSide)
	cons.Add(mpmcSide)
	for c := 0; c < mpmcSide; c++ {
		go func(c int) {
			var s, k int
			for v := range ch {
				s += v
				k++
			}
			sums[c], counts[c] = s, k
			cons.Done()
		}(c)
	}
	for p := 0; p < mpmcSide; p++ {
		go func(p int) {
			for i := p; i < n; i += mpmcSide {
				ch <- i
			}
			prod.Done()
		}(p)
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	el := time.Since(start)
	var sum, count int
	for c := 0; c < mpmcSide; c++ {
		sum += sums[c]
		count += counts[c]
	}
	if want := n * (n - 1) / 2; sum != want || count != n {
		die("chan_mpmc: sum %d, want %d; %d messages, want %d", sum, want, count, n)
	}
	fmt.Fprintf(os.Stderr, "gobench: chan_mpmc: messages per consumer %v\n", counts)
	fmt.Printf("RESULT chan_mpmc %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- chan_fanout --------------------------------------------------------------------------------
// One producer, 16 consumers, each with its own channel of capacity 1024. The producer fills
// quotes[i] (a preallocated array, written before the clock starts so its pages are resident) and
// sends the pointer &quotes[i] to every consumer; a quote is never written again once sent.
// Consumer c accumulates q.Bid (c even) or q.Ask (c odd).
type Quote struct {
	Symbol uint32
	Bid    int64 // price in ticks
	Ask    int64
	TS     int64 // nanoseconds
}

const fanoutConsumers = 16

func benchChanFanout(n int) {
	quotes := make([]Quote, n)
	for i := range quotes {
		quotes[i] = Quote{}
	}
	var chans [fanoutConsumers]chan *Quote
	for c := range chans {
		chans[c] = make(chan *Quote, 1024)
	}
	var sums [fanoutConsumers]int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(fanoutConsumers)
	for c := 0; c < fanoutConsumers; c++ {
		go func(c int) {
			var s int64
			if c%2 == 0 {
				for q := range chans[c] {
					s += q.Bid
				}
			} else {
				for q := range chans[c] {
					s += q.Ask
				}
			}
			sums[c] = s
			wg.Done()
		}(c)
	}
	for i := 0; i < n; i++ { // the producer: main, as in every peer
		q := &quotes[i]
		*q = Quote{Symbol: uint32(i % 500), Bid: int64(i), Ask: int64(i) + 1, TS: int64(i) * 1000}
		for c := 0; c < fanoutConsumers; c++ {
			chans[c] <- q
		}
	}
	for c := range chans {
		close(chans[c])
	}
	wg.Wait()
	el := time.Since(start)
	bidSum := int64(n) * int64(n-1) / 2
	for c := 0; c < fanoutConsumers; c++ {
		want := bidSum
		if c%2 == 1 {
			want += int64(n)
		}
		if sums[c] != want {
			die("chan_fanout: consumer %d: sum %d, want %d", c, sums[c], want)
		}
	}
	fmt.Printf("RESULT chan_fanout %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- mutex_contended ----------------------------------------------------------------------------
// 8 goroutines each increment one shared counter n/8 times, each increment under a sync.Mutex.
const mutexWorkers = 8

func benchMutexContended(n int) {
	if n%mutexWorkers != 0 {
		die("mutex_contended: size must be a multiple of %d, not %d", mutexWorkers, n)
	}
	var mu sync.Mutex
	var counter int
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(mutexWorkers)
	for w := 0; w < mutexWorkers; w++ {
		go func() {
			for i := 0; i < n/mutexWorkers; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if counter != n {
		die("mutex_contended: count %d, want %d", counter, n)
	}
	fmt.Printf("RESULT mutex_contended %.3f ns\n", float64(el.Nanoseconds())/float64(n))
}

// ---- timers ------------------------------------------------------------------------------------
// n goroutines each sleep a random 1-100 ms (time.Sleep). Goroutine i reads the clock, sleeps
// durations[i] and records its lateness: time.Since(start) - durations[i], in ns; below zero
// means a timer fired early (a failure). The durations come from splitmix64 seeded with
// timerSeed, the same sequence as bench_common.hpp's timer_durations_ms.
const timerSeed uint64 = 20260101

func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// percentile: the p-th percentile of sorted values, nearest rank (the ceil(p/100*n)-th smallest).
func percentile(sorted []int64, p int) int64 {
	rank := (p*len(sorted) + 99) / 100
	if rank == 0 {
		rank = 1
	}
	return sorted[rank-1]
}

// timerDiagnostics: not part of the result (stderr, as goro_bench prints it): when the last
// goroutine started, and the lateness of those that woke before that moment and after it.
func timerDiagnostics(late, started, woke []int64) {
	var lastStart int64
	for _, t := range started {
		if t > lastStart {
			lastStart = t
		}
	}
	var before, after []int64
	for i, l := range late {
		if woke[i] <= lastStart {
			before = append(before, l)
		} else {
			after = append(after, l)
		}
	}
	p := func(v []int64, q int) float64 {
		if len(v) == 0 {
			return 0
		}
		sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
		return float64(percentile(v, q)) / 1e3
	}
	fmt.Fprintf(os.Stderr, "gobench: timers: last start at %.1f ms; %d woke before it (late p50 %.1f us, p99 %.1f us), %d after (late p50 %.1f us, p99 %.1f us)\n",
		float64(lastStart)/1e6, len(before), p(before, 50), p(before, 99), len(after), p(after, 50), p(after, 99))
}

func benchTimers(n int) {
	durations := make([]int64, n) // ms
	state := timerSeed
	var dsum int64
	for i := range durations {
		durations[i] = 1 + int64(splitmix64(&state)%100)
		dsum += durations[i]
	}
	// Allocated and written before the clock starts. started, woke: ns since start (diagnostics).
	late, started, woke := make([]int64, n), make([]int64, n), make([]int64, n)
	for i := range late {
		late[i], started[i], woke[i] = 0, 0, 0
	}
	var woken int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			d := time.Duration(durations[i]) * time.Millisecond
			t := time.Now()
			time.Sleep(d)
			end := time.Now()
			late[i] = int64(end.Sub(t) - d)
			started[i], woke[i] = int64(t.Sub(start)), int64(end.Sub(start))
			atomic.AddInt64(&woken, 1)
			wg.Done()
		}(i)
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Fprintf(os.Stderr, "gobench: timers: durations sum %d ms\n", dsum)
	if w := atomic.LoadInt64(&woken); w != int64(n) {
		die("timers: %d goroutines woke, want %d", w, n)
	}
	for i, l := range late {
		if l < 0 {
			die("timers: goroutine %d woke %d ns early (sleep %d ms)", i, -l, durations[i])
		}
	}
	timerDiagnostics(late, started, woke)
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	fmt.Printf("RESULT timers_wall %.3f ms\n", float64(el.Nanoseconds())/1e6)
	fmt.Printf("RESULT timers_late_p50 %.3f us\n", float64(percentile(late, 50))/1e3)
	fmt.Printf("RESULT timers_late_p99 %.3f us\n", float64(percentile(late, 99))/1e3)
	fmt.Printf("RESULT timers_late_max %.3f us\n", float64(late[n-1])/1e3)
}

// ---- tcp_echo -----------------------------------------------------------------------------------
// 64 connections x n round trips of 64 bytes on loopback, server and client in this process, the
// way Go programs are written: net.Listen on 127.0.0.1:0 and an accept loop starting a goroutine
// per connection (conn.Read into a buffer, conn.Write it back, until io.EOF; an explicit loop,
// as goro's server does it: io.Copy(c, c) would splice on Linux), and 64 client goroutines, each
// net.Dial once, then n round trips: conn.Write 64 bytes, io.ReadFull the echo, check it, record
// the round trip's latency. The clock runs from the moment every client has dialled (a closed
// channel starts them together) until the last one is done.
const (
	echoConns = 64
	echoSize  = 64
)

func serveEcho(c net.Conn, wg *sync.WaitGroup) {
	defer wg.Done()
	defer c.Close()
	buf := make([]byte, 16*1024)
	for {
		k, err := c.Read(buf)
		if k > 0 {
			if _, werr := c.Write(buf[:k]); werr != nil {
				die("tcp_echo: server write: %v", werr)
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			die("tcp_echo: server read: %v", err)
		}
	}
}

func benchTCPEcho(rounds int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		die("tcp_echo: listen: %v", err)
	}
	addr := ln.Addr().String()
	var served sync.WaitGroup
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				die("tcp_echo: accept: %v", err)
			}
			served.Add(1)
			go serveEcho(c, &served)
		}
	}()
	lat := make([]int64, echoConns*rounds) // ns, connection i's at [i*rounds, ...)
	for i := range lat {
		lat[i] = 0
	}
	finish := make([]int64, echoConns) // when each client was done, ns since t0
	var t0 time.Time
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(echoConns)
	done.Add(echoConns)
	for i := 0; i < echoConns; i++ {
		go func(i int) {
			defer done.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				die("tcp_echo: dial %s: %v", addr, err)
			}
			ready.Done()
			<-start
			out, in := make([]byte, echoSize), make([]byte, echoSize)
			for k := range out {
				out[k] = byte('a' + i%26)
			}
			my := lat[i*rounds : (i+1)*rounds]
			for r := 0; r < rounds; r++ {
				binary.LittleEndian.PutUint64(out, uint64(i)<<40|uint64(r)) // every message differs
				t := time.Now()
				if _, err := c.Write(out); err != nil {
					die("tcp_echo: client write: %v", err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					die("tcp_echo: client read: %v", err)
				}
				my[r] = int64(time.Since(t))
				if !bytes.Equal(in, out) {
					die("tcp_echo: connection %d, round %d: the echo differs", i, r)
				}
			}
			finish[i] = int64(time.Since(t0))
			c.Close()
		}(i)
	}
	ready.Wait()
	t0 = time.Now()
	close(start) // publishes t0 to the clients
	done.Wait()
	el := time.Since(t0)
	served.Wait() // every server goroutine saw its client's end of stream
	ln.Close()
	<-accepted
	total := float64(echoConns) * float64(rounds)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	sort.Slice(finish, func(a, b int) bool { return finish[a] < finish[b] })
	fmt.Fprintf(os.Stderr, "gobench: tcp_echo: %.0f round trips in %.1f ms, latency max %.1f us; connections done after %.1f ms (first), %.1f ms (median), %.1f ms (last)\n",
		total, float64(el.Nanoseconds())/1e6, float64(lat[len(lat)-1])/1e3,
		float64(finish[0])/1e6, float64(finish[echoConns/2])/1e6, float64(finish[echoConns-1])/1e6)
	fmt.Printf("RESULT echo_rps %.3f req/s\n", total/el.Seconds())
	fmt.Printf("RESULT echo_p50_us %.3f us\n", float64(percentile(lat, 50))/1e3)
	fmt.Printf("RESULT echo_p99_us %.3f us\n", float64(percentile(lat, 99))/1e3)
}

// argUint: a positive whole number from the command line.
func argUint(what, s string) uint64 {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		die("bad %s %q: a positive whole number was expected", what, s)
	}
	return v
}

func main() {
	if len(os.Args) < 2 {
		die("usage: gobench skynet|spawn_join|yield|memory|chan_pingpong|select_pingpong|chan_spsc|chan_mpmc|chan_fanout|mutex_contended|timers|tcp_echo|udp_echo [size]\n" +
			"       gobench fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES\n" +
			"       gobench pipeline DIR QUOTES_PER_SNAPSHOT CHUNK")
	}
	// The seed programs' comparisons take their own argument lists (bench/compare.py).
	switch os.Args[1] {
	case "fanout":
		if len(os.Args) != 6 {
			die("usage: gobench fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES")
		}
		consumers := argUint("CONSUMERS", os.Args[4])
		if consumers > 100000 {
			die("CONSUMERS must be 1 to 100000")
		}
		benchFanout(os.Args[2], os.Args[3], int(consumers), argUint("QUOTES", os.Args[5]))
		return
	case "pipeline":
		if len(os.Args) != 5 {
			die("usage: gobench pipeline DIR QUOTES_PER_SNAPSHOT CHUNK")
		}
		benchPipeline(os.Args[2], argUint("QUOTES_PER_SNAPSHOT", os.Args[3]), argUint("CHUNK", os.Args[4]))
		return
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
	case "chan_pingpong":
		benchChanPingpong(def(2000000))
	case "select_pingpong":
		benchSelectPingpong(def(2000000))
	case "chan_spsc":
		benchChanSpsc(def(10000000))
	case "chan_mpmc":
		benchChanMpmc(def(10000000))
	case "chan_fanout":
		benchChanFanout(def(500000))
	case "mutex_contended":
		benchMutexContended(def(16000000))
	case "timers":
		benchTimers(def(100000))
	case "tcp_echo":
		benchTCPEcho(def(20000)) // round trips per connection
	case "udp_echo":
		benchUDPEcho(def(20000)) // round trips per client (bench/go/udp_echo.go)
	default:
		die("unknown benchmark %q", os.Args[1])
	}
}
