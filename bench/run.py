#!/usr/bin/env python3
"""Builds and runs goro's benchmarks against their peers (Go, Boost.Fiber, std::thread).

    bench/run.py                      # build, run everything, GOMAXPROCS=1 and 2, 5 repeats
    bench/run.py --quick              # smaller sizes, for smoke runs
    bench/run.py --only skynet,yield --procs 2 --repeat 3

Every program prints "RESULT <name> <value> <unit>" and checks its own answer (non-zero exit if
wrong). Runs are interleaved: for each benchmark and worker count, repeat r runs every peer once,
in an order rotated by r, so machine noise falls on all peers alike. The table (medians, and
goro/peer ratios: below 1 means goro is faster or smaller, except in the rows marked "higher is
better", such as requests per second) is printed and written as Markdown to
build-bench/results.md (--build-dir to build and write elsewhere). Standard library only.
"""

import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEERS = ["goro", "go", "fiber", "thread"]


def set_build_dir(build):
    """Where the programs are built and results.md is written (--build-dir; build-bench)."""
    global BUILD, PEER_BINARIES
    BUILD = build
    PEER_BINARIES = {
        "goro": BUILD / "bench" / "goro_bench",
        "go": BUILD / "gobench",
        "fiber": BUILD / "bench" / "fiber_bench",
        "thread": BUILD / "bench" / "thread_bench",
    }


set_build_dir(ROOT / "build-bench")

# Units whose rows are better when higher (throughput): their goro/peer ratio above 1 means goro
# does more. Every other unit is a time or a size: lower is better.
HIGHER_IS_BETTER = {"req/s"}


@dataclass
class Bench:
    key: str  # the name --only selects ("memory" selects every memory_* row)
    arg: str  # the benchmark argument the programs take
    size: int
    quick: int
    unit: str
    peers: list
    # peer -> (size, quick size) where a peer runs a different size (it is noted in its cell)
    peer_sizes: dict = field(default_factory=dict)
    # (row name, unit) of each RESULT line one run reports, where it reports several (one table
    # row each); empty: the one row row_name(quick), in `unit`. A unit in HIGHER_IS_BETTER makes
    # its row higher-is-better.
    results: list = field(default_factory=list)

    def size_for(self, peer, quick):
        full, small = self.peer_sizes.get(peer, (self.size, self.quick))
        return small if quick else full

    def row_name(self, quick):
        return memory_name(self.quick if quick else self.size) if self.arg == "memory" else self.key

    def rows(self, quick):
        """The (row name, unit) pairs one run of this benchmark reports."""
        return self.results or [(self.row_name(quick), self.unit)]


