// goro/runtime/future_cache.hpp: a cache whose misses are computed once, however many callers
// ask at the same time (Go's golang.org/x/sync/singleflight, keeping the results).
//
//   goro::future_cache<std::string, Profile> profiles({.capacity = 10'000, .ttl = 30s});
//   Profile p = profiles.get(user, [&] { return load_profile(user); });   // or [](const auto& k)
//   auto fut = profiles.get_future(user, load_profile);   // computes in a new coroutine
//   ... fut.get() ...                                    // parks until the value exists
//
// Semantics:
//   - get(key, compute) returns the cached value if there is one (a hit). Otherwise the first
//     caller (the leader) runs compute() (or compute(key)) on its own coroutine, and every caller
//     that asks for the key meanwhile parks until the result exists (a plain thread blocks), then
//     receives a copy of it: one computation per key, whatever the number of concurrent callers,
//     on whichever workers or threads they run. All are woken the moment the leader finishes.
//   - If compute throws, the leader and every waiter of that computation get the exception (the
//     same exception object, as with std::shared_future), and nothing is cached: the next get()
//     computes again.
//   - get_future(key, compute) does not wait: it returns a cache_future that is ready at once on
//     a hit, shares the computation in progress, or starts compute in a new coroutine (Go's
//     singleflight.DoChan). Its get() parks until the result exists. An exception nobody fetches
//     with get() is dropped (the waiters of a shared computation may all have given up).
//   - Capacity: at most options.capacity completed values are kept; one more evicts the least
//     recently used (a hit counts as a use). Computations in progress are never evicted and do not
//     count. capacity 0 keeps nothing: pure singleflight (concurrent callers still share).
//   - Expiry: with options.ttl > 0, a value is served for ttl after its computation finished
//     (steady_clock), never longer; the first get() after that computes it again (while waiters
//     of that new computation park as usual). ttl 0: values never expire.
//   - erase(key) forgets a key; a computation in progress goes on and its callers get its result,
//     but it is not stored. clear() forgets everything the same way.
//   - compute must not get() its own key (from the same coroutine that throws std::logic_error;
//     a longer cycle, a -> b -> a, deadlocks, as in Go).
//
// Everything is callable concurrently from coroutines on any worker and from plain threads. K must
// be copyable; get() copies V out (the future's get() returns a reference). The cache must outlive
// the get() calls on it; computations started by get_future hold the cache's state themselves.
//
// Internals: docs/architecture.md, "future_cache" (the state, the lock order, the memory order).
#pragma once

#include <goro/channels/detail/wait_queue.hpp>
#include <goro/runtime/go.hpp>
#include <goro/sched/config.hpp>
#include <goro/sched/sched.hpp>
#include <goro/sched/spin_lock.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <unordered_map>
#include <utility>

namespace goro {

struct future_cache_options {
  std::size_t capacity = 1024;                   // completed values kept (LRU); 0: none
  std::chrono::steady_clock::duration ttl{0};    // a value's life from its completion; 0: forever
};

// Counters since the cache was made (a snapshot, consistent: taken under the cache's lock).
struct future_cache_stats {
  std::uint64_t hits = 0;          // calls served a completed value
  std::uint64_t coalesced = 0;     // calls that joined a computation another caller started
  std::uint64_t computations = 0;  // compute() invocations (each a call that found nothing usable)
  std::uint64_t failures = 0;      // computations that threw
  std::uint64_t evictions = 0;     // completed values dropped for capacity
  std::uint64_t expirations = 0;   // completed values dropped because their ttl had passed
  // Calls that found no completed value: they computed or waited.
  std::uint64_t misses() const noexcept { return computations + coalesced; }
};

namespace detail {

// One computation and its result, shared by the cache's entry, the leader, every waiter and every
// cache_future (a shared_ptr each): it outlives its entry when evicted or erased while in use.
//
// state_: running -> done | failed, exactly once, in finish(). The leader writes value_ or error_
// before finish(), and nobody writes them after: finish()'s release store (and mu_) publishes
// them to whoever sees the state leave `running` (finished()'s acquire load, a read under mu_, or
// a wake-up, which orders the waker's writes before the woken party's return from park).
template <class V>
class fc_flight {
 public:
  static constexpr std::uint8_t running = 0, done = 1, failed = 2;

  fc_flight() = default;
  fc_flight(const fc_flight&) = delete;
  fc_flight& operator=(const fc_flight&) = delete;

  // Acquire: pairs with finish()'s release store; true means value_/error_ are readable.
  bool finished() const noexcept { return state_.load(std::memory_order_acquire) != running; }

