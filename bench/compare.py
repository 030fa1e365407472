#!/usr/bin/env python3
"""Builds and runs the seed programs' comparison: goro against Go and Python, one command.

    bench/compare.py                        # build, fanout (4 and 16 consumers) and pipeline
    bench/compare.py --quick                # every size divided by 10, for smoke runs
    bench/compare.py --only fanout --peers goro,py_mp --consumers 16 --repeat 5

Two parts (bench/README.md, "The seed programs' comparison", says what every row means):

- fanout (bench/fanout/README.md is the specification): a FIX feed parsed once per message and
  every quote handed to C statistics consumers, C = 4 and 16, by goro (coroutines and
  goro::chan), Go (goroutines and channels), Python multiprocessing (a process and a
  multiprocessing.Queue per consumer) and Python threads (queue.Queue). Measured: quotes/s (the
  program's own clock) and, sampled every 20 ms by this script, the peak over the run of the total
  resident memory (RSS) of the program and all its descendants, and of their total PSS. Every
  peer's DIGEST lines must agree with goro's at the same quote count (relative 1e-9).
- pipeline: examples/stats_pipeline (goro) against `gobench pipeline` on the same inputs, with
  GOMAXPROCS 1 and 2: valuations/s per core and the 1->2 worker speed-up; the final value, delta,
  gamma and vega must agree (relative 1e-6).

Runs are interleaved as in bench/run.py: repeat r runs every peer once, in an order rotated by
r. The tables (medians, goro/peer ratios, the targets met or missed) are printed and written as
Markdown to build-compare/compare.md, the fanout chart to build-compare/compare.png (gnuplot;
its data and script next to it). A failed run, a timeout or a digest mismatch is reported with
its command and makes the script exit 1. Standard library only.
"""

import argparse
import datetime
import json
import math
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from run import log, machine_info, write_report  # noqa: E402  (bench/run.py: the same helpers, one copy)

PEERS = ["goro", "go", "py_mp", "py_threads"]
PIPELINE_PEERS = ["goro", "go"]
PARTS = ["fanout", "pipeline"]
KINDS = ("security", "sector", "index")
FANOUT_REL = 1e-9  # log() may differ by an ulp between libm and Go's math package
PIPELINE_REL = 1e-6  # stats_pipeline --json prints the totals with %.6f
PAGE = os.sysconf("SC_PAGE_SIZE")
MiB = 1024 * 1024

# The targets the issue sets (fanout at 16 consumers; pipeline).
TARGET_CONSUMERS = 16
TARGET_MP_QPS = 100.0  # goro quotes/s >= 100x py_mp
TARGET_MP_RSS = 0.1  # goro total RSS <= 1/10 of py_mp
TARGET_GO_QPS = 1.0  # goro quotes/s >= Go
TARGET_VPS_CORE = 2_000_000.0  # goro valuations/s/core
TARGET_SPEEDUP = 1.8  # goro 1 -> 2 workers


def set_build_dir(build):
    global BUILD, BIN
    BUILD = build
    BIN = {
        "make_feed": BUILD / "bench" / "make_feed",
        "goro_fanout": BUILD / "bench" / "goro_fanout",
        "pipeline_inputs": BUILD / "bench" / "pipeline_inputs",
        "stats_pipeline": BUILD / "examples" / "stats_pipeline" / "stats_pipeline",
        "gobench": BUILD / "gobench",
    }


set_build_dir(ROOT / "build-compare")


class Failure(Exception):
    """A step that cannot go on (build, input generation): reported, exit 1."""


def show(cmd, env_note=""):
    return (env_note + " " if env_note else "") + " ".join(shlex.quote(str(c)) for c in cmd)


def run_checked(cmd, **kw):
    log("+ " + show(cmd))
    r = subprocess.run([str(c) for c in cmd], stdout=sys.stderr, **kw)  # stdout: the tables only
    if r.returncode != 0:
        raise Failure(f"exit code {r.returncode}: {show(cmd)}")


# ---- building --------------------------------------------------------------------------------

def build(parts, peers):
    targets = []
    if "fanout" in parts:
        targets.append("make_feed")
        if "goro" in peers:
            targets.append("goro_fanout")
    if "pipeline" in parts:
        if "goro" in peers:
            targets.append("stats_pipeline")
        if "go" in peers:
            targets.append("pipeline_inputs")
    if targets:
        run_checked(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release",
                     "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG",
                     "-DGORO_BUILD_BENCH=ON", "-DGORO_BUILD_TESTS=OFF", "-DGORO_BUILD_EXAMPLES=ON"])
        run_checked(["cmake", "--build", BUILD, "-j2", "--target", *targets])
    if "go" in peers:
        if not shutil.which("go"):
            raise Failure("`go` is not on PATH (or leave Go out: --peers goro,py_mp,py_threads)")
        godir = BUILD / "go"
        env = dict(os.environ)
        env.update(GOCACHE=str(godir / "cache"), GOPATH=str(godir / "path"),
                   GOTMPDIR=str(godir / "tmp"), GO111MODULE="on", GOFLAGS="", CGO_ENABLED="0")
        (godir / "tmp").mkdir(parents=True, exist_ok=True)
        run_checked(["go", "build", "-o", BIN["gobench"], "."], cwd=ROOT / "bench" / "go", env=env)


