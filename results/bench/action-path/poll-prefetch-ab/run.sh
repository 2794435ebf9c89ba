#!/bin/bash
# The alternated runs behind docs/design/action-slot.md "The poll's copy
# prefetched". REF is a release build of 1ddce47, whose poll does not prefetch:
#   git worktree add /tmp/refwt 1ddce47 && cd /tmp/refwt && cmake --preset release -B build &&
#   cmake --build build --target marllb-scenario-cadence   (REF: /tmp/refwt/build/scenarios/marllb-scenario-cadence)
# CAND is build/release/scenarios/marllb-scenario-cadence of a tree whose poll_action
# prefetched the action before copying it:
# runs 1-4 with prefetch_lines(&a->write_mono_ns, sizeof copy) at b7f9696 (13 of its 14 lines),
# runs 5-8 the same after prefetch_lines covered every line (40064aa plus that fix). Each run's
# rows are OUT/<n>-<side>/cadence.csv, copied here as <n>-<side>.csv (runs 5-8 from a second
# call, numbered on).
#
#   run.sh REF_BINARY CAND_BINARY OUT_DIR
# A run that misses a target exits 1 and its rows are still the measurement; any other
# failure (2: bad input, a crash) stops the series with that run's exit code.
set -u
[ $# -eq 3 ] || { echo "usage: $0 REF_BINARY CAND_BINARY OUT_DIR" >&2; exit 2; }
REF=$1 CAND=$2 OUT=$3
mkdir -p "$OUT"
i=0
for side in cand ref ref cand; do
  i=$((i+1))
  bin=$REF; [ $side = cand ] && bin=$CAND
  rc=0
  "$bin" --profile budget --seconds 200 --regime reactive --rehearse-us 50 --quiet --out "$OUT/$i-$side" \
    > "$OUT/$i-$side.log" 2>&1 || rc=$?
  if [ $rc -gt 1 ]; then echo "run $i ($side) failed with exit $rc: see $OUT/$i-$side.log" >&2; exit $rc; fi
done
