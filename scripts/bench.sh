#!/usr/bin/env bash
# Runs the benchmark suite, 9 repetitions each: bench_core (hot operations beside memcpy and
# an atomic word copy), bench_ipc (cross-process latency beside the cache-line limit, the
# copy floor and the peers; repetitions of all transports interleaved at random, so a change
# of the host's state during the run hits each transport alike) and bench_sim (the LB's
# per-packet cost beside a flow-table touch of the same size). Writes OUT_DIR/bench_*.json
# and OUT_DIR/bench.csv (marllb.tools.bench_to_csv).
#
#   scripts/bench.sh [--out DIR] [--cpus A,B] [--build DIR] [--suites core,ipc,sim]
#                    [--core-filter RE] [--ipc-filter RE] [--sim-filter RE]
#                    [--repetitions N] [--commit HASH]
#     --out       default results/bench/latest
#     --build     a build tree other than build/release (e.g. a test build, another commit's)
#     --repetitions  per benchmark (default 9; the gate's rounds run fewer each)
#     --commit    the git_commit the rows carry (default this tree's HEAD; for --build of another commit)
#     --cpus      receiver and sender CPUs for bench_ipc (default 0,1)
#     --suites    which binaries to run (default all three)
#     --*-filter  a Google Benchmark filter for that binary (default: what the gate reads
#                 from bench_sim, everything from the others)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
out="$MARLLB_ROOT/results/bench/latest"
min_time=0.1 # one profile for baselines and the gate alike: ratios move with it
cpus=0,1
build="$MARLLB_ROOT/build/release"
suites=core,ipc,sim
core_filter=. ipc_filter=. sim_filter='BM_LbAckPacket|BM_LbAckBurst|BM_TableTouch'
reps_n=9 commit="" build_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2" build_given=1; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --cpus) cpus="$2"; shift 2 ;;
    --suites) suites="$2"; shift 2 ;;
    --core-filter) core_filter="$2"; shift 2 ;;
    --ipc-filter) ipc_filter="$2"; shift 2 ;;
    --sim-filter) sim_filter="$2"; shift 2 ;;
    --repetitions) reps_n="$2"; shift 2 ;;
    --commit) commit="$2"; shift 2 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$reps_n" =~ ^[1-9][0-9]*$ ]] || { say "error: --repetitions must be a positive integer, not '$reps_n'"; exit 2; }
[ "$(nproc)" -ge 2 ] || die "bench_ipc needs two CPUs; this machine has $(nproc)"
[ "$build_given" -eq 1 ] || "$MARLLB_ROOT/scripts/setup.sh" release >&2 # --build: built by the caller
export MARLLB_GIT_COMMIT="${commit:-$(git_commit)}"
mkdir -p "$out"
bin="$build/bench"
reps=(--benchmark_repetitions="$reps_n" --benchmark_format=console --benchmark_display_aggregates_only=true)
jsons=()
for suite in ${suites//,/ }; do
  [ -x "$bin/bench_$suite" ] || die "no bench_$suite in $bin: build it first (cmake --build --preset release)"
  json="$out/bench_$suite.json"
  case "$suite" in
    core)
      say "bench_core (hot operations, min time ${min_time} s, $reps_n repetitions)"
      "$bin/bench_core" "${reps[@]}" --benchmark_min_time="$min_time" --benchmark_filter="$core_filter" \
        --benchmark_out="$json" --benchmark_out_format=json >&2 ;;
    ipc)
      say "bench_ipc (cross-process latency on CPUs $cpus, $reps_n repetitions, interleaved)"
      "$bin/bench_ipc" --cpu-a="${cpus%,*}" --cpu-b="${cpus#*,}" "${reps[@]}" --benchmark_filter="$ipc_filter" \
        --benchmark_enable_random_interleaving=true --benchmark_counters_tabular=true \
        --benchmark_out="$json" --benchmark_out_format=json >&2 ;;
    sim)
      say "bench_sim (the LB's per-packet cost, min time ${min_time} s, $reps_n repetitions)"
      "$bin/bench_sim" "${reps[@]}" --benchmark_min_time="$min_time" --benchmark_filter="$sim_filter" \
        --benchmark_out="$json" --benchmark_out_format=json >&2 ;;
    *) die "unknown suite '$suite' (core, ipc, sim)" ;;
  esac
  jsons+=("$json")
done
/usr/bin/python3 -m marllb.tools.bench_to_csv "$out/bench.csv" "${jsons[@]}"
