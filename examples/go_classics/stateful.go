// stateful: a stateful goroutine (Go by Example, "Stateful Goroutines"). One goroutine owns a
// map; every other goroutine reads and changes it only by sending it requests on channels,
// each with its own channel for the answer. No mutex: the owner serializes the requests.
//
// For a deterministic result, the writers add to a key (Go by Example overwrites it) and each
// goroutine makes a fixed number of requests (keys and amounts from seeded xorshift
// generators): the totals cannot depend on the interleaving. Each reader also checks that the
// values it reads never go down, which holds only if every request is served atomically.
package main

import (
	"fmt"
	"sync"
	"sync/atomic"
)

type readOp struct {
	key  int
	resp chan int
}

type writeOp struct {
	key  int
	val  int // added to the key's value
	resp chan bool
}

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
type xorshift uint64

func (x *xorshift) next() uint64 {
	*x ^= *x << 13
	*x ^= *x >> 7
	*x ^= *x << 17
	return uint64(*x)
}

func main() {
	const keys, readers, writers, opsEach = 5, 50, 10, 100
	var readOps, writeOps uint64
	var wentBack int32

	reads := make(chan readOp)
	writes := make(chan writeOp)

	// The goroutine that owns the state.
	go func() {
		state := make(map[int]int)
		for {
			select {
			case read := <-reads:
				read.resp <- state[read.key]
			case write := <-writes:
				state[write.key] += write.val
				write.resp <- true
			}
		}
	}()

	var wg sync.WaitGroup
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := xorshift(r + 1)
			last := make(map[int]int)
			for i := 0; i < opsEach; i++ {
				read := readOp{key: int(rng.next() % keys), resp: make(chan int)}
				reads <- read
				v := <-read.resp
				if v < last[read.key] {
					atomic.StoreInt32(&wentBack, 1)
				}
				last[read.key] = v
				atomic.AddUint64(&readOps, 1)
			}
		}(r)
	}
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := xorshift(1000 + w)
			for i := 0; i < opsEach; i++ {
				key := int(rng.next() % keys)
				val := int(rng.next() % 100)
				write := writeOp{key: key, val: val, resp: make(chan bool)}
				writes <- write
				<-write.resp
				atomic.AddUint64(&writeOps, 1)
			}
		}(w)
	}
	wg.Wait()

	fmt.Println("readOps:", atomic.LoadUint64(&readOps))
	fmt.Println("writeOps:", atomic.LoadUint64(&writeOps))
	for k := 0; k < keys; k++ {
		read := readOp{key: k, resp: make(chan int)}
		reads <- read
		fmt.Printf("state[%d] = %d\n", k, <-read.resp)
	}
	fmt.Println("no reader saw a value go down:", atomic.LoadInt32(&wentBack) == 0)
}
