// Go's stacks grow; goro's do not. Each coroutine has a fixed stack (default 256 KiB, mapped
// lazily, so an untouched stack costs address space, not memory), with a guard page below it.
// Give a coroutine that recurses deeply or keeps big arrays on the stack a bigger one.
#include <goro/goro.hpp>

#include <cstddef>
#include <cstdint>

__attribute__((noinline)) std::size_t depth_sum(std::size_t n) {
  volatile char frame[256];  // about 300 bytes of stack per level
  frame[0] = 1;
  return n == 0 ? 0 : depth_sum(n - 1) + static_cast<std::size_t>(frame[0]);  // 1 per level
}

std::size_t stack_bytes() {
  goro::sched::stack_range r = goro::sched::current_stack();
  return static_cast<std::size_t>(static_cast<char*>(r.hi) - static_cast<char*>(r.lo));
}

int main() {
  // Every coroutine's default, for the whole run: options::stack_size.
  return goro::run(goro::options{.stack_size = 512 * 1024}, [] {
    const bool default_set = stack_bytes() >= 512 * 1024;
    // One coroutine's: spawn_options::stack_size. 20,000 levels of ~300 bytes need ~6 MiB:
    // that would overflow 512 KiB (a fatal "stack overflow" report, exit code 2).
    auto deep = goro::spawn(goro::spawn_options{.name = "parser", .stack_size = 8 << 20},
                            [] { return std::pair(depth_sum(20'000), stack_bytes()); });
    auto [levels, bytes] = deep.get();
    return default_set && levels == 20'000 && bytes >= (8u << 20) ? 0 : 1;
  });
}