BENCHES = [
    Bench("skynet", "skynet", 1_000_000, 100_000, "ms", ["goro", "go", "fiber"]),
    Bench("spawn_join", "spawn_join", 1_000_000, 100_000, "ns", PEERS,
          {"thread": (10_000, 1_000)}),
    Bench("yield", "yield", 10_000_000, 1_000_000, "ns", PEERS,
          # sched_yield between two threads costs ~1-2 us here: 10M would take a minute a run.
          {"thread": (1_000_000, 100_000)}),
    Bench("memory_100k", "memory", 100_000, 10_000, "B", ["goro", "go", "fiber"]),
    Bench("memory_1m", "memory", 1_000_000, 100_000, "B", ["goro", "go", "fiber"]),
    # Channels and sync. Boost.Fiber's unbuffered hand-off between two threads costs ~3 us a
    # round trip here (work_stealing): 2M round trips would take 7 s a run.
    Bench("chan_pingpong", "chan_pingpong", 2_000_000, 200_000, "ns", ["goro", "go", "fiber"],
          {"fiber": (500_000, 50_000)}),
    Bench("select_pingpong", "select_pingpong", 2_000_000, 200_000, "ns", ["goro", "go", "fiber"],
          {"fiber": (500_000, 50_000)}),
    Bench("chan_spsc", "chan_spsc", 10_000_000, 1_000_000, "ns", ["goro", "go", "fiber"]),
    Bench("chan_mpmc", "chan_mpmc", 10_000_000, 1_000_000, "ns", ["goro", "go", "fiber"]),
    Bench("chan_fanout", "chan_fanout", 500_000, 50_000, "ns", ["goro", "go", "fiber"]),
    Bench("mutex_contended", "mutex_contended", 16_000_000, 1_600_000, "ns", PEERS),
    # One run, four rows: wall time from the first start to the last wake, and the timers'
    # lateness (wake - start - requested sleep) percentiles.
    Bench("timers", "timers", 100_000, 10_000, "ms", ["goro", "go"],
          results=[("timers_wall", "ms"), ("timers_late_p50", "us"), ("timers_late_p99", "us"),
                   ("timers_late_max", "us")]),
    # One run, three rows: 64 connections x N round trips of 64 bytes on loopback, server and
    # client in one process; the size is the round trips per connection.
    Bench("tcp_echo", "tcp_echo", 20_000, 2_000, "req/s", ["goro", "go"],
          results=[("echo_rps", "req/s"), ("echo_p50_us", "us"), ("echo_p99_us", "us")]),
    # One run, three rows: 16 clients x N round trips of 64-byte datagrams against one server
    # socket (bench/goro/udp_echo.cpp, bench/go/udp_echo.go); the size is round trips per client.
    Bench("udp_echo", "udp_echo", 20_000, 2_000, "req/s", ["goro", "go"],
          results=[("udp_rps", "req/s"), ("udp_p50_us", "us"), ("udp_p99_us", "us")]),
]


def memory_name(n):
    if n % 1_000_000 == 0:
        return f"memory_{n // 1_000_000}m"
    if n % 1000 == 0:
        return f"memory_{n // 1000}k"
    return f"memory_{n}"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_checked(cmd, **kw):
    log("+ " + " ".join(shlex.quote(str(c)) for c in cmd))
    r = subprocess.run([str(c) for c in cmd], stdout=sys.stderr, **kw)  # stdout: the table only
    if r.returncode != 0:
        sys.exit(f"run.py: command failed with exit code {r.returncode}")


def build(peers):
    if {"goro", "fiber", "thread"} & set(peers):
        run_checked(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release",
                     # Release defaults to -O3; the suite is compiled at -O2 (goro included).
                     "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG",
                     "-DGORO_BUILD_BENCH=ON", "-DGORO_BUILD_TESTS=OFF",
                     "-DGORO_BUILD_EXAMPLES=OFF"])
        run_checked(["cmake", "--build", BUILD, "-j2"])
    if "go" in peers:
        if not shutil.which("go"):
            sys.exit("run.py: `go` is not on PATH (or leave Go out: --peers goro,fiber,thread)")
        godir = BUILD / "go"
        env = dict(os.environ)
        env.update(GOCACHE=str(godir / "cache"), GOPATH=str(godir / "path"),
                   GOTMPDIR=str(godir / "tmp"), GO111MODULE="on", GOFLAGS="", CGO_ENABLED="0")
        (godir / "tmp").mkdir(parents=True, exist_ok=True)
        run_checked(["go", "build", "-o", PEER_BINARIES["go"], "."], cwd=ROOT / "bench" / "go",
                    env=env)


