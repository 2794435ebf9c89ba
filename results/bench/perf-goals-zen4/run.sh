#!/usr/bin/env bash
# Issue #24's goals on this host, RUNS times (default 3): each run the benchmark suite
# (scripts/bench.sh), the Python reads (bench/bench_python.py) and their verdicts
# (marllb-bench-goals), one row per goal and run appended to OUT/goals.csv.
#   results/bench/perf-goals-zen4/run.sh OUT [RUNS]
set -euo pipefail
out="${1:?usage: run.sh OUT [RUNS]}" runs="${2:-3}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
for i in $(seq 1 "$runs"); do
  "$root/scripts/bench.sh" --out "$out/run$i"
  /usr/bin/python3 "$root/bench/bench_python.py" --csv "$out/run$i/bench_python.csv"
  PYTHONPATH="$root/core/python" /usr/bin/python3 -m marllb.tools.bench_goals --bench "$out/run$i/bench.csv" \
    --python "$out/run$i/bench_python.csv" --csv "$out/goals.csv" | tee "$out/run$i/goals.md"
done
