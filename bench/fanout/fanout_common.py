"""What the two Python peers of the fanout comparison share (bench/fanout/README.md is the
specification): the command line, the universe, the FIX feed reader (framing, BodyLength and
CheckSum verified, one parse per message), the quote object, the three consumers and the output.

fanout_mp.py and fanout_threads.py differ only in how a quote reaches its consumers.
"""

import math
import sys
import time
from collections import deque
from typing import NamedTuple

QUEUE_CAPACITY = 1024
READ_SIZE = 64 * 1024
SECTORS = 11
VOL_WINDOW = 100
KINDS = ("security", "sector", "index")

SOH = b"\x01"
BEGIN = b"8=FIX.4.4\x019="  # BeginString, then the BodyLength tag
TRAILER_LEN = 7  # b"10=NNN\x01"


class FeedError(Exception):
    """A bad frame, checksum or field, an unknown symbol, or a short feed: the program fails."""


class Quote(NamedTuple):
    """One quote, parsed once and shared by every consumer, never modified.

    A NamedTuple rather than a class with __slots__: it is immutable for free, it pickles as
    (class, field tuple) -- the smallest and fastest pickle a user-defined class gets, which
    matters because multiprocessing.Queue pickles it once per consumer -- and consumers can
    unpack it like a tuple.
    """

    index: int  # the symbol's line number in the universe file
    bid: float
    ask: float
    bid_size: int
    ask_size: int
    seq: int


class Universe:
    """The instruments, in universe order, and the symbol -> index map (keys are bytes, as the
    symbols come out of the feed)."""

    def __init__(self, path):
        self.index = {}
        self.sectors = []
        self.weights = []
        self.initial = []
        with open(path, "rb") as f:
            for n, line in enumerate(f, 1):
                fields = line.rstrip(b"\r\n").split(b",")
                if len(fields) != 4:
                    raise FeedError(f"{path}:{n}: expected 4 fields")
                sym, sector, weight, initial = fields
                try:
                    sector = int(sector)
                    weight = float(weight)
                    initial = float(initial)
                except ValueError:
                    raise FeedError(f"{path}:{n}: bad number") from None
                if not 0 <= sector < SECTORS:
                    raise FeedError(f"{path}:{n}: sector out of range")
                self.index[sym] = len(self.sectors)
                self.sectors.append(sector)
                self.weights.append(weight)
                self.initial.append(initial)
        if not self.sectors:
            raise FeedError(f"{path}: no instruments")

    def __len__(self):
        return len(self.sectors)


def parse_args(argv, prog):
    """PROGRAM fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES -> (feed, universe, consumers, quotes)."""
    usage = f"usage: {prog} fanout FEED_FILE UNIVERSE_FILE CONSUMERS QUOTES"
    if len(argv) != 6 or argv[1] != "fanout":
        print(usage, file=sys.stderr)
        sys.exit(2)
    try:
        consumers, quotes = int(argv[4]), int(argv[5])
    except ValueError:
        consumers = quotes = 0
    if not 1 <= consumers <= 100_000 or quotes < 1:
        print(f"{prog}: CONSUMERS must be 1 to 100000 and QUOTES at least 1\n{usage}", file=sys.stderr)
        sys.exit(2)
    return argv[2], argv[3], consumers, quotes