# ---- running one program, with its memory sampled --------------------------------------------

def process_tree(root):
    """root and all its descendants (the ppid links of /proc/*/stat)."""
    children = {}
    with os.scandir("/proc") as it:
        for e in it:
            if not e.name.isdigit():
                continue
            try:
                with open(f"/proc/{e.name}/stat", "rb") as f:
                    s = f.read()
                ppid = int(s[s.rindex(b")") + 2:].split(b" ", 2)[1])
            except (OSError, ValueError):
                continue  # gone meanwhile
            children.setdefault(ppid, []).append(int(e.name))
    tree = [root]
    i = 0
    while i < len(tree):
        tree.extend(children.get(tree[i], ()))
        i += 1
    return tree


def tree_memory(pids):
    """(total RSS, total PSS) in bytes of the processes pids, now (those gone are skipped)."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss += int(f.read().split()[1]) * PAGE
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return rss, pss


@dataclass
class Run:
    cmd: list
    env_note: str
    rc: int = 0
    stdout: str = ""
    stderr: str = ""
    timed_out: bool = False
    peak_rss: int = 0  # bytes: the peak over the samples of the sum over the process tree
    peak_pss: int = 0
    samples: int = 0

    def describe(self):
        return show(self.cmd, self.env_note)

    def error(self, what):
        tail = (self.stderr.strip() or self.stdout.strip())[-2000:]
        return f"{what}: {self.describe()}" + (f"\n{tail}" if tail else "")


def measure(cmd, env, timeout, sample_s, env_note=""):
    """Runs cmd to its end (or kills its process group after `timeout` s), sampling the total
    RSS and PSS of its process tree every `sample_s` s."""
    run = Run([str(c) for c in cmd], env_note)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(run.cmd, env=env, stdout=out, stderr=err, start_new_session=True)
        tree = []
        while True:
            pid, status = os.waitpid(p.pid, os.WNOHANG)
            if pid:
                break
            # Walking /proc for the process tree costs about 1.5 ms of this script's CPU, which on
            # a 2-core machine is taken from the program measured: the tree is walked on every
            # 10th sample only (processes start early: the Python consumers are forked before
            # the clock starts), and the memory of the known processes read in between.
            if run.samples % 10 == 0:
                tree = process_tree(p.pid)
            rss, pss = tree_memory(tree)
            run.samples += 1
            run.peak_rss = max(run.peak_rss, rss)
            run.peak_pss = max(run.peak_pss, pss)
            if time.monotonic() - t0 > timeout:
                run.timed_out = True
                os.killpg(p.pid, signal.SIGKILL)
                pid, status = os.waitpid(p.pid, 0)
                break
            time.sleep(sample_s)
        p.returncode = run.rc = os.waitstatus_to_exitcode(status)
        try:  # whatever the program left behind in its process group (none, normally)
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        # (wait4's ru_maxrss is no help: for a child that exec'd, it includes the RSS this
        # script had when it forked the child.)
        out.seek(0)
        err.seek(0)
        run.stdout = out.read().decode(errors="replace")
        run.stderr = err.read().decode(errors="replace")
    return run


def run_failure(run, timeout):
    """Why a run failed (a timeout or a non-zero exit, with its command and output), or None."""
    if run.timed_out:
        return run.error(f"timed out after {timeout:g} s")
    if run.rc != 0:
        return run.error(f"exit code {run.rc}")
    return None


# ---- fanout ----------------------------------------------------------------------------------

def fanout_cmd(peer, feed, universe, consumers, quotes, python):
    args = ["fanout", feed, universe, str(consumers), str(quotes)]
    if peer == "goro":
        return [BIN["goro_fanout"], *args]
    if peer == "go":
        return [BIN["gobench"], *args]
    script = ROOT / "bench" / "fanout" / ("fanout_mp.py" if peer == "py_mp" else "fanout_threads.py")
    return [python, script, *args]


def parse_fanout(run, consumers):
    """(quotes/s, [digest per consumer]) or raises ValueError saying what is wrong."""
    qps = re.findall(r"^RESULT fanout_qps (\S+) quotes/s\s*$", run.stdout, re.M)
    if len(qps) != 1:
        raise ValueError(f"{len(qps)} RESULT fanout_qps lines, want 1")
    digests = {}
    for m in re.finditer(r"^DIGEST (\d+) (\S+) (\S+)\s*$", run.stdout, re.M):
        k = int(m.group(1))
        if k >= consumers or k in digests or m.group(2) != KINDS[k % 3]:
            raise ValueError(f"unexpected line {m.group(0)!r}")
        digests[k] = float(m.group(3))
    if len(digests) != consumers:
        raise ValueError(f"{len(digests)} DIGEST lines, want {consumers}")
    return float(qps[0]), [digests[k] for k in range(consumers)]


def close(a, b, rel):
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b))


def relative(a, b):
    m = max(abs(a), abs(b))
    return abs(a - b) / m if m else 0.0


def prepare_feed(quotes, timeout):
    """make_feed's feed and universe in the build dir, holding at least `quotes` quotes (reused
    when a previous run wrote enough); then read once, so the page cache holds it."""
    feed, universe, stamp = BUILD / "feed.fix", BUILD / "universe.csv", BUILD / "feed.stamp"
    have = None
    try:
        n, size = map(int, stamp.read_text().split())
        if n >= quotes and feed.stat().st_size == size and universe.exists():
            have = n
    except (OSError, ValueError):
        pass
    if have is None:
        if not BIN["make_feed"].exists():
            raise Failure(f"{BIN['make_feed']} is missing (build without --no-build)")
        stamp.unlink(missing_ok=True)
        cmd = [BIN["make_feed"], "--quotes", quotes, feed, universe]
        log("+ " + show(cmd))
        try:
            r = subprocess.run([str(c) for c in cmd], stdout=sys.stderr, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"timed out after {timeout} s: {show(cmd)}") from None
        if r.returncode != 0:
            raise Failure(f"exit code {r.returncode}: {show(cmd)}")
        stamp.write_text(f"{quotes} {feed.stat().st_size}\n")
        have = quotes
    else:
        log(f"reusing {feed} ({have:,} quotes)")
    with open(feed, "rb", buffering=0) as f:  # warm the page cache
        while f.read(1 << 20):
            pass
    return feed, universe


@dataclass
class FanoutCell:
    qps: list = field(default_factory=list)
    rss: list = field(default_factory=list)  # bytes
    pss: list = field(default_factory=list)
    failed: int = 0


def run_fanout(args, peers, sizes, failures, progress):
    """results[consumers][peer] -> FanoutCell; references[(consumers, quotes)] -> goro digests;
    digest_lines: text for the report."""
    feed, universe = prepare_feed(max(sizes[p] for p in peers), args.timeout)
    env = dict(os.environ, GOMAXPROCS=str(args.procs))
    note = f"GOMAXPROCS={args.procs}"
    results, references, digest_lines = {}, {}, []
    for c in args.consumers:
        cells = results[c] = {p: FanoutCell() for p in peers}
        got = []  # (peer, quotes, digests, run)

        def one(peer, n, label):
            cmd = fanout_cmd(peer, feed, universe, c, n, args.python)
            run = measure(cmd, env, args.timeout, args.sample_ms / 1000, note)
            where = f"fanout consumers={c} {peer} N={n:,}"
            err = run_failure(run, args.timeout)
            if err is None:
                try:
                    qps, digests = parse_fanout(run, c)
                except ValueError as e:
                    err = run.error(f"bad output ({e})")
            if err:
                failures.append(f"{where}: {err}")
                log(f"{label} {where}: FAILED\n{err}")
                return None
            got.append((peer, n, digests, run))
            log(f"{label} {where}: {qps:,.0f} quotes/s, total RSS {run.peak_rss / MiB:.1f} MiB, "
                f"PSS {run.peak_pss / MiB:.1f} MiB ({run.samples} samples)")
            return qps, run

        # goro's digests at every other peer's quote count (not timed: the reference only).
        if "goro" in peers:
            for n in sorted({sizes[p] for p in peers} - {sizes["goro"]}):
                one("goro", n, "[digest reference]")
        for r in range(args.repeat):
            k = r % len(peers)
            for peer in peers[k:] + peers[:k]:
                progress[0] += 1
                res = one(peer, sizes[peer], f"[{progress[0]}/{progress[1]}]")
                cell = cells[peer]
                if res is None:
                    cell.failed += 1
                else:
                    cell.qps.append(res[0])
                    cell.rss.append(res[1].peak_rss)
                    cell.pss.append(res[1].peak_pss)

        # Digests: goro's first run at each quote count is the reference.
        for peer, n, digests, run in got:
            if peer == "goro":
                references.setdefault((c, n), digests)
        for peer, n, digests, run in got:
            ref = references.get((c, n))
            if ref is None:
                failures.append(f"fanout consumers={c} {peer} N={n:,}: no goro digests at "
                                f"N={n:,} to compare with (did goro fail?)")
                continue
            for k, (d, e) in enumerate(zip(digests, ref)):
                if not close(d, e, FANOUT_REL):
                    failures.append(
                        f"fanout consumers={c} {peer} N={n:,}: DIGEST {k} {KINDS[k % 3]} "
                        f"{d:.12e} differs from goro's {e:.12e} (relative {relative(d, e):.2e} > "
                        f"{FANOUT_REL:g}): {run.describe()}")
        for (cc, n), ref in sorted(references.items()):
            if cc != c:
                continue
            worst = {p: max((relative(d, e) for pp, nn, ds, _ in got if pp == p and nn == n
                             for d, e in zip(ds, ref)), default=None) for p in peers}
            agree = ", ".join(f"{p} {w:.1e}" for p, w in worst.items() if w is not None)
            digest_lines.append(
                f"- consumers={c}, N={n:,}: goro " + ", ".join(
                    f"{KINDS[k]} {ref[k]:.12e}" for k in range(min(3, len(ref))))
                + f"; largest relative difference from goro over all runs: {agree}")
    return results, references, digest_lines


# ---- pipeline --------------------------------------------------------------------------------

@dataclass
class PipelineCell:
    vps_core: list = field(default_factory=list)
    vps: list = field(default_factory=list)
    rss: list = field(default_factory=list)
    failed: int = 0


def run_pipeline(args, peers, failures, progress):
    q, p, chunk = args.pipeline_quotes, args.quotes_per_snapshot, args.chunk
    inputs = BUILD / f"pipeline_inputs_{q}"
    if "go" in peers:
        if not BIN["pipeline_inputs"].exists():
            raise Failure(f"{BIN['pipeline_inputs']} is missing (build without --no-build)")
        cmd = [BIN["pipeline_inputs"], "--quotes", q, "--symbols", 300,
               "--options-per-underlying", 100, "--seed", 1, inputs]
        inputs.mkdir(parents=True, exist_ok=True)
        log("+ " + show(cmd))
        try:
            r = subprocess.run([str(c) for c in cmd], stdout=sys.stderr, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"timed out after {args.timeout:g} s: {show(cmd)}") from None
        if r.returncode != 0:
            raise Failure(f"exit code {r.returncode}: {show(cmd)}")

    results = {}
    finals = []  # (peer, procs, (value, delta, gamma, vega), run)
    notes = []
    for np_ in args.pipeline_procs:
        cells = results[np_] = {peer: PipelineCell() for peer in peers}
        env = dict(os.environ, GOMAXPROCS=str(np_))
        note = f"GOMAXPROCS={np_}"
        for r in range(args.repeat):
            k = r % len(peers)
            for peer in peers[k:] + peers[:k]:
                progress[0] += 1
                if peer == "goro":
                    cmd = [BIN["stats_pipeline"], "--json", "--quotes", q, "--symbols", 300,
                           "--options-per-underlying", 100, "--seed", 1,
                           "--quotes-per-snapshot", p, "--chunk", chunk]
                else:
                    cmd = [BIN["gobench"], "pipeline", inputs, p, chunk]
                run = measure(cmd, env, args.timeout, args.sample_ms / 1000, note)
                where = f"pipeline procs={np_} {peer}"
                err = run_failure(run, args.timeout)
                if err is None:
                    try:
                        if peer == "goro":
                            line = [ln for ln in run.stdout.splitlines() if ln.startswith("{")]
                            if len(line) != 1:
                                raise ValueError(f"{len(line)} JSON lines, want 1")
                            j = json.loads(line[0])
                            vps_core = float(j["valuations_per_s_per_core"])
                            vps = float(j["valuations_per_s"])
                            fin = tuple(float(j["final"][x]) for x in ("value", "delta", "gamma", "vega"))
                            if int(j["workers"]) != np_:
                                notes.append(f"{where}: stats_pipeline ran {j['workers']} workers "
                                             f"with GOMAXPROCS={np_}")
                        else:
                            def one_result(name):
                                v = re.findall(rf"^RESULT {name} (\S+) \S+\s*$", run.stdout, re.M)
                                if len(v) != 1:
                                    raise ValueError(f"{len(v)} RESULT {name} lines, want 1")
                                return float(v[0])
                            vps, vps_core = one_result("pipeline_vps"), one_result("pipeline_vps_core")
                            d = re.findall(r"^DIGEST (\S+) (\S+) (\S+) (\S+) (\S+)\s*$", run.stdout, re.M)
                            if len(d) != 1:
                                raise ValueError(f"{len(d)} DIGEST lines, want 1")
                            fin = tuple(float(x) for x in d[0][1:])
                    except (ValueError, KeyError, TypeError) as e:
                        err = run.error(f"bad output ({type(e).__name__}: {e})")
                label = f"[{progress[0]}/{progress[1]}] {where}"
                cell = cells[peer]
                if err:
                    failures.append(f"{where}: {err}")
                    log(f"{label}: FAILED\n{err}")
                    cell.failed += 1
                    continue
                cell.vps_core.append(vps_core)
                cell.vps.append(vps)
                cell.rss.append(run.peak_rss)
                finals.append((peer, np_, fin, run))
                log(f"{label}: {vps_core:,.0f} valuations/s/core ({vps:,.0f} /s), "
                    f"RSS {run.peak_rss / MiB:.1f} MiB")

    # Final aggregates: every run against goro's first.
    ref = next((f for f in finals if f[0] == "goro"), None)
    names = ("value", "delta", "gamma", "vega")
    if ref is None and finals:
        notes.append("no goro pipeline run succeeded: the final aggregates were not compared")
    elif ref is not None:
        for peer, np_, fin, run in finals:
            for name, a, b in zip(names, fin, ref[2]):
                # %.6f: half a unit of the sixth decimal place of absolute slack too.
                if not (close(a, b, PIPELINE_REL) or abs(a - b) <= 5e-7):
                    failures.append(f"pipeline procs={np_} {peer}: final {name} {a:.6f} differs "
                                    f"from goro's {b:.6f} (relative {relative(a, b):.2e} > "
                                    f"{PIPELINE_REL:g}): {run.describe()}")
        worst = {}
        for peer, np_, fin, run in finals:
            w = max(relative(a, b) for a, b in zip(fin, ref[2]))
            worst[peer] = max(worst.get(peer, 0.0), w)
        notes.insert(0, "final aggregates (goro): " + ", ".join(
            f"{n} {v:.6f}" for n, v in zip(names, ref[2])) + "; largest relative difference over "
            "all runs: " + ", ".join(f"{p} {w:.1e}" for p, w in worst.items()))
    return results, notes


# ---- output ----------------------------------------------------------------------------------

def med(v):
    return statistics.median(v) if v else None


def fmt_qps(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_mib(v):
    return "—" if v is None else f"{v / MiB:,.1f}"


def short(v):
    """1.23M, 45.6k: for chart labels."""
    if v is None:
        return ""
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}"


def ratio_cell(a, b, higher_better):
    if a is None or not b:
        return "—"
    r = a / b
    return f"{r:.3g}" if higher_better or r >= 0.01 else f"{r:.2g} (1/{1 / r:.0f})"


def table_text(header, rows):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    for r in rows:
        lines.append("  ".join(c.rjust(w) if i >= 2 else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def table_md(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def fanout_tables(results, peers, sizes, repeat):
    others = [p for p in peers if p != "goro"] if "goro" in peers else []
    header = (["consumers", "metric"] + peers + [f"goro/{p}" for p in others])
    rows = []
    for c, cells in results.items():
        rows.append([str(c), "quotes per run"] + [f"{sizes[p]:,}" for p in peers]
                    + ["" for _ in others])
        rows += metric_rows(str(c), cells, peers, others, (
            ("quotes/s (higher is better)", lambda x: x.qps, fmt_qps, True),
            ("total RSS peak, MiB", lambda x: x.rss, fmt_mib, False),
            ("total PSS peak, MiB", lambda x: x.pss, fmt_mib, False)))
    return header, rows


def metric_rows(key, cells, peers, others, metrics):
    """A row per (metric, getter, formatter, higher is better): key, metric, the median of each
    peer (with its failed runs counted), then goro/peer for each other peer."""
    rows = []
    for metric, get, fmt, hb in metrics:
        m = {p: med(get(cells[p])) for p in peers}
        row = [key, metric]
        for p in peers:
            s = fmt(m[p]) if m[p] is not None else "FAIL"
            if cells[p].failed and m[p] is not None:
                s += f" ({cells[p].failed} failed)"
            row.append(s)
        row += [ratio_cell(m["goro"], m[p], hb) for p in others]
        rows.append(row)
    return rows


def pipeline_tables(results, peers, procs):
    others = [p for p in peers if p != "goro"] if "goro" in peers else []
    header = ["procs", "metric"] + peers + [f"goro/{p}" for p in others]
    rows = []
    for np_, cells in results.items():
        rows += metric_rows(str(np_), cells, peers, others, (
            ("valuations/s/core (higher is better)", lambda x: x.vps_core, fmt_qps, True),
            ("valuations/s (higher is better)", lambda x: x.vps, fmt_qps, True),
            ("RSS peak, MiB", lambda x: x.rss, fmt_mib, False)))
    sp = speedups(results, peers, procs)
    if sp is not None:
        lo, hi, s = sp
        rows.append([f"{lo}→{hi}", "speed-up of valuations/s (higher is better)"]
                    + [f"{s[p]:.2f}x" if s[p] is not None else "—" for p in peers]
                    + [ratio_cell(s.get("goro"), s[p], True) for p in others])
    return header, rows


def speedups(results, peers, procs):
    if 1 not in procs or len(procs) < 2:
        return None
    hi = 2 if 2 in procs else max(procs)
    s = {}
    for p in peers:
        a, b = med(results[1][p].vps), med(results[hi][p].vps)
        s[p] = b / a if a and b else None
    return 1, hi, s


def targets(fanout, pipeline, peers, consumers, procs):
    """[(what, measured, met: True/False/None)] for the issue's targets."""
    out = []
    if fanout is not None:
        c = TARGET_CONSUMERS
        cells = fanout.get(c)
        where = f"fanout, {c} consumers"

        def m(peer, get):
            return med(get(cells[peer])) if cells and peer in cells else None

        g_q, g_r = m("goro", lambda x: x.qps), m("goro", lambda x: x.rss)
        if "py_mp" in peers:
            mp_q, mp_r = m("py_mp", lambda x: x.qps), m("py_mp", lambda x: x.rss)
            f = g_q / mp_q if g_q and mp_q else None
            out.append((f"{where}: goro quotes/s ≥ {TARGET_MP_QPS:.0f}x py_mp",
                        f"{f:,.0f}x" if f else "not measured", f >= TARGET_MP_QPS if f else None))
            f = g_r / mp_r if g_r and mp_r else None
            out.append((f"{where}: goro total RSS ≤ 1/{1 / TARGET_MP_RSS:.0f} of py_mp",
                        f"goro/py_mp = {f:.3f} (1/{1 / f:.1f})" if f else "not measured",
                        f <= TARGET_MP_RSS if f else None))
        if "go" in peers:
            go_q = m("go", lambda x: x.qps)
            f = g_q / go_q if g_q and go_q else None
            out.append((f"{where}: goro quotes/s ≥ Go", f"{f:.2f}x" if f else "not measured",
                        f >= TARGET_GO_QPS if f else None))
    if pipeline is not None and "goro" in peers:
        for np_, cells in pipeline.items():
            v = med(cells["goro"].vps_core)
            out.append((f"pipeline, GOMAXPROCS={np_}: goro ≥ {TARGET_VPS_CORE:,.0f} valuations/s/core",
                        f"{v:,.0f} ({v / TARGET_VPS_CORE:.2f}x the target)" if v else "not measured",
                        v >= TARGET_VPS_CORE if v else None))
        sp = speedups(pipeline, [p for p in peers if p in PIPELINE_PEERS], procs)
        if sp is not None:
            lo, hi, s = sp
            f = s.get("goro")
            out.append((f"pipeline: goro speed-up {lo}→{hi} workers ≥ {TARGET_SPEEDUP}x",
                        f"{f:.3f}x" if f else "not measured", f >= TARGET_SPEEDUP if f else None))
    return out


