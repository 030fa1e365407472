#!/usr/bin/env python3
"""The Python multiprocessing peer of the fanout comparison (bench/fanout/README.md).

    python3 fanout_mp.py fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES

The usual Python answer to "one feed, many statistics": the listener (this process) parses each
message once into a Quote and puts it on every consumer's multiprocessing.Queue (maxsize 1024,
put blocks when full); each Queue pickles it -- once per consumer -- and every consumer process
unpickles its own copy. One process per consumer (fork start method), None as the end sentinel,
the digests come back on a result queue.
"""

import multiprocessing as mp
import os
import queue
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fanout_common as fc  # noqa: E402


def consumer_main(k, q, results, universe):
    try:
        results.put(("ready", k, None))
        results.put(("digest", k, fc.consume(k, q.get, universe)))
    except BaseException as e:  # report it rather than leave the parent waiting
        results.put(("error", k, f"{type(e).__name__}: {e}"))
        raise


def main():
    feed_path, universe_path, consumers, quotes = fc.parse_args(sys.argv, "fanout_mp.py")
    try:
        universe = fc.Universe(universe_path)
    except (OSError, fc.FeedError) as e:
        print(f"fanout_mp.py: {e}", file=sys.stderr)
        return 1

    ctx = mp.get_context("fork")
    results = ctx.Queue()
    queues = [ctx.Queue(maxsize=fc.QUEUE_CAPACITY) for _ in range(consumers)]
    procs = [ctx.Process(target=consumer_main, args=(k, queues[k], results, universe),
                         name=f"consumer-{k}", daemon=True)
             for k in range(consumers)]

    def abandon():
        # A failure while consumers still wait: don't let the queues' feeder threads or the
        # processes hold the exit.
        for p in procs:
            if p.is_alive():
                p.terminate()
        for q in queues:
            q.cancel_join_thread()

    def collect(kind, count):
        got = {}
        while len(got) < count:
            try:
                what, k, value = results.get(timeout=1.0)
            except queue.Empty:
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise fc.FeedError(f"{dead[0].name} exited with code {dead[0].exitcode}")
                continue
            if what == "error":
                raise fc.FeedError(f"consumer {k}: {value}")
            if what == kind:
                got[k] = value
        return [got[k] for k in range(count)]

    try:
        for p in procs:
            p.start()
        collect("ready", consumers)
        with open(feed_path, "rb", buffering=0) as feed:
            puts = [q.put for q in queues]
            t0 = fc.clock()
            for quote in fc.read_quotes(feed, universe, quotes):
                for put in puts:
                    put(quote)
            for put in puts:
                put(None)
            digests = collect("digest", consumers)
            seconds = fc.clock() - t0
    except (OSError, fc.FeedError) as e:
        print(f"fanout_mp.py: {e}", file=sys.stderr)
        abandon()
        return 1
    for p in procs:
        p.join()
    fc.report(quotes, seconds, digests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
