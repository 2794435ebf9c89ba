#!/usr/bin/env bash
# Checks the benchmark gate itself: runs it (scripts/bench_gate.sh with CI's two tries, A/B against
# the reference commit of bench/gate-reference) RUNS times on unchanged code (every run must
# pass: no false alarm), or with a test build of this tree with a planted slowdown as the
# candidate against the unplanted reference (every run must fail on the rule that watches
# it). One row per rule, run and try goes to OUT/series.csv (marllb.tools.bench_compare --csv: both
# sides' commits and CPUs, both ratios, growth, p, verdict); the last line says how many runs
# gave the expected verdict. Exit 0 only if all did. OUT/runs.csv has one row per run: its
# start, the seconds the gate took, the share of the CPUs that other processes used meanwhile
# (lib.sh others_share), the load average before and after, the exit code. OUT/raw/<plant>#<run>/
# keeps each run's benchmark CSVs (both sides' repetitions).
#
#   scripts/gate_series.sh [--runs N] [--plant NAME] [--rule RULE] [--out DIR] [--tries N]
#                          [--reference REV | --baseline FILE]
#     --plant   none (default: the whole suite, every rule), publish_1.5x (hot publish),
#               read_1.5x (every read delayed by half the one-way p50, measured first),
#               read_tail (one read in 50 delayed so that the one-way calm p99 about doubles:
#               twice the p99 less the p50, both measured first), lb_1.5x (the LB's per-packet
#               cost, one packet at a time), lb_burst_1.5x (the same, judged on the burst rule),
#               validate_1.5x, write_action_1.5x (the action's checks; the agent's write),
#               action_drop (the LB's poll consumes one action in 50 unapplied: full_loop_lost_calm).
#               A plant runs only the benchmarks its rule reads, and judges that rule.
#     --rule    on unchanged code, run only the benchmarks of this rule and judge it alone
#               (hot: the four below, from one run of bench_core's BM_Paired/*;
#               publish_vs_word_copy, read_newest_vs_word_copy, validate_vs_word_copy,
#               write_action_vs_word_copy, obs_one_way_p50_vs_floor,
#               obs_one_way_p99_vs_floor, lb_ack_vs_table_touch, lb_burst_vs_table_touch,
#               full_loop_lost_calm)
#     --tries   the gate's tries per run (default 2, as CI runs it: a run fails only if both do;
#               --tries 1 judges the first try alone)
#     --out     default build/gate-series (results/bench/gate-series holds the reported series)
#     --reference, --baseline: what the gate compares with (scripts/bench_gate.sh)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
usage() { printf '[marllb] error: %s (scripts/gate_series.sh --help)\n' "$*" >&2; exit 2; }
runs=10 tries=2 plant=none rule="" out="$MARLLB_ROOT/build/gate-series" against=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs|--tries|--plant|--rule|--out|--reference|--baseline) [ $# -ge 2 ] || usage "$1 needs a value" ;;&
    --runs) runs="$2"; shift 2 ;;
    --tries) tries="$2"; shift 2 ;;
    --plant) plant="$2"; shift 2 ;;
    --rule) rule="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --reference|--baseline) against+=("$1" "$2"); shift 2 ;;
    *) usage "unknown option '$1'" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage "--runs must be a positive count, not '$runs'"
[[ "$tries" =~ ^[1-9][0-9]*$ ]] || usage "--tries must be a positive count, not '$tries'"
bench_args=() rules=""
# The benchmarks each watched rule reads.
subset() {
  rules="$1"
  case "$1" in
    hot) bench_args=(--suites core --core-filter 'BM_Paired/')
         rules=publish_vs_word_copy,read_newest_vs_word_copy,validate_vs_word_copy,write_action_vs_word_copy ;;
    publish_vs_word_copy) bench_args=(--suites core --core-filter 'BM_Paired/publish') ;;
    read_newest_vs_word_copy) bench_args=(--suites core --core-filter 'BM_Paired/read_newest') ;;
    validate_vs_word_copy) bench_args=(--suites core --core-filter 'BM_Paired/validate') ;;
    write_action_vs_word_copy) bench_args=(--suites core --core-filter 'BM_Paired/write_action') ;;
    obs_one_way_p50_vs_floor|obs_one_way_p99_vs_floor) bench_args=(--suites ipc --ipc-filter 'ObsPaired/marllb_shm') ;;
    lb_ack_vs_table_touch|lb_burst_vs_table_touch) bench_args=(--suites sim) ;;
    full_loop_lost_calm) bench_args=(--suites ipc --ipc-filter 'FullLoop/marllb_shm') ;;
    *) usage "no benchmark subset for rule '$1'" ;;
  esac
}
case "$plant" in
  none) [ -z "$rule" ] || subset "$rule" ;;
  publish_1.5x) subset publish_vs_word_copy ;;
  read_1.5x) subset obs_one_way_p50_vs_floor ;;
  read_tail) subset obs_one_way_p99_vs_floor ;;
  validate_1.5x) subset validate_vs_word_copy ;;
  write_action_1.5x) subset write_action_vs_word_copy ;;
  lb_1.5x) subset lb_ack_vs_table_touch ;;
  lb_burst_1.5x) subset lb_burst_vs_table_touch ;;
  action_drop) subset full_loop_lost_calm ;;
  *) usage "unknown plant '$plant' (none, publish_1.5x, read_1.5x, read_tail, validate_1.5x, write_action_1.5x, action_drop, lb_1.5x, lb_burst_1.5x)" ;;