def verdict(met):
    return "met" if met else ("MISSED" if met is False else "not measured")


# ---- the chart -------------------------------------------------------------------------------

COLORS = {"goro": "#2a7ab0", "go": "#00add8", "py_mp": "#e8b50c", "py_threads": "#7a5c99"}


def chart(results, peers, sizes, args, subtitle):
    """Writes compare_fanout.dat and compare_fanout.gp, and compare.png if gnuplot is here.
    Returns (png or None, message or None, failure or None)."""
    dat, gp, png = BUILD / "compare_fanout.dat", BUILD / "compare_fanout.gp", BUILD / "compare.png"
    lines = ["# fanout medians: consumers, then for each peer: quotes/s, its label, total RSS "
             "peak (MiB), its label",
             "# peers: " + " ".join(peers)]
    qmax, qmin, rmax, rmin = 0, math.inf, 0, math.inf
    for c, cells in results.items():
        cols = [f'"{c} consumers"']
        for p in peers:
            q, r = med(cells[p].qps), med(cells[p].rss)
            r = r / MiB if r else None
            if q:
                qmax, qmin = max(qmax, q), min(qmin, q)
            if r:
                rmax, rmin = max(rmax, r), min(rmin, r)
            cols += [f"{q:.6g}" if q else "NaN", f'"{short(q)}"',
                     f"{r:.6g}" if r else "NaN", f'"{r:.3g} MiB"' if r else '""']
        lines.append(" ".join(cols))
    dat.write_text("\n".join(lines) + "\n")
    if qmax == 0 or rmax == 0:
        return None, None, None

    n, gap = len(peers), 1

    def plots(col, lab):
        ps = []
        for k, p in enumerate(peers):
            what = f"{col(k)}:xtic(1)" if k == 0 else f"{col(k)}"
            ps.append(f"'{dat.name}' using {what} title '{legend(p, sizes)}' lc rgb '{COLORS[p]}'")
        for k, p in enumerate(peers):
            x = f"($0 + ({k} - {(n - 1) / 2}) / {n + gap}.0)"
            ps.append(f"'{dat.name}' using {x}:{col(k)}:{lab(k)} with labels offset 0,0.6 "
                      f"font ',7' notitle")
        return ", \\\n     ".join(ps)

    script = f"""# Regenerate: cd {BUILD} && gnuplot {gp.name}
set terminal pngcairo noenhanced size 1000,600 font 'Sans,10'
set output '{png.name}'
set datafile missing 'NaN'
set style data histograms
set style histogram clustered gap {gap}
set style fill solid 0.9 border rgb '#333333'
set boxwidth 0.95
set logscale y
set grid ytics
set format y '%.0s%c'
set key top left font ',9'
set multiplot layout 1,2 title "fanout: one FIX feed, every quote to C consumers (GOMAXPROCS={args.procs}, medians of {args.repeat})\\n{subtitle}" font ',10'
set title 'throughput: quotes/s (higher is better, log scale)'
set ylabel 'quotes/s'
set yrange [{qmin / 4:.6g}:{qmax * 30:.6g}]
plot {plots(lambda k: 2 + 4 * k, lambda k: 3 + 4 * k)}
set title 'memory: peak total RSS, all processes (lower is better, log scale)'
set ylabel 'MiB'
set format y '%g'
set yrange [{rmin / 4:.6g}:{rmax * 30:.6g}]
plot {plots(lambda k: 4 + 4 * k, lambda k: 5 + 4 * k)}
unset multiplot
"""
    gp.write_text(script)
    if not shutil.which("gnuplot"):
        return None, "gnuplot is not installed: the chart was not drawn (data and script written)", None
    r = subprocess.run(["gnuplot", gp.name], cwd=BUILD, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        return None, None, f"gnuplot failed (exit code {r.returncode}): cd {BUILD} && gnuplot {gp.name}\n{r.stdout[-2000:]}"
    return png, None, None


def legend(p, sizes):
    names = {"goro": "goro (coroutines)", "go": "Go (goroutines)",
             "py_mp": "Python multiprocessing", "py_threads": "Python threads"}
    return f"{names[p]}, N={sizes[p]:,}"


# ---- main ------------------------------------------------------------------------------------

def int_list(s, what, ap):
    try:
        v = [int(x) for x in s.split(",") if x.strip()]
        if not v or min(v) < 1:
            raise ValueError
        return v
    except ValueError:
        ap.error(f"{what} takes positive integers, comma-separated")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=",".join(PARTS), help="parts to run: fanout, pipeline (default both)")
    ap.add_argument("--peers", default=",".join(PEERS),
                    help=f"peers, comma-separated (default {','.join(PEERS)}; the pipeline has goro and go only)")
    ap.add_argument("--consumers", default="4,16", help="fanout consumer counts (default 4,16)")
    ap.add_argument("--procs", type=int, default=2, help="GOMAXPROCS for the fanout (default 2)")
    ap.add_argument("--pipeline-procs", default="1,2", help="GOMAXPROCS values for the pipeline (default 1,2)")
    ap.add_argument("--quotes", type=int, default=1_000_000, help="fanout quotes for goro and Go (default 1,000,000)")
    ap.add_argument("--py-quotes", type=int, default=50_000, help="fanout quotes for the Python peers (default 50,000)")
    ap.add_argument("--pipeline-quotes", type=int, default=50_000, help="pipeline quotes (default 50,000)")
    ap.add_argument("--quotes-per-snapshot", type=int, default=100, help="pipeline quotes per snapshot (default 100)")
    ap.add_argument("--chunk", type=int, default=1024, help="pipeline options per job (default 1024)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per peer (default 3)")
    ap.add_argument("--quick", action="store_true", help="every quote count divided by 10")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--timeout", type=float, help="seconds per run (default 600, --quick 120)")
    ap.add_argument("--sample-ms", type=float, default=20, help="memory sampling period (default 20 ms)")
    ap.add_argument("--python", default=sys.executable, help=f"the Python peers' interpreter (default {sys.executable})")
    ap.add_argument("--build-dir", default="build-compare",
                    help="build directory, relative to the repository root or absolute; the programs, "
                    "inputs, compare.md and compare.png go there (default build-compare)")
    args = ap.parse_args()
    set_build_dir(ROOT / args.build_dir)

    parts = [s.strip() for s in args.only.split(",") if s.strip()]
    if not parts or any(s not in PARTS for s in parts):
        ap.error("--only takes fanout, pipeline or both")
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    if not peers or any(p not in PEERS for p in peers) or len(set(peers)) != len(peers):
        ap.error(f"--peers takes some of {','.join(PEERS)}")
    if "goro" not in peers:
        ap.error("--peers must include goro (digests are checked against goro's; ratios are goro/peer)")
    peers = [p for p in PEERS if p in peers]
    args.consumers = int_list(args.consumers, "--consumers", ap)
    args.pipeline_procs = sorted(set(int_list(args.pipeline_procs, "--pipeline-procs", ap)))
    if args.repeat < 1 or args.procs < 1 or args.sample_ms <= 0:
        ap.error("--repeat, --procs and --sample-ms must be positive")
    div = 10 if args.quick else 1
    for name in ("quotes", "py_quotes", "pipeline_quotes"):
        v = getattr(args, name) // div
        if v < 1:
            ap.error(f"--{name.replace('_', '-')} is too small")
        setattr(args, name, v)
    if args.quotes_per_snapshot < 1 or args.chunk < 1:
        ap.error("--quotes-per-snapshot and --chunk must be positive")
    args.timeout = args.timeout or (120 if args.quick else 600)
    sizes = {"goro": args.quotes, "go": args.quotes, "py_mp": args.py_quotes, "py_threads": args.py_quotes}
    ppeers = [p for p in PIPELINE_PEERS if p in peers]

    failures, notes = [], []
    fanout = pipeline = None
    fdigests, pnotes = [], []
    try:
        if not args.no_build:
            build(parts, peers)
        need = []
        if "fanout" in parts:
            need += [("goro", "goro_fanout")] + ([("go", "gobench")] if "go" in peers else [])
        if "pipeline" in parts:
            need += [("goro", "stats_pipeline")] + ([("go", "gobench")] if "go" in peers else [])
        for peer, b in need:
            if not BIN[b].exists():
                raise Failure(f"{BIN[b]} is missing (build without --no-build, or leave {peer} out)")
        n_f = len(args.consumers) * len(peers) * args.repeat if "fanout" in parts else 0
        n_p = len(args.pipeline_procs) * len(ppeers) * args.repeat if "pipeline" in parts else 0
        progress = [0, n_f + n_p]
        if "fanout" in parts:
            fanout, _, fdigests = run_fanout(args, peers, sizes, failures, progress)
        if "pipeline" in parts:
            pipeline, pnotes = run_pipeline(args, ppeers, failures, progress)
    except Failure as e:
        failures.append(str(e))
        log(f"compare.py: {e}")

    # ---- report ----
    cmdline = "bench/compare.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])
    text, md = [], [
        f"Command: `{cmdline}` ({args.repeat} run(s) per peer, medians; "
        f"{'--quick sizes' if args.quick else 'full sizes'})  ",
        f"Date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}  ",
        f"Machine: {machine_info()}, Python {sys.version.split()[0]} ({args.python})", ""]
    if fanout is not None:
        h, rows = fanout_tables(fanout, peers, sizes, args.repeat)
        title = (f"fanout: quotes/s and memory, GOMAXPROCS={args.procs}; each peer's own quote count "
                 "(row 'quotes per run')")
        text += [title, "", table_text(h, rows), ""]
        md += [f"### {title}", "",
               "Ratios are goro/peer: for quotes/s above 1 means goro does more; for memory below 1 "
               "means goro is smaller. Total RSS: the peak, over samples every "
               f"{args.sample_ms:g} ms, of the summed resident memory of the program and all its "
               "descendant processes (VmRSS, from /proc/PID/statm). PSS divides each shared page among the processes sharing it, so forked "
               "Python workers' shared pages count once.", ""]
        md += table_md(h, rows) + [""]
        md += ["Digests (every run checked against goro's at the same quote count, relative "
               f"{FANOUT_REL:g}):", ""] + fdigests + [""]
    if pipeline is not None:
        h, rows = pipeline_tables(pipeline, ppeers, args.pipeline_procs)
        title = (f"pipeline: {args.pipeline_quotes:,} quotes, 300 symbols x 100 options, "
                 f"{args.quotes_per_snapshot} quotes per snapshot, chunk {args.chunk}")
        text += [title, "", table_text(h, rows), ""]
        md += [f"### {title}", "", "Ratios are goro/peer: above 1 means goro does more.", ""]
        md += table_md(h, rows) + [""] + [f"- {n}" for n in pnotes] + [""]
    tg = targets(fanout, pipeline, peers, args.consumers, args.pipeline_procs)
    if tg:
        text += ["targets:"] + [f"  {verdict(m):12s} {w}: {v}" for w, v, m in tg] + [""]
        md += ["### Targets", "", "| target | measured | |", "|---|---:|---|"]
        md += [f"| {w} | {v} | {verdict(m)} |" for w, v, m in tg] + [""]
    if fanout is not None:
        c = TARGET_CONSUMERS if TARGET_CONSUMERS in fanout else max(fanout)
        m = {p: (med(fanout[c][p].qps), med(fanout[c][p].rss)) for p in peers}
        bits = []
        for p in peers[1:]:
            (gq, gr), (q, r) = m["goro"], m[p]
            if gq and q and gr and r:
                rss = f"1/{r / gr:.2g}" if gr < r else f"{gr / r:.2g}x"
                bits.append(f"vs {p}: {gq / q:.3g}x quotes/s, {rss} RSS" if not bits
                            else f"vs {p}: {gq / q:.3g}x, {rss}")
        sub = f"{c} consumers, goro " + "; ".join(bits) if bits else ""
        png, msg, err = chart(fanout, peers, sizes, args, sub)
        if err:
            failures.append(err)
            log(err)
        if msg:
            notes.append(msg)
            log(msg)
        if png:
            md += [f"![fanout chart]({png.name})", ""]
            text.append(f"chart: {png}")
    md += ["<details><summary>All runs</summary>", ""]
    if fanout is not None:
        for c, cells in fanout.items():
            for p, cell in cells.items():
                md.append(f"- fanout consumers={c} {p} N={sizes[p]:,}: "
                          + (", ".join(f"{q:,.0f} quotes/s {r / MiB:.1f}/{s / MiB:.1f} MiB RSS/PSS"
                                       for q, r, s in zip(cell.qps, cell.rss, cell.pss)) or "none"))
    if pipeline is not None:
        for np_, cells in pipeline.items():
            for p, cell in cells.items():
                md.append(f"- pipeline procs={np_} {p}: "
                          + (", ".join(f"{v:,.0f} /s/core ({w:,.0f} /s) {r / MiB:.1f} MiB"
                                       for v, w, r in zip(cell.vps_core, cell.vps, cell.rss)) or "none"))
    md += ["", "</details>"]
    if notes:
        md += [""] + [f"Note: {n}" for n in notes]
    if failures:
        md += ["", "Failures:", "", "```"] + failures + ["```"]
    print()
    print("\n".join(text))
    return write_report(BUILD / "compare.md", md, failures)


if __name__ == "__main__":
    sys.exit(main())
