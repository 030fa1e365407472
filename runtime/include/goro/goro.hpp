// <goro/goro.hpp>: the umbrella header. Go's goroutines and channels for C++20.
#pragma once

#include <goro/channels/chan.hpp>
#include <goro/channels/select.hpp>
#include <goro/runtime/after_func.hpp>
#include <goro/runtime/blocking.hpp>
#include <goro/runtime/context.hpp>
#include <goro/runtime/errgroup.hpp>
#include <goro/runtime/error.hpp>
#include <goro/runtime/bufio.hpp>
#include <goro/runtime/exec.hpp>
#include <goro/runtime/fs.hpp>
#include <goro/runtime/future_cache.hpp>
#include <goro/runtime/io.hpp>
#include <goro/runtime/go.hpp>
#include <goro/runtime/goexit.hpp>
#include <goro/runtime/goroutine.hpp>
#include <goro/runtime/net.hpp>
#include <goro/runtime/net_lookup.hpp>
#include <goro/runtime/net_udp.hpp>
#include <goro/runtime/run.hpp>
#include <goro/runtime/signal.hpp>
#include <goro/runtime/stats.hpp>
#include <goro/runtime/sync.hpp>
#include <goro/runtime/task_set.hpp>
#include <goro/runtime/time.hpp>
#include <goro/runtime/weighted_semaphore.hpp>
