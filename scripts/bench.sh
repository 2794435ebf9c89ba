#!/usr/bin/env bash
# Runs the benchmark suite (bench_core: hot operations beside memcpy; bench_ipc: cross-process
# latency beside the cache-line limit and the peers), 9 repetitions each, and writes
# OUT_DIR/{bench_core,bench_ipc}.json and OUT_DIR/bench.csv (scripts/bench_to_csv.py).
#
#   scripts/bench.sh [--out DIR] [--cpus A,B] [--build DIR]
#     --out     default results/bench/latest
#     --build   a build tree other than build/release (e.g. a test build)
#     --cpus    receiver and sender CPUs for bench_ipc (default 0,1)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
out="$MARLLB_ROOT/results/bench/latest"
min_time=0.1 # one profile for baselines and the gate alike: ratios move with it
cpus=0,1
build="$MARLLB_ROOT/build/release"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cpus) cpus="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[ "$(nproc)" -ge 2 ] || die "bench_ipc needs two CPUs; this machine has $(nproc)"
[ "$build" != "$MARLLB_ROOT/build/release" ] || "$MARLLB_ROOT/scripts/setup.sh" release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
mkdir -p "$out"
bin="$build/bench"
[ -x "$bin/bench_core" ] && [ -x "$bin/bench_ipc" ] || die "no benchmarks in $bin: build them first"
reps=(--benchmark_repetitions=9 --benchmark_format=console)
say "bench_core (hot operations, min time ${min_time} s, 9 repetitions)"
"$bin/bench_core" "${reps[@]}" --benchmark_min_time="$min_time" --benchmark_display_aggregates_only=true \
  --benchmark_out="$out/bench_core.json" --benchmark_out_format=json >&2
say "bench_ipc (cross-process latency on CPUs $cpus, 9 repetitions)"
"$bin/bench_ipc" --cpu-a="${cpus%,*}" --cpu-b="${cpus#*,}" "${reps[@]}" --benchmark_display_aggregates_only=true \
  --benchmark_counters_tabular=true --benchmark_out="$out/bench_ipc.json" --benchmark_out_format=json >&2
/usr/bin/python3 "$MARLLB_ROOT/scripts/bench_to_csv.py" "$out/bench.csv" "$out/bench_core.json" "$out/bench_ipc.json"