def read_quotes(feed, universe, quotes):
    """Yields the first `quotes` quotes of the open binary file `feed`, read in 64 KiB reads.

    Each message is framed (8=FIX.4.4, BodyLength, the 10=NNN trailer), its CheckSum verified,
    its body split into tag=value fields once, and turned into one Quote. Raises FeedError naming
    the message number on any fault, or when the feed holds fewer than `quotes` messages.
    """
    index = universe.index
    buf = b""
    pos = 0
    taken = 0
    while taken < quotes:
        n = taken + 1
        # Frame: header and BodyLength.
        end = -1
        if len(buf) - pos >= len(BEGIN):
            if not buf.startswith(BEGIN, pos):
                raise FeedError(f"message {n}: does not start with 8=FIX.4.4|9=")
            soh = buf.find(SOH, pos + len(BEGIN))
            if soh >= 0:
                length = buf[pos + len(BEGIN):soh]
                if not length.isdigit() or len(length) > 9:
                    raise FeedError(f"message {n}: bad BodyLength {length!r}")
                trailer = soh + 1 + int(length)
                end = trailer + TRAILER_LEN
                if end > len(buf):
                    end = -1
            elif len(buf) - pos > len(BEGIN) + 10:
                raise FeedError(f"message {n}: BodyLength is not terminated")
        if end < 0:  # an incomplete message: read on
            chunk = feed.read(READ_SIZE)
            if not chunk:
                if pos < len(buf):
                    raise FeedError(f"message {n}: the feed ends inside a message")
                raise FeedError(f"the feed holds {taken} quotes, fewer than {quotes}")
            buf = buf[pos:] + chunk
            pos = 0
            continue

        # Trailer and CheckSum: the sum of every byte before 10=, modulo 256.
        checksum = buf[trailer + 3:end - 1]
        if (buf[trailer - 1] != 1 or not buf.startswith(b"10=", trailer) or buf[end - 1] != 1
                or len(checksum) != 3 or not checksum.isdigit()):
            raise FeedError(f"message {n}: bad trailer (BodyLength does not end at 10=NNN|)")
        if sum(buf[pos:trailer]) % 256 != int(checksum):
            raise FeedError(f"message {n}: CheckSum mismatch: computed {sum(buf[pos:trailer]) % 256}, "
                            f"the message says {checksum.decode()}")

        # Body: tag=value fields, once.
        try:
            fields = dict(f.split(b"=", 1) for f in buf[soh + 1:trailer - 1].split(SOH))
        except ValueError:
            raise FeedError(f"message {n}: a field is not tag=value") from None
        pos = end
        if fields.get(b"35") != b"S":
            raise FeedError(f"message {n}: not a Quote (35=S)")
        try:
            sym = fields[b"55"]
            bid = float(fields[b"132"])
            ask = float(fields[b"133"])
            bid_size = int(fields[b"134"])
            ask_size = int(fields[b"135"])
            seq = int(fields[b"34"])
        except KeyError as e:
            raise FeedError(f"message {n}: missing tag {e.args[0].decode()}") from None
        except ValueError as e:
            raise FeedError(f"message {n}: bad number: {e}") from None
        i = index.get(sym)
        if i is None:
            raise FeedError(f"message {n}: unknown symbol {sym.decode(errors='replace')}")
        taken = n
        yield Quote(i, bid, ask, bid_size, ask_size, seq)


# ---- the consumers: `get` returns the next quote, None at the end; each returns its digest ----

def security_consumer(get, universe):
    size = len(universe)
    ewma = [0.0] * size
    spread = [0.0] * size
    count = [0] * size
    while (q := get()) is not None:
        i, bid, ask, _, _, _ = q
        mid = (bid + ask) / 2
        spread[i] = ask - bid
        ewma[i] = mid if count[i] == 0 else 0.05 * mid + 0.95 * ewma[i]
        count[i] += 1
    d = 0.0
    for i in range(size):
        if count[i]:
            d += ewma[i] + spread[i]
    return d


def sector_consumer(get, universe):
    sector_of = universe.sectors
    prev = [None] * len(universe)
    rings = [deque() for _ in range(SECTORS)]
    sums = [0.0] * SECTORS
    sumsqs = [0.0] * SECTORS
    log = math.log
    while (q := get()) is not None:
        i, bid, ask, _, _, _ = q
        mid = (bid + ask) / 2
        p = prev[i]
        if p is not None:
            s = sector_of[i]
            ring = rings[s]
            r = log(mid / p)
            if len(ring) == VOL_WINDOW:
                o = ring.popleft()
                sums[s] -= o
                sumsqs[s] -= o * o
            ring.append(r)
            sums[s] += r
            sumsqs[s] += r * r
        prev[i] = mid
    d = 0.0
    for s in range(SECTORS):
        n = len(rings[s])
        if n >= 2:
            d += math.sqrt(max(0.0, (sumsqs[s] - sums[s] * sums[s] / n) / (n - 1)))
    return d


def index_consumer(get, universe):
    weight = universe.weights
    initial = universe.initial
    last = list(initial)
    value = 100.0
    while (q := get()) is not None:
        i, bid, ask, _, _, _ = q
        mid = (bid + ask) / 2
        value += 100 * weight[i] * (mid - last[i]) / initial[i]
        last[i] = mid
    return value


CONSUMERS = (security_consumer, sector_consumer, index_consumer)


def consume(k, get, universe):
    """Runs consumer k (kind k % 3) until the end sentinel; returns its digest."""
    return CONSUMERS[k % 3](get, universe)


def report(quotes, seconds, digests):
    print(f"RESULT fanout_qps {quotes / seconds:.1f} quotes/s")
    for k, d in enumerate(digests):
        print(f"DIGEST {k} {KINDS[k % 3]} {d:.12e}")
    sys.stdout.flush()


def clock():
    return time.perf_counter()