def run_one(peer, bench, procs, quick, timeout):
    """Runs one program once. Returns ({row name: value}, None) or (None, error message)."""
    n = bench.size_for(peer, quick)
    cmd = [str(PEER_BINARIES[peer]), bench.arg, str(n)]
    env = dict(os.environ, GOMAXPROCS=str(procs))
    try:
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s: GOMAXPROCS={procs} {' '.join(cmd)}"
    want = ([(memory_name(n), bench.unit)] if bench.arg == "memory" and not bench.results
            else bench.rows(quick))
    values = {name: [] for name, _ in want}
    for line in r.stdout.splitlines():
        m = re.match(r"RESULT (\S+) (\S+) (\S+)", line)
        if m and (m.group(1), m.group(3)) in want:
            values[m.group(1)].append(float(m.group(2)))
    if r.returncode != 0 or any(len(v) != 1 for v in values.values()):
        tail = (r.stderr.strip() or r.stdout.strip())[-2000:]
        found = sum(len(v) for v in values.values())
        return None, (f"exit code {r.returncode}, {found} matching RESULT line(s)"
                      + (f" (want one each of {', '.join(values)})" if len(values) > 1 else "")
                      + f": GOMAXPROCS={procs} {' '.join(cmd)}\n{tail}")
    return {name: v[0] for name, v in values.items()}, None


def fmt(v, unit):
    if v is None:
        return "—"
    return f"{v:.0f}" if unit in ("B", "req/s") else f"{v:.1f}"


def unit_cell(unit):
    """The unit as the table shows it: higher-is-better units are marked."""
    return f"{unit} (higher is better)" if unit in HIGHER_IS_BETTER else unit


def machine_info():
    info = [f"kernel {platform.system()} {platform.release()}", f"{os.cpu_count()} CPUs"]
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info.insert(0, line.split(":", 1)[1].strip())
                break
    except OSError:
        pass
    for cmd in (["g++", "-dumpfullversion"], ["go", "version"]):
        try:
            out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True).stdout.strip()
            info.append(("g++ " if cmd[0] == "g++" else "") + out)
        except OSError:
            pass
    try:
        v = re.search(r'BOOST_LIB_VERSION "([^"]+)"',
                      Path("/usr/include/boost/version.hpp").read_text())
        if v:
            info.append("Boost " + v.group(1).replace("_", "."))
    except OSError:
        pass
    return ", ".join(info)


