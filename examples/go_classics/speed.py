#!/usr/bin/env python3
"""Times each go_classics port beside its Go original, on the same machine in the same run.

    examples/go_classics/speed.py [--build build] [--repeat 15] [--procs 1,2] [name ...]

For each program and each GOMAXPROCS value it builds the Go original once (go build, into a
temporary directory), then runs the Go binary and the port alternately, --repeat times each, and
reports the median wall time of each and their ratio (goro/Go: below 1 means goro is faster).
Every run's stdout is checked against the first Go run's: a difference is an error, not a row.
The ports are the go_classics_<name> executables of a goro build tree (Release or
RelWithDebInfo). Prints a Markdown table, the one kept in examples/go_classics/README.md.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = ["sieve", "whispers", "fanin", "google_search", "bounded_digest", "pipeline_cancel",
            "worker_pool", "rate_limit", "stateful", "pingpong", "pubsub", "bank"]


def run_once(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{cmd[0]} exited {p.returncode}:\n{p.stderr.decode(errors='replace')}")
    return dt, p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="goro build tree (default: build)")
    ap.add_argument("--repeat", type=int, default=15, help="runs of each binary (default: 15)")
    ap.add_argument("--procs", default="1,2", help="GOMAXPROCS values (default: 1,2)")
    ap.add_argument("names", nargs="*", help="programs (default: all 12)")
    args = ap.parse_args()
    go = shutil.which("go")
    if not go:
        sys.exit("go not found: scripts/deps.sh --bench installs it")
    names = args.names or PROGRAMS
    procs = [int(p) for p in args.procs.split(",")]

    with tempfile.TemporaryDirectory(prefix="go_classics_speed.") as tmp:
        genv = dict(os.environ, GOCACHE=os.path.join(tmp, "cache"), GOPATH=os.path.join(tmp, "gopath"),
                    GO111MODULE="off", GOFLAGS="", CGO_ENABLED="0")
        print(f"| program | GOMAXPROCS | Go median ms | goro median ms | goro/Go |")
        print(f"| --- | --- | --- | --- | --- |")
        for name in names:
            port = os.path.join(args.build, "examples", "go_classics", f"go_classics_{name}")
            if not os.access(port, os.X_OK):
                sys.exit(f"{port} not found: build the go_classics examples first")
            gobin = os.path.join(tmp, f"{name}_go")
            subprocess.run([go, "build", "-o", gobin, os.path.join(HERE, f"{name}.go")], env=genv,
                           check=True)
            for n in procs:
                env = dict(os.environ, GOMAXPROCS=str(n))
                tg, tp, want = [], [], None
                for _ in range(args.repeat):
                    dt, out = run_once([gobin], env)
                    want = out if want is None else want
                    if out != want:
                        sys.exit(f"{name}: the Go original's output changed between runs")
                    tg.append(dt)
                    dt, out = run_once([port], env)
                    if out != want:
                        sys.exit(f"{name}: the port's output differs from the Go original's")
                    tp.append(dt)
                mg, mp = statistics.median(tg) * 1e3, statistics.median(tp) * 1e3
                print(f"| {name} | {n} | {mg:.1f} | {mp:.1f} | {mp / mg:.2f} |", flush=True)


if __name__ == "__main__":
    main()