  // Parks (a plain thread blocks) until finish() has run.
  void wait() {
    if (finished()) return;
    sched::waiter w;
    wait_node n;
    n.w = &w;
    {
      sched::spin_guard g(mu_);
      // Under mu_: finish() either ran before (we see its state) or will pop our node.
      if (state_.load(std::memory_order_relaxed) != running) return;
      q_.push_back(&n);
    }
    w.wait("future_cache.get");
  }

  // The value, or the computation's exception rethrown; waits first.
  const V& result() {
    wait();
    if (state_.load(std::memory_order_relaxed) == failed) std::rethrow_exception(error_);
    return *value_;
  }

  // The end of the computation: publishes the state and collects every waiter into wl, to be woken
  // by the caller once it has released its locks. Called once, by the leader, with its cache's
  // lock held (lock order: the cache's lock, then mu_; mu_ is a leaf).
  void finish(std::uint8_t s, wake_list& wl) noexcept {
    sched::spin_guard g(mu_);
    state_.store(s, std::memory_order_release);  // publishes value_/error_ (see finished())
    while (wait_node* n = q_.pop_claimed()) wl.push(n);
  }

  // Written by the leader alone, before finish(); read-only afterwards.
  std::optional<V> value_;
  std::exception_ptr error_;
  // The coroutine running compute (nullptr: a plain thread, or not started yet), so that compute
  // asking for its own key fails instead of waiting for itself. Relaxed: only the leader's own
  // reads of its own store matter (program order); any other reader merely sees "not me".
  std::atomic<sched::coroutine*> leader_{nullptr};

 private:
  std::atomic<std::uint8_t> state_{running};
  sched::spin_lock mu_;  // guards q_ and the running -> finished transition; a leaf lock
  wait_queue q_ GORO_GUARDED_BY(mu_);
};

}  // namespace detail

// The result of one future_cache computation, shared: copies refer to the same result. get() parks
// until it exists (a plain thread blocks) and returns it or rethrows the computation's exception;
// it may be called any number of times, from any number of coroutines and threads.
template <class V>
class cache_future {
 public:
  cache_future() = default;

  bool valid() const noexcept { return f_ != nullptr; }
  // True once the result (value or exception) exists: get() will not wait.
  bool ready() const noexcept { return f_ && f_->finished(); }
  void wait() const { check().wait(); }
  const V& get() const { return check().result(); }

 private:
  template <class, class, class, class>
  friend class future_cache;
  explicit cache_future(std::shared_ptr<detail::fc_flight<V>> f) noexcept : f_(std::move(f)) {}
  detail::fc_flight<V>& check() const {
    if (!f_) throw std::logic_error("goro::cache_future: no result (default-constructed)");
    return *f_;
  }

  std::shared_ptr<detail::fc_flight<V>> f_;
};

template <class K, class V, class Hash = std::hash<K>, class Eq = std::equal_to<K>>
class future_cache {
 public:
  using key_type = K;
  using mapped_type = V;
  using options = future_cache_options;
  using future = cache_future<V>;

  explicit future_cache(options o = {}) : s_(std::make_shared<core>(o)) {}
  future_cache(const future_cache&) = delete;
  future_cache& operator=(const future_cache&) = delete;

  // The value for key: cached, computed by compute() / compute(key) on this coroutine, or waited
  // for while another caller computes it. Rethrows the computation's exception.
  template <class F>
  V get(const K& key, F&& compute) {
    check_compute<F>();
    core& s = *s_;
    claim c = s.acquire(key, sched::current());
    if (c.lead) s.lead(*c.f, key, compute);  // rethrows compute's exception
    return c.f->result();                    // a copy; parks while another caller computes
  }

  // A handle on the value for key that does not wait: ready on a hit, shared with a computation in
  // progress, or a new computation started in its own coroutine (compute is decay-copied into it).
  template <class F>
  future get_future(const K& key, F&& compute) {
    check_compute<F>();
    claim c = s_->acquire(key, nullptr);
    if (c.lead) {
      try {
        goro::go(spawn_options{.name = "future_cache compute"},
                 [s = s_, f = c.f, key, fn = std::decay_t<F>(std::forward<F>(compute))]() mutable noexcept {
                   f->leader_.store(sched::current(), std::memory_order_relaxed);
                   try {
                     s->lead(*f, key, fn);
                   } catch (...) {
                     // Kept in the flight for every future's get(); this coroutine has no one to tell.
                   }
                 });
      } catch (...) {  // the coroutine could not be started: the computation fails at once
        c.f->error_ = std::current_exception();
        s_->complete(*c.f, false);
        throw;
      }
    }
    return future(std::move(c.f));
  }

