#!/usr/bin/env bash
# The CI regression gate: runs the quick benchmark profile and compares it with the
# committed baseline (results/bench/baseline.csv) under bench/gate.toml. Exit 1 names the
# metrics that regressed.
#
#   scripts/bench_gate.sh [BASELINE.csv]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
baseline="${1:-$MARLLB_ROOT/results/bench/baseline.csv}"
[ -f "$baseline" ] || die "no baseline $baseline: make one with scripts/bench.sh --out results/bench/baseline-run"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$MARLLB_ROOT/scripts/bench.sh" --quick --out "$out"
/usr/bin/python3 "$MARLLB_ROOT/scripts/bench_compare.py" "$baseline" "$out/bench.csv"
