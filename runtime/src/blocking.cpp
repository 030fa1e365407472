// blocking.cpp: the thread pool behind goro::blocking.
//
// One process-wide pool (it outlives any one goro::run, and is never destroyed: its threads are
// detached and may still be parked in wait_for when static destructors run, so the pool's mutex
// and condition variable must never be destroyed under them). A FIFO of jobs under `mu`; a job
// goes to an idle thread if enough are idle for the queue (notify_one), else to a new thread while
// fewer than `max_threads` run, else it waits in the queue for the next free thread. Threads retire after
// `idle_timeout` without work.
//
// Lock order: `mu` is a leaf; jobs run (and wake their coroutine) without it.
// The deadlock detector is told of the pool's threads and of each job from submission until it
// has run (sched::note_helper_threads / note_outside_wakers): a coroutine waiting for a job is
// not deadlocked.
#include <goro/runtime/blocking.hpp>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace goro::detail {

namespace {

class blocking_pool {
 public:
  void submit(blocking_job* j) {
    std::unique_lock lk(mu_);
    j->next = nullptr;
    if (tail_)
      tail_->next = j;
    else
      head_ = j;
    tail_ = j;
    ++queued_;
    sched::note_outside_wakers(1);  // until the job has run: it will wake its coroutine
    // Idle threads that were notified but have not woken yet still count in idle_: compare with
    // the queue's length, or a burst of jobs would all go to the one thread notified first.
    if (idle_ >= queued_) {
      cv_.notify_one();
    } else if (threads_ < max_threads) {
      ++threads_;
      sched::note_helper_threads(1);
      std::thread([this] { serve(); }).detach();
    }
  }

 private:
  static constexpr unsigned max_threads = 64;
  static constexpr auto idle_timeout = std::chrono::seconds(30);

  void serve() {
    std::unique_lock lk(mu_);
    for (;;) {
      if (!head_) {
        ++idle_;
        bool got = cv_.wait_for(lk, idle_timeout, [this] { return head_ != nullptr; });
        --idle_;
        if (!got) {
          --threads_;
          sched::note_helper_threads(-1);
          return;
        }
      }
      blocking_job* j = head_;
      head_ = j->next;
      if (!head_) tail_ = nullptr;
      --queued_;
      lk.unlock();
      j->run();
      sched::note_outside_wakers(-1);
      lk.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  blocking_job* head_ = nullptr;
  blocking_job* tail_ = nullptr;
  unsigned queued_ = 0;   // jobs in the queue
  unsigned threads_ = 0;  // running pool threads
  unsigned idle_ = 0;     // of which waiting for work
};

blocking_pool& pool() {
  static blocking_pool* p = new blocking_pool;  // never destroyed (see the header comment)
  return *p;
}

}  // namespace

void submit_blocking(blocking_job* j) { pool().submit(j); }

}  // namespace goro::detail