  // True if a completed, unexpired value for key is cached. Neither a use (LRU) nor counted.
  bool contains(const K& key) const { return s_->contains(key); }
  // Forgets key; true if it was there (completed or being computed).
  bool erase(const K& key) { return s_->erase(key); }
  void clear() { s_->clear(); }
  // Completed values held (expired ones included until they are noticed), at most capacity().
  std::size_t size() const { return s_->size(false); }
  // Keys being computed now.
  std::size_t in_flight() const { return s_->size(true); }
  future_cache_stats stats() const { return s_->stats(); }
  std::size_t capacity() const noexcept { return s_->capacity; }
  std::chrono::steady_clock::duration ttl() const noexcept { return std::chrono::nanoseconds(s_->ttl_ns); }

 private:
  template <class F>
  static constexpr void check_compute() {
    using fn = std::decay_t<F>&;
    if constexpr (std::is_invocable_v<fn, const K&>) {
      static_assert(std::is_convertible_v<std::invoke_result_t<fn, const K&>, V>,
                    "goro::future_cache: compute(key) must return something convertible to V");
    } else {
      static_assert(std::is_invocable_v<fn>, "goro::future_cache: compute must be callable as "
                                             "compute(key) or compute()");
      static_assert(std::is_convertible_v<std::invoke_result_t<fn>, V>,
                    "goro::future_cache: compute() must return something convertible to V");
    }
  }

  struct entry;
  struct flight final : detail::fc_flight<V> {
    entry* owner = nullptr;  // the entry whose computation this is, while running and still mapped
                             // (guarded by core::mu; cleared by finish, erase and clear)
  };
  // A key's slot in the map. Map nodes never move (unordered_map keeps references stable across
  // rehashing), so entries point at each other and at their keys.
  struct entry {
    std::shared_ptr<flight> f;    // running or done, never failed (a failure unmaps its entry)
    const K* key = nullptr;       // this entry's key, in its map node
    entry* newer = nullptr;       // LRU list links: completed entries only
    entry* older = nullptr;
    std::int64_t completed_ns = 0;  // steady_clock, when f finished
  };
  using map_type = std::unordered_map<K, entry, Hash, Eq>;
  using node_type = typename map_type::node_type;

  struct claim {
    std::shared_ptr<flight> f;
    bool lead = false;  // the caller must compute f
  };

  static std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // The shared state: held by the cache and by each coroutine get_future started.
  //
  // Lock order: mu, then a flight's mu_ (inside fc_flight::finish). mu is otherwise a leaf: held
  // only for map and list operations (which run K's hash, equality and copy, and allocate a map
  // node or a flight: none may park), never across compute, a copy or destruction of V, or a
  // wake-up. Evicted and erased map nodes are extracted under mu and destroyed after unlocking.
  //
  // Invariants, whenever mu is free:
  //   - every entry's flight is running or done, never failed;
  //   - an entry is in the LRU list iff its flight is done, and `completed` counts them;
  //   - completed <= capacity;
  //   - a running flight's owner is its entry; an unmapped or finished flight has no owner.
  struct core {
    explicit core(const options& o)
        : capacity(o.capacity), ttl_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(o.ttl).count()) {}

    const std::size_t capacity;
    const std::int64_t ttl_ns;  // <= 0: no expiry

    mutable sched::spin_lock mu{sched::lock_rank::future_cache};
    map_type map GORO_GUARDED_BY(mu);
    entry* newest GORO_GUARDED_BY(mu) = nullptr;  // LRU list: newest ... oldest
    entry* oldest GORO_GUARDED_BY(mu) = nullptr;
    std::size_t completed GORO_GUARDED_BY(mu) = 0;
    future_cache_stats st GORO_GUARDED_BY(mu);

    bool expired(const entry& e, std::int64_t now) const noexcept {
      return ttl_ns > 0 && now - e.completed_ns >= ttl_ns;
    }

    void lru_unlink(entry& e) GORO_REQUIRES(mu) {
      (e.newer ? e.newer->older : newest) = e.older;
      (e.older ? e.older->newer : oldest) = e.newer;
      e.newer = e.older = nullptr;
    }
    void lru_push_newest(entry& e) GORO_REQUIRES(mu) {
      e.older = newest;
      e.newer = nullptr;
      (newest ? newest->newer : oldest) = &e;
      newest = &e;
    }

