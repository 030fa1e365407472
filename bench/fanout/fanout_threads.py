#!/usr/bin/env python3
"""The Python threads peer of the fanout comparison (bench/fanout/README.md).

    python3 fanout_threads.py fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES

The main thread parses each message once into a Quote and puts the same object on every
consumer's queue.Queue (maxsize 1024, put blocks when full): no copy, no pickling, but every
consumer thread takes the GIL in turn. One thread per consumer, None as the end sentinel.
"""

import os
import queue
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fanout_common as fc  # noqa: E402


def main():
    feed_path, universe_path, consumers, quotes = fc.parse_args(sys.argv, "fanout_threads.py")
    try:
        universe = fc.Universe(universe_path)
    except (OSError, fc.FeedError) as e:
        print(f"fanout_threads.py: {e}", file=sys.stderr)
        return 1

    queues = [queue.Queue(maxsize=fc.QUEUE_CAPACITY) for _ in range(consumers)]
    digests = [None] * consumers
    errors = []
    ready = threading.Barrier(consumers + 1)

    def consumer_main(k):
        ready.wait()
        try:
            digests[k] = fc.consume(k, queues[k].get, universe)
        except BaseException as e:
            errors.append(f"consumer {k}: {type(e).__name__}: {e}")
            raise

    threads = [threading.Thread(target=consumer_main, args=(k,), name=f"consumer-{k}", daemon=True)
               for k in range(consumers)]
    for t in threads:
        t.start()
    ready.wait()  # every consumer is running

    try:
        with open(feed_path, "rb", buffering=0) as feed:
            puts = [q.put for q in queues]
            t0 = fc.clock()
            for quote in fc.read_quotes(feed, universe, quotes):
                for put in puts:
                    put(quote)
            for put in puts:
                put(None)
            for t in threads:
                t.join()
            seconds = fc.clock() - t0
    except (OSError, fc.FeedError) as e:
        print(f"fanout_threads.py: {e}", file=sys.stderr)
        return 1  # the consumer threads are daemons: they do not hold the exit
    if errors:
        print(f"fanout_threads.py: {errors[0]}", file=sys.stderr)
        return 1
    fc.report(quotes, seconds, digests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