esac
[ -z "$rule" ] || [ "$plant" = none ] || [ "$rule" = "$rules" ] || usage "--rule $rule is not what plant $plant is judged on ($rules)"
mkdir -p "$out" 2>/dev/null && [ -w "$out" ] || usage "cannot write into $out"
if [ "$plant" != none ]; then
  cmake_plant="$plant"
  [ "$plant" = lb_burst_1.5x ] && cmake_plant=lb_1.5x # the same planted work, judged on the burst rule
  build="$MARLLB_ROOT/build/plant-$cmake_plant"
  plant_defs=()
  if [ "$plant" = read_1.5x ] || [ "$plant" = read_tail ]; then
    # Sized from this host's one-way latency now (the unplanted build, 3 repetitions of the
    # paired benchmark): a fixed delay is 1.5x on one placement and +11 % on another.
    ipc="$MARLLB_ROOT/build/release/bench/bench_ipc"
    [ -x "$ipc" ] || die "$plant sizes its delay with $ipc: build it first (scripts/setup.sh release)"
    measured="$("$ipc" --benchmark_filter='^BM_ObsPaired/marllb_shm' --benchmark_repetitions=3 --benchmark_format=json 2>/dev/null |
      /usr/bin/python3 -c 'import json, statistics, sys
reps = [b for b in json.load(sys.stdin)["benchmarks"] if b.get("run_type") == "iteration"]
print(round(statistics.median(b["p50_calm_ns"] for b in reps)), round(statistics.median(b["p99_calm_ns"] for b in reps)))')" \
      || die "$plant: could not measure the one-way latency to size its delay"
    read -r p50 p99 <<< "$measured"
    [ "${p50:-0}" -ge 100 ] || die "$plant: a one-way calm p50 of ${p50:-0} ns is no measurement (no calm events?): run it again on a quieter host"
    if [ "$plant" = read_1.5x ]; then
      delay=$((p50 / 2))
      say "read_1.5x: one-way calm p50 now $p50 ns: every read delayed by $delay ns"
      plant_defs=(-DMARLLB_TEST_PLANT_DELAY_NS="$delay")
    else
      # One read in 50 (2 % of events, so the p99 falls among the delayed ones, about at their
      # median: p50 + delay) delayed by 2 p99 - p50: the calm p99 about doubles. Under 4 us, so
      # that a delayed event still counts as calm (bench/ipc/harness.hpp's stall threshold).
      delay=$((2 * p99 - p50)); [ "$delay" -le 3500 ] || delay=3500
      say "read_tail: one-way calm p50 now $p50 ns, p99 $p99 ns: one read in 50 delayed by $delay ns"
      plant_defs=(-DMARLLB_TEST_PLANT_TAIL_NS="$delay")
    fi
  fi
  say "building the test build with plant $cmake_plant in $build"
  cmake --preset release -S "$MARLLB_ROOT" -B "$build" -DMARLLB_TEST_PLANT="$cmake_plant" "${plant_defs[@]}" >/dev/null || die "configure failed for plant $plant"
  targets=(bench_core bench_ipc) # the suites the plant's rule reads (subset above)
  [ "$cmake_plant" != lb_1.5x ] || targets=(bench_sim)
  nice cmake --build "$build" --target "${targets[@]}" >/dev/null || die "build failed for plant $plant"
  bench_args+=(--build "$build")
fi
expected=0
[ -s "$out/runs.csv" ] || echo "label,started,seconds,others_cpu_pct,load_before,load_after,exit" > "$out/runs.csv"
for k in $(seq 1 "$runs"); do
  rc=0 label="$plant${rule:+:$rule}#$k@$(git_commit)"
  started="$(date -u +%Y-%m-%dT%H:%M:%SZ)" t0="$(date +%s)" load0="$(cut -d' ' -f1 /proc/loadavg)" mark="$(cpu_mark)"
  "$MARLLB_ROOT/scripts/bench_gate.sh" --tries "$tries" --no-table "${against[@]}" --csv "$out/series.csv" --label "$label" \
    --keep "$out/raw/${label%@*}" \
    ${rules:+--rules "$rules"} "${bench_args[@]}" || rc=$?
  # One row per run: how long the gate took (CI's cost) and how busy the host was.
  echo "$label,$started,$(( $(date +%s) - t0 )),$(others_share "$mark"),$load0,$(cut -d' ' -f1 /proc/loadavg),$rc" >> "$out/runs.csv"
  [ $rc -le 1 ] || die "the gate could not judge run $k (exit $rc)"
  if [ "$plant" = none ]; then [ $rc -eq 0 ] && expected=$((expected + 1))
  # Caught only by its rule failing on a measured value (a ratio's growth, an exact rule's
  # count), not by a missing metric or a crash.
  elif [ $rc -eq 1 ] && /usr/bin/python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["label"] == sys.argv[2] and r["rule"] == sys.argv[3]]
measured = rows and (rows[-1]["growth"] or rows[-1]["candidate"])  # the growth of a ratio, the count of an exact rule
sys.exit(0 if measured and rows[-1]["verdict"] == "FAIL" else 1)' "$out/series.csv" "$label" "$rules"; then
    expected=$((expected + 1))
  fi
  say "run $k of $runs: gate exit $rc"
done
want=$([ "$plant" = none ] && echo "passed" || echo "caught the plant")
say "plant $plant: $expected of $runs runs $want"
[ "$expected" -eq "$runs" ]