    // Looks key up: a hit, a computation to join, or a new one for the caller to lead (a new
    // entry, or an expired one given a fresh flight).
    claim acquire(const K& key, sched::coroutine* self) {
      const std::int64_t now = ttl_ns > 0 ? now_ns() : 0;  // read before the lock: a value that
                                                            // completes meanwhile counts as fresh
      std::shared_ptr<flight> stale;  // an expired flight: released after unlocking (V's destructor)
      bool recursive = false;
      claim c;
      {
        sched::spin_guard g(mu);
        auto it = map.find(key);
        if (it == map.end()) {
          auto nf = std::make_shared<flight>();
          it = map.try_emplace(key).first;  // may throw: then nothing has changed
          entry& e = it->second;
          e.key = &it->first;
          e.f = nf;
          nf->owner = &e;
          nf->leader_.store(self, std::memory_order_relaxed);
          ++st.computations;
          c = {std::move(nf), true};
        } else if (entry& e = it->second; !e.f->finished()) {  // stable: finish() needs mu
          if (self && e.f->leader_.load(std::memory_order_relaxed) == self) {
            recursive = true;
          } else {
            ++st.coalesced;
            c = {e.f, false};
          }
        } else if (expired(e, now)) {
          auto nf = std::make_shared<flight>();  // may throw: then nothing has changed
          lru_unlink(e);
          --completed;
          ++st.expirations;
          stale = std::exchange(e.f, nf);
          nf->owner = &e;
          nf->leader_.store(self, std::memory_order_relaxed);
          ++st.computations;
          c = {std::move(nf), true};
        } else {
          lru_unlink(e);
          lru_push_newest(e);
          ++st.hits;
          c = {e.f, false};
        }
      }
      if (recursive)
        throw std::logic_error("goro::future_cache: compute asked for the key it is computing "
                               "(it would wait for itself)");
      return c;
    }

    // Runs the computation of f (the caller leads it) and completes it; rethrows its exception.
    template <class F>
    void lead(flight& f, const K& key, F& fn) {
      try {
        if constexpr (std::is_invocable_v<F&, const K&>)
          f.value_.emplace(std::invoke(fn, key));
        else
          f.value_.emplace(std::invoke(fn));
      } catch (...) {
        f.error_ = std::current_exception();
        complete(f, false);
        throw;
      }
      complete(f, true);
    }

    // Ends f's computation: publishes it, wakes its waiters, and stores it (success) or unmaps
    // its entry (failure). Bounded work under the lock and no allocation: it cannot fail.
    void complete(flight& f, bool ok) noexcept {
      const std::int64_t now = now_ns();  // after compute returned: expiry counts from here
      node_type dead[3];                  // destroyed last, after unlocking (K's and V's destructors)
      detail::wake_list wl;
      {
        sched::spin_guard g(mu);
        f.finish(ok ? flight::done : flight::failed, wl);
        if (!ok) ++st.failures;
        if (entry* e = std::exchange(f.owner, nullptr)) {  // null: erased (or cleared) meanwhile
          if (!ok) {
            dead[0] = map.extract(map.find(*e->key));  // not cached: the next get() computes
          } else {
            e->completed_ns = now;
            lru_push_newest(*e);
            if (++completed > capacity) {  // one over at most: each completion adds one
              dead[0] = drop_oldest();
              ++st.evictions;
            }
            // Expired values at the old end go too (a bounded sweep; the rest go when noticed).
            for (int i = 1; i < 3 && oldest && expired(*oldest, now); ++i) {
              dead[i] = drop_oldest();
              ++st.expirations;
            }
          }
        }
      }
      wl.wake_all();
    }

    node_type drop_oldest() GORO_REQUIRES(mu) {
      entry& e = *oldest;
      lru_unlink(e);
      --completed;
      return map.extract(map.find(*e.key));
    }

    bool contains(const K& key) const {
      const std::int64_t now = ttl_ns > 0 ? now_ns() : 0;
      sched::spin_guard g(mu);
      auto it = map.find(key);
      return it != map.end() && it->second.f->finished() && !expired(it->second, now);
    }

    bool erase(const K& key) {
      node_type dead;  // destroyed after unlocking
      sched::spin_guard g(mu);
      auto it = map.find(key);
      if (it == map.end()) return false;
      entry& e = it->second;
      if (e.f->finished()) {
        lru_unlink(e);
        --completed;
      } else {
        e.f->owner = nullptr;  // its computation goes on, unstored
      }
      dead = map.extract(it);
      return true;
    }

    void clear() {
      map_type old;  // destroyed after unlocking
      sched::spin_guard g(mu);
      for (auto& kv : map)
        if (!kv.second.f->finished()) kv.second.f->owner = nullptr;
      old.swap(map);  // nodes keep their addresses; none is referenced any more
      newest = oldest = nullptr;
      completed = 0;
    }

    std::size_t size(bool running) const {
      sched::spin_guard g(mu);
      return running ? map.size() - completed : completed;
    }

    future_cache_stats stats() const {
      sched::spin_guard g(mu);
      return st;
    }
  };

  std::shared_ptr<core> s_;
};

}  // namespace goro
