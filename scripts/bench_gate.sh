#!/usr/bin/env bash
# The CI regression gate: runs the benchmark suite and compares it with the committed
# baseline (results/bench/baseline.csv) under bench/gate.toml. Exit 1 names the metrics that
# regressed. Extra arguments go to scripts/bench.sh (e.g. --build DIR for a test build).
#
#   scripts/bench_gate.sh [--baseline FILE] [bench.sh options]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
baseline="$MARLLB_ROOT/results/bench/baseline.csv"
if [ "${1:-}" = --baseline ]; then baseline="$2"; shift 2; fi
[ -f "$baseline" ] || die "no baseline $baseline: make one with scripts/bench.sh --out results/bench/baseline-run"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$MARLLB_ROOT/scripts/bench.sh" --out "$out" "$@"
/usr/bin/python3 "$MARLLB_ROOT/scripts/bench_compare.py" "$baseline" "$out/bench.csv"
