// worker_pool: a fixed pool of workers takes jobs from one channel and sends the results on
// another (Go by Example, "Worker Pools", with real work: each job finds the longest Collatz
// chain below its limit). Results arrive in no fixed order; main files them by job.
package main

import "fmt"

type job struct {
	id, limit int
}

type result struct {
	job, limit, start, steps, worker int
}

// longestCollatz returns the start below limit whose Collatz sequence takes the most steps to
// reach 1, and that number of steps (the smallest such start on a tie).
func longestCollatz(limit int) (start, steps int) {
	for s := 1; s < limit; s++ {
		n, k := s, 0
		for n != 1 {
			if n%2 == 0 {
				n /= 2
			} else {
				n = 3*n + 1
			}
			k++
		}
		if k > steps {
			start, steps = s, k
		}
	}
	return
}

func worker(id int, jobs <-chan job, results chan<- result) {
	for j := range jobs {
		start, steps := longestCollatz(j.limit)
		results <- result{j.id, j.limit, start, steps, id}
	}
}

func main() {
	const numJobs = 24
	const numWorkers = 4
	jobs := make(chan job, numJobs)
	results := make(chan result, numJobs)

	for w := 1; w <= numWorkers; w++ {
		go worker(w, jobs, results)
	}
	for j := 1; j <= numJobs; j++ {
		jobs <- job{j, j * 4000}
	}
	close(jobs)

	byJob := make([]result, numJobs+1)
	done := 0
	for a := 1; a <= numJobs; a++ {
		r := <-results
		byJob[r.job] = r
		if r.worker >= 1 && r.worker <= numWorkers {
			done++
		}
	}
	for _, r := range byJob[1:] {
		fmt.Printf("job %2d: below %6d the longest Collatz chain starts at %6d (%3d steps)\n",
			r.job, r.limit, r.start, r.steps)
	}
	fmt.Printf("%d jobs done by a pool of %d workers\n", done, numWorkers)
}