def write_report(out, md, failures):
    """Writes the Markdown lines to out, says so, lists the failures on stderr; the exit code."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(md) + "\n")
    print(f"\nwrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    if failures:
        print(f"\n{len(failures)} run(s) failed:", file=sys.stderr)
        for f in failures:
            print("  " + f.splitlines()[0], file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", help="benchmarks to run, comma-separated: "
                    + ", ".join(b.key for b in BENCHES) + " (memory: both memory rows)")
    ap.add_argument("--procs", default="1,2", help="GOMAXPROCS values (default 1,2)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per peer (default 5)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for smoke runs")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help="peers to run, comma-separated (default: all of " + ",".join(PEERS) + ")")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--timeout", type=float, help="seconds per run (default 600, --quick 120)")
    ap.add_argument("--build-dir", default="build-bench",
                    help="build directory, relative to the repository root or absolute; the "
                    "programs are built there and results.md written there (default build-bench)")
    args = ap.parse_args()
    set_build_dir(ROOT / args.build_dir)

    benches = BENCHES
    if args.only:
        names = [s.strip() for s in args.only.split(",") if s.strip()]
        known = {b.key for b in BENCHES} | {"memory"}
        bad = [s for s in names if s not in known]
        if bad:
            ap.error(f"unknown benchmark(s) {', '.join(bad)}; known: {', '.join(sorted(known))}")
        benches = [b for b in BENCHES if b.key in names or b.key.split("_")[0] in names]
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if not peers or any(p not in PEERS for p in peers):
        ap.error(f"--peers takes some of {','.join(PEERS)}")
    if "goro" not in peers:
        ap.error("--peers must include goro (the ratios are goro/peer)")
    try:
        procs = [int(p) for p in args.procs.split(",")]
        if not procs or min(procs) < 1:
            raise ValueError
    except ValueError:
        ap.error("--procs takes positive integers, e.g. 1,2")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    timeout = args.timeout or (120 if args.quick else 600)

    if not args.no_build:
        build(peers)
    for p in peers:
        if not PEER_BINARIES[p].exists():
            sys.exit(f"run.py: {PEER_BINARIES[p]} is missing (build without --no-build)")

    # results[(row name, procs)][peer] -> list of values; failures: messages
    results = {}
    failures = []
    total = sum(len([p for p in b.peers if p in peers]) for b in benches) * len(procs) * args.repeat
    done = 0
    for b in benches:
        bpeers = [p for p in b.peers if p in peers]
        brows = b.rows(args.quick)
        for np_ in procs:
            cells = {row: results.setdefault((row, np_), {p: [] for p in bpeers})
                     for row, _ in brows}
            for r in range(args.repeat):
                k = r % len(bpeers)
                for peer in bpeers[k:] + bpeers[:k]:  # rotated each repeat
                    done += 1
                    vals, err = run_one(peer, b, np_, args.quick, timeout)
                    if err:
                        failures.append(f"{b.row_name(args.quick)} procs={np_} {peer}: {err}")
                        log(f"[{done}/{total}] {b.row_name(args.quick)} procs={np_} {peer}: FAILED\n{err}")
                    else:
                        for row, unit in brows:
                            cells[row][peer].append(vals[row])
                        log(f"[{done}/{total}] {b.row_name(args.quick)} procs={np_} {peer}: "
                            + ", ".join((f"{row} " if len(brows) > 1 else "")
                                        + f"{fmt(vals[row], unit)} {unit}" for row, unit in brows))

    others = [p for p in peers if p != "goro"]
    header = (["benchmark", "size", "procs", "unit"] + [f"{p} median" for p in ["goro"] + others]
              + [f"goro/{p}" for p in others])
    rows = []
    for b in benches:
        for row_name, unit in b.rows(args.quick):
            for np_ in procs:
                cell = results[(row_name, np_)]
                med = {p: (statistics.median(v) if v else None) for p, v in cell.items()}
                row = [row_name, f"{b.size_for('goro', args.quick):,}", str(np_), unit_cell(unit)]
                for p in ["goro"] + others:
                    if p not in cell:
                        row.append("n/a")
                        continue
                    s = fmt(med[p], unit) if med[p] is not None else "FAIL"
                    if p in b.peer_sizes:
                        what = "M" if b.arg == "yield" else "N"
                        s += f" ({what}={b.size_for(p, args.quick):,})"
                    nfail = args.repeat - len(cell[p])
                    if nfail and med[p] is not None:
                        s += f" ({nfail} failed)"
                    row.append(s)
                for p in others:
                    if p in med and med[p] and med.get("goro") is not None:
                        row.append(f"{med['goro'] / med[p]:.3g}")
                    else:
                        row.append("—")
                rows.append(row)

    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for r in rows:
        print("  ".join(c.rjust(w) if i >= 1 else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))

    cmdline = "bench/run.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    md = [f"Command: `{cmdline}` ({args.repeat} run(s) per peer, medians; "
          f"{'--quick sizes' if args.quick else 'full sizes'})  ",
          f"Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}  ",
          f"Machine: {machine_info()}",
          "",
          "Ratios are goro/peer: below 1 means goro takes less time (or memory); in the rows "
          "marked higher is better (requests/s), above 1 means goro does more.",
          "",
          "| " + " | ".join(header) + " |",
          "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += ["", "<details><summary>All runs</summary>", ""]
    for b in benches:
        for row_name, unit in b.rows(args.quick):
            for np_ in procs:
                for p, v in results[(row_name, np_)].items():
                    md.append(f"- {row_name} procs={np_} {p}: "
                              + (", ".join(fmt(x, unit) for x in v) or "none"))
    md += ["", "</details>"]
    if failures:
        md += ["", "Failures:", ""] + ["```"] + failures + ["```"]
    return write_report(BUILD / "results.md", md, failures)


if __name__ == "__main__":
    sys.exit(main())
