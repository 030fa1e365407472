// worker_pool: a fixed pool of workers, ported line by line from worker_pool.go.
//
// Porting notes: Go's int is 64 bits, and a Collatz sequence below 96,000 climbs past 2^31, so
// the C++ port computes it in long long (int would overflow: undefined behaviour). Go's
// multiple results (start, steps) are a std::pair and a structured binding.
#include <goro/goro.hpp>

#include <cstdio>
#include <utility>
#include <vector>

struct job {
  int id, limit;
};

struct result {
  int job, limit;
  long long start;
  int steps, worker;
};

// longestCollatz returns the start below limit whose Collatz sequence takes the most steps to
// reach 1, and that number of steps (the smallest such start on a tie).
static std::pair<long long, int> longestCollatz(int limit) {
  long long start = 0;
  int steps = 0;
  for (long long s = 1; s < limit; s++) {
    long long n = s;
    int k = 0;
    while (n != 1) {
      if (n % 2 == 0) {
        n /= 2;
      } else {
        n = 3 * n + 1;
      }
      k++;
    }
    if (k > steps) {
      start = s;
      steps = k;
    }
  }
  return {start, steps};
}

static void worker(int id, goro::recv_chan<job> jobs, goro::send_chan<result> results) {
  for (job j : jobs) {
    auto [start, steps] = longestCollatz(j.limit);
    results.send(result{j.id, j.limit, start, steps, id});
  }
}

int main() {
  return goro::run([] {
    const int numJobs = 24;
    const int numWorkers = 4;
    goro::chan<job> jobs(numJobs);
    goro::chan<result> results(numJobs);

    for (int w = 1; w <= numWorkers; w++) {
      goro::go(worker, w, jobs, results);
    }
    for (int j = 1; j <= numJobs; j++) {
      jobs.send(job{j, j * 4000});
    }
    jobs.close();

    std::vector<result> byJob(numJobs + 1);
    int done = 0;
    for (int a = 1; a <= numJobs; a++) {
      result r = *results.recv();
      byJob[r.job] = r;
      if (r.worker >= 1 && r.worker <= numWorkers) {
        done++;
      }
    }
    for (std::size_t i = 1; i < byJob.size(); i++) {
      const result& r = byJob[i];
      std::printf("job %2d: below %6d the longest Collatz chain starts at %6lld (%3d steps)\n",
                  r.job, r.limit, r.start, r.steps);
    }
    std::printf("%d jobs done by a pool of %d workers\n", done, numWorkers);
  });
}
