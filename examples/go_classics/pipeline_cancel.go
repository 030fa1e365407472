// pipeline_cancel: pipelines with explicit cancellation through a context, after the Go blog's
// "Go Concurrency Patterns: Pipelines and cancellation" (with ctx.Done() as the done channel).
//
// Each stage is a goroutine that receives from the stage before it and sends to the one after
// it, and gives up as soon as the context is done, so that a consumer that stops early can
// cancel the whole pipeline without leaking a goroutine. A WaitGroup counts the stages, so the
// program can show that every one of them has stopped.
//
//  1. An endless pipeline, gen -> odd -> sq: main takes the first 10 values, then cancels.
//  2. Fan-out and fan-in: 4 sq workers on one finite source, merged; main sums every value.
//  3. The same fan-out on an endless source: main takes one value, then cancels.
package main

import (
	"context"
	"fmt"
	"sync"
)

// gen sends from, from+1, ... up to and including to (to < 0: forever), then closes its channel.
func gen(ctx context.Context, stages *sync.WaitGroup, from, to int) <-chan int {
	out := make(chan int)
	stages.Add(1)
	go func() {
		defer stages.Done()
		defer close(out)
		for i := from; to < 0 || i <= to; i++ {
			select {
			case out <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// odd passes on the odd values it receives.
func odd(ctx context.Context, stages *sync.WaitGroup, in <-chan int) <-chan int {
	out := make(chan int)
	stages.Add(1)
	go func() {
		defer stages.Done()
		defer close(out)
		for n := range in {
			if n%2 == 1 {
				select {
				case out <- n:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// sq sends the square of each value it receives.
func sq(ctx context.Context, stages *sync.WaitGroup, in <-chan int) <-chan int {
	out := make(chan int)
	stages.Add(1)
	go func() {
		defer stages.Done()
		defer close(out)
		for n := range in {
			select {
			case out <- n * n:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// merge sends the values of every channel in cs on one channel, closed once all of cs are.
func merge(ctx context.Context, stages *sync.WaitGroup, cs ...<-chan int) <-chan int {
	var wg sync.WaitGroup
	out := make(chan int)

	// Start an output goroutine for each input channel in cs. output copies values from c to
	// out until c is closed or ctx is done, then calls wg.Done.
	output := func(c <-chan int) {
		defer stages.Done()
		defer wg.Done()
		for n := range c {
			select {
			case out <- n:
			case <-ctx.Done():
				return
			}
		}
	}
	wg.Add(len(cs))
	stages.Add(len(cs) + 1)
	for _, c := range cs {
		go output(c)
	}

	// Start a goroutine to close out once all the output goroutines are done.
	go func() {
		defer stages.Done()
		wg.Wait()
		close(out)
	}()
	return out
}

func main() {
	{
		ctx, cancel := context.WithCancel(context.Background())
		var stages sync.WaitGroup
		out := sq(ctx, &stages, odd(ctx, &stages, gen(ctx, &stages, 1, -1)))
		fmt.Print("1. the first 10 odd squares:")
		for i := 0; i < 10; i++ {
			fmt.Print(" ", <-out)
		}
		fmt.Println()
		cancel()
		stages.Wait()
		fmt.Println("   every stage has stopped:", ctx.Err())
	}
	{
		ctx, cancel := context.WithCancel(context.Background())
		var stages sync.WaitGroup
		src := gen(ctx, &stages, 1, 1000)
		workers := make([]<-chan int, 4)
		for i := range workers {
			workers[i] = sq(ctx, &stages, src)
		}
		count, sum := 0, 0
		for n := range merge(ctx, &stages, workers...) {
			count++
			sum += n
		}
		stages.Wait()
		fmt.Printf("2. %d squares from %d workers, sum %d; every stage has stopped: %v\n",
			count, len(workers), sum, ctx.Err())
		cancel()
	}
	{
		ctx, cancel := context.WithCancel(context.Background())
		var stages sync.WaitGroup
		src := gen(ctx, &stages, 1, -1)
		workers := make([]<-chan int, 4)
		for i := range workers {
			workers[i] = sq(ctx, &stages, src)
		}
		out := merge(ctx, &stages, workers...)
		n := <-out
		root := 1
		for root*root < n {
			root++
		}
		fmt.Printf("3. received one value, a square: %t\n", root*root == n)
		cancel()
		stages.Wait()
		_, open := <-out
		fmt.Printf("   every stage has stopped: %v; the merged channel is closed: %t\n", ctx.Err(), !open)
	}
}
