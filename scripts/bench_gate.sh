#!/usr/bin/env bash
# The CI regression gate: runs the benchmark suite and compares it with the committed
# baseline (results/bench/baseline.csv) under bench/gate.toml. Exit 1 names the metrics that
# regressed. Extra arguments go to scripts/bench.sh (e.g. --build DIR for a test build).
#
# A failing comparison is run once more from scratch: a real regression fails twice, noise
# on a shared machine almost never does (--tries N to change).
#
#   scripts/bench_gate.sh [--baseline FILE] [--tries N] [bench.sh options]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
baseline="$MARLLB_ROOT/results/bench/baseline.csv"
tries=2
while [ $# -gt 0 ]; do
  case "$1" in
    --baseline) baseline="$2"; shift 2 ;;
    --tries) tries="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -f "$baseline" ] || die "no baseline $baseline: make one with scripts/bench.sh --out results/bench/baseline-run"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for try in $(seq 1 "$tries"); do
  "$MARLLB_ROOT/scripts/bench.sh" --out "$out" "$@"
  rc=0
  /usr/bin/python3 "$MARLLB_ROOT/scripts/bench_compare.py" "$baseline" "$out/bench.csv" || rc=$?
  [ $rc -eq 1 ] || exit $rc # passed, or unusable input
  [ "$try" -lt "$tries" ] && say "gate failed on try $try of $tries: running the suite again"
done
exit 1
