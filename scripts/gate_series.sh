#!/usr/bin/env bash
# Checks the benchmark gate itself: runs it RUNS times on unchanged code (every run must
# pass: no false alarm), or on a test build with a planted slowdown (every run must fail on
# the rule that watches it). One row per rule and run goes to OUT/series.csv
# (scripts/bench_compare.py --csv); the last line says how many runs gave the expected
# verdict. Exit 0 only if all did.
#
#   scripts/gate_series.sh [--runs N] [--plant NAME] [--rule RULE] [--out DIR] [--baseline FILE]
#     --plant   none (default: the whole suite, every rule), publish_1.5x (hot publish),
#               read_1.5x (one-way p50), read_tail (one-way p99), lb_1.5x (the LB's per-packet
#               cost, one packet at a time), lb_burst_1.5x (the same, judged on the burst rule).
#               A plant runs only the benchmarks its rule reads, and judges that rule.
#     --rule    on unchanged code, run only the benchmarks of this rule and judge it alone
#               (publish_vs_word_copy, read_newest_vs_word_copy, obs_one_way_p50_vs_floor,
#               obs_one_way_p99_vs_floor, lb_ack_vs_table_touch, lb_burst_vs_table_touch)
#     --out     default results/bench/gate-series
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
runs=10 plant=none rule="" out="$MARLLB_ROOT/results/bench/gate-series"
baseline="$MARLLB_ROOT/results/bench/baseline.csv"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --plant) plant="$2"; shift 2 ;;
    --rule) rule="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[ -f "$baseline" ] || die "no baseline $baseline"
build="$MARLLB_ROOT/build/release" bench_args=() rules=""
# The benchmarks each watched rule reads.
subset() {
  case "$1" in
    publish_vs_word_copy) bench_args=(--suites core --core-filter 'BM_PublishObservation|BM_AtomicWordCopy/bytes:2848') ;;
    read_newest_vs_word_copy) bench_args=(--suites core --core-filter 'BM_ReadNewestObservation|BM_AtomicWordCopy/bytes:2848') ;;
    obs_one_way_p50_vs_floor|obs_one_way_p99_vs_floor) bench_args=(--suites ipc --ipc-filter 'CopyFloor|ObsOneWay/marllb_shm') ;;
    lb_ack_vs_table_touch|lb_burst_vs_table_touch) bench_args=(--suites sim) ;;
    *) die "no benchmark subset for rule '$1'" ;;
  esac
  rules="$1"
}
case "$plant" in
  none) [ -z "$rule" ] || subset "$rule" ;;
  publish_1.5x) subset publish_vs_word_copy ;;
  read_1.5x) subset obs_one_way_p50_vs_floor ;;
  read_tail) subset obs_one_way_p99_vs_floor ;;
  lb_1.5x) subset lb_ack_vs_table_touch ;;
  lb_burst_1.5x) subset lb_burst_vs_table_touch ;;
  *) usage_error "unknown plant '$plant' (none, publish_1.5x, read_1.5x, read_tail, lb_1.5x, lb_burst_1.5x)" ;;
esac
[ -z "$rule" ] || [ "$rule" = "$rules" ] || usage_error "--rule $rule is not what plant $plant is judged on ($rules)"
if [ "$plant" != none ]; then
  cmake_plant="$plant"
  [ "$plant" = lb_burst_1.5x ] && cmake_plant=lb_1.5x # the same planted work, judged on the burst rule
  build="$MARLLB_ROOT/build/plant-$cmake_plant"
  say "building the test build with plant $cmake_plant in $build"
  cmake --preset release -B "$build" -DMARLLB_TEST_PLANT="$cmake_plant" >/dev/null || die "configure failed for plant $plant"
  cmake --build "$build" --target bench_core bench_ipc bench_sim >/dev/null || die "build failed for plant $plant"
  bench_args+=(--build "$build")
else
  "$MARLLB_ROOT/scripts/setup.sh" release >&2
fi
mkdir -p "$out"
expected=0
for k in $(seq 1 "$runs"); do
  run_dir="$(mktemp -d)"
  "$MARLLB_ROOT/scripts/bench.sh" --out "$run_dir" "${bench_args[@]}" || { rm -rf "$run_dir"; die "run $k: the benchmarks failed"; }
  rc=0 label="$plant${rule:+:$rule}#$k@$(git_commit)"
  /usr/bin/python3 "$MARLLB_ROOT/scripts/bench_compare.py" "$baseline" "$run_dir/bench.csv" \
    --csv "$out/series.csv" --label "$label" ${rules:+--rules "$rules"} || rc=$?
  rm -rf "$run_dir"
  [ $rc -le 1 ] || die "the gate could not judge run $k (exit $rc)"
  if [ "$plant" = none ]; then [ $rc -eq 0 ] && expected=$((expected + 1))
  # Caught only by its rule failing on a measured growth (not by a missing metric or a crash).
  elif [ $rc -eq 1 ] && grep -qE "^${label//./\\.},$rules,[^,]*,[^,]*,[0-9][^,]*,[^,]*,FAIL[[:space:]]*$" "$out/series.csv"; then
    expected=$((expected + 1))
  fi
  say "run $k of $runs: gate exit $rc"
done
want=$([ "$plant" = none ] && echo "passed" || echo "caught the plant")
say "plant $plant: $expected of $runs runs $want"
[ "$expected" -eq "$runs" ]
