#!/usr/bin/env bash
# The quote_fanout program end to end (run by ctest): program_tests.sh QUOTE_FANOUT FIX_EXCHANGE CASE
set -uo pipefail
qf=$1 ex=$2 case=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
case $case in
  embedded)  # the default: the embedded exchange; the JSON summary says what happened
    out=$("$qf" --duration 2 --symbols 50 --rate 20000 --consumers 2 --json) || fail "exit code $?"
    for want in '"logged_on":true' '"logged_out":true' '"error":""' '"errors":{"total":0' '"unknown_symbols":0'; do
      grep -qF "$want" <<<"$out" || fail "no $want in $out"
    done
    grep -qE '"quotes":[1-9][0-9]{4,}' <<<"$out" || fail "too few quotes: $out"
    ;;
  view)  # not a terminal: one line a second, then the summary
    out=$("$qf" --duration 2 --symbols 20 --rate 5000 --consumers 1) || fail "exit code $?"
    grep -qE '^t= +[12]s .* quotes/s' <<<"$out" || fail "no per-second line in: $out"
    grep -q 'session    logged out cleanly' <<<"$out" || fail "no clean logout in: $out"
    ;;
  external)  # --connect to a fix_exchange process
    log=$(mktemp)
    "$ex" --listen 127.0.0.1:0 --symbols 40 --seed 3 --rate 10000 --duration 20 --quiet >"$log" &
    pid=$!
    trap 'kill $pid 2>/dev/null; rm -f "$log"' EXIT
    for _ in $(seq 100); do grep -q 'listening on' "$log" && break; sleep 0.1; done
    addr=$(sed -n 's/^fix_exchange: listening on \([^:]*:[0-9]*\):.*/\1/p' "$log")
    [[ -n $addr ]] || fail "fix_exchange did not start: $(cat "$log")"
    out=$("$qf" --connect "$addr" --symbols 40 --seed 3 --duration 1 --json) || fail "exit code $?"
    grep -qF '"logged_out":true' <<<"$out" || fail "no clean logout: $out"
    grep -qF '"unknown_symbols":0' <<<"$out" || fail "the universes differ: $out"
    grep -qF "\"source\":\"$addr\"" <<<"$out" || fail "not from $addr: $out"
    ;;
  interrupt)  # SIGINT ends the run early, with the summary and exit code 0
    log=$(mktemp)
    "$qf" --duration 60 --symbols 20 --rate 5000 >"$log" 2>&1 &
    pid=$!
    sleep 1.5
    kill -INT $pid
    wait $pid; rc=$?
    out=$(cat "$log"); rm -f "$log"
    [[ $rc -eq 0 ]] || fail "exit code $rc after SIGINT: $out"
    grep -q 'interrupted, stopping' <<<"$out" || fail "no interruption message: $out"
    grep -q 'session    logged out cleanly' <<<"$out" || fail "no summary: $out"
    ;;
  refused)  # nobody listens: a clear message and exit code 1
    err=$("$qf" --connect 127.0.0.1:1 --duration 1 2>&1 >/dev/null); rc=$?
    [[ $rc -eq 1 ]] || fail "exit code $rc, want 1"
    grep -q 'cannot connect to 127.0.0.1:1' <<<"$err" || fail "unclear error: $err"
    ;;
  usage)  # a bad flag: the usage and exit code 2
    err=$("$qf" --rate -5 2>&1); rc=$?
    [[ $rc -eq 2 ]] || fail "exit code $rc, want 2"
    grep -q -- '--rate takes a number' <<<"$err" || fail "unclear error: $err"
    ;;
  *) fail "unknown case $case" ;;
esac
echo "ok: $case"
