#!/bin/bash
# The alternated runs behind README / docs/design/action-slot.md "The poll's copy prefetched".
# REF is a release build of the commit before the prefetch (1ddce47):
#   git worktree add /tmp/refwt 1ddce47 && cd /tmp/refwt && cmake --preset release -B build &&
#   cmake --build build --target marllb-scenario-cadence
# CAND is build/release of the commit with it (scripts/setup.sh release). Each run's rows are
# <out>/cadence.csv, copied here as <n>-<side>.csv.
set -e
REF=/tmp/refwt/build/scenarios/marllb-scenario-cadence
CAND=/work/main/build/release/scenarios/marllb-scenario-cadence
i=0
for side in cand ref ref cand; do
  i=$((i+1))
  bin=$REF; [ $side = cand ] && bin=$CAND
  $bin --profile budget --seconds 200 --regime reactive --rehearse-us 50 --quiet --out /tmp/cad/$i-$side > /tmp/cad/$i-$side.log 2>&1 || true
done
echo finished > /tmp/cad/done
