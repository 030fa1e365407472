// The wait queue every blocking object uses (channels/detail/wait_queue.hpp): FIFO order, removal
// from the middle, and pop_claimed skipping the stale nodes of a select that another case won.
#include <doctest/doctest.h>

#include <goro/channels/detail/wait_queue.hpp>

using goro::detail::select_sync;
using goro::detail::wait_node;
using goro::detail::wait_queue;

TEST_CASE("wait_queue: FIFO, push_front, remove from the middle") {
  wait_queue q;
  wait_node a, b, c, d;
  q.push_back(&a);
  q.push_back(&b);
  q.push_back(&c);
  q.push_front(&d);
  CHECK(q.size() == 4);
  q.remove(&b);
  CHECK_FALSE(b.queued);
  CHECK(q.size() == 3);
  CHECK(q.pop_claimed() == &d);
  CHECK(q.pop_claimed() == &a);
  CHECK(q.pop_claimed() == &c);
  CHECK(q.pop_claimed() == nullptr);
  CHECK(q.empty());
}

TEST_CASE("wait_queue: pop_claimed drops the nodes of a select that another case won") {
  wait_queue q;
  select_sync s1, s2;
  wait_node x, y, plain, z;
  x.sel = &s1;
  x.case_index = 0;
  y.sel = &s2;
  y.case_index = 3;
  z.sel = &s1;  // a second case of the first select
  z.case_index = 1;
  q.push_back(&x);
  q.push_back(&y);
  q.push_back(&plain);
  q.push_back(&z);
  // Select 1 is won elsewhere (its case 5 fired on another channel): x and z are stale.
  std::uint32_t e = select_sync::waiting;
  REQUIRE(s1.winner.compare_exchange_strong(e, 5));
  CHECK(q.pop_claimed() == &y);  // x skipped and unlinked
  CHECK_FALSE(x.queued);
  CHECK(s2.winner.load() == 3);  // this pop won select 2 for its case 3
  CHECK(q.pop_claimed() == &plain);
  CHECK(q.pop_claimed() == nullptr);  // z stale too
  CHECK_FALSE(z.queued);
  CHECK(q.empty());
  CHECK(q.size() == 0);
}
