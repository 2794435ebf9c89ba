#!/usr/bin/env bash
# One-way observation latency against its physical floor and against iceoryx, RUNS times:
# each run is one bench_ipc invocation with marllb-shm, the copy floor (the receiver copies the
# 2,848 bytes the sender's core just wrote, after a one-line signal) and iceoryx interleaved at
# random, 9 repetitions each. Per run: the medians of the per-repetition p50s, the ratios
# marllb/floor and marllb/iceoryx (median and spread over the repetitions, paired by position
# in the run) and whether each goal was met; the last lines say in how many runs.
#
#   scripts/oneway_series.sh [--runs N] [--out DIR] [--floor-goal X] [--iceoryx-goal X]
#     --runs          default 10
#     --out           default results/bench/oneway (series.csv, one row per run, appended)
#     --floor-goal    marllb p50 / floor p50 at most this (default 1.3)
#     --iceoryx-goal  marllb p50 / iceoryx p50 at most this (default 0.3)
# Exit 0 when the series ran (whatever the goals say: the rows and the summary say it), 1 when a
# run produced no numbers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
export PYTHONPATH="$MARLLB_ROOT/core/python${PYTHONPATH:+:$PYTHONPATH}" # marllb.tools.oneway_series (pure Python), first
runs=10 out="$MARLLB_ROOT/results/bench/oneway" floor_goal=1.3 iceoryx_goal=0.3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --floor-goal) floor_goal="$2"; shift 2 ;;
    --iceoryx-goal) iceoryx_goal="$2"; shift 2 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || usage_error "--runs takes a positive whole number, not '$runs'"
"$MARLLB_ROOT/scripts/setup.sh" release >&2
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
series_id="$(date -u +%Y-%m-%dT%H:%M:%SZ)@$(git_commit)"
for run in $(seq 1 "$runs"); do
  say "run $run of $runs"
  "$MARLLB_ROOT/scripts/bench.sh" --suites ipc --ipc-filter 'CopyFloorOneWay|ObsOneWay/(marllb_shm|iceoryx)' \
    --out "$tmp/run$run" >"$tmp/run$run.log" 2>&1 || { tail -20 "$tmp/run$run.log" >&2; die "bench.sh failed in run $run (log above)"; }
  /usr/bin/python3 -m marllb.tools.oneway_series row --bench-csv "$tmp/run$run/bench.csv" --run "$run" \
    --series "$series_id" --floor-goal "$floor_goal" --iceoryx-goal "$iceoryx_goal" --csv "$out/series.csv" || exit 1
done
/usr/bin/python3 -m marllb.tools.oneway_series summary --csv "$out/series.csv" --series "$series_id"
