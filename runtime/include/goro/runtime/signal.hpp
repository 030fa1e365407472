// goro/runtime/signal.hpp: Go's os/signal: signals delivered to channels.
//
//   goro::chan<int> sigs(1);
//   goro::signal::notify(sigs, {SIGINT, SIGTERM});   // sigs receives SIGINT or SIGTERM
//   int s = *sigs.recv();
//   goro::signal::stop(sigs);                        // default handling again if nobody listens
//   auto [ctx, cancel] = goro::signal::notify_context(parent, {SIGINT});  // done at the first
//
// The handler never blocks: it writes the number to a self-pipe; one plain thread (started on
// first use) reads it and try_sends to every channel registered for that signal, so a full
// channel drops the signal, as Go's does (give the channel a capacity of at least 1).
#pragma once

#include <goro/channels/chan.hpp>
#include <goro/runtime/context.hpp>

#include <initializer_list>
#include <utility>

namespace goro::signal {

// Registers ch for each signal in sigs (SIGKILL, SIGSTOP and numbers out of range throw
// std::invalid_argument). Calling again with the same channel adds signals.
void notify(const chan<int>& ch, std::initializer_list<int> sigs);
// Unregisters ch from every signal; a signal nobody is registered for any more gets its default
// action back. Safe to call for a channel never registered.
void stop(const chan<int>& ch);
// A child of parent that is cancelled (goro::errc::canceled) at the first of sigs; its
// cancel_func (call it) also stops the registration. Needs a running runtime (a coroutine waits).
std::pair<context, cancel_func> notify_context(const context& parent, std::initializer_list<int> sigs);

}  // namespace goro::signal
