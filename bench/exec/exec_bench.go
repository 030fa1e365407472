// exec_bench.go: Go's peer of exec_bench.cpp: exec.Command("/bin/true").Run(), sequential and 8
// at a time. Run: go run exec_bench.go
package main

import (
	"fmt"
	"os/exec"
	"sync"
	"time"
)

func main() {
	const n = 400
	for round := 0; round < 3; round++ {
		t0 := time.Now()
		for i := 0; i < n; i++ {
			if err := exec.Command("/bin/true").Run(); err != nil {
				panic(err)
			}
		}
		t1 := time.Now()
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/8; i++ {
					_ = exec.Command("/bin/true").Run()
				}
			}()
		}
		wg.Wait()
		t2 := time.Now()
		fmt.Printf("go exec /bin/true: sequential %.1f us/run, 8 at a time %.1f us/run\n",
			float64(t1.Sub(t0).Microseconds())/n, float64(t2.Sub(t1).Microseconds())/n)
	}
}
