#!/bin/bash
# The alternated runs behind docs/design/action-slot.md "Tried and not kept: the poll's copy
# prefetched". REF is a release build of 1ddce47, whose poll does not prefetch:
#   git worktree add /tmp/refwt 1ddce47 && cd /tmp/refwt && cmake --preset release -B build &&
#   cmake --build build --target marllb-scenario-cadence
# CAND is build/release of a tree whose poll_action prefetched the action before copying it:
# runs 1-4 with prefetch_lines(&a->write_mono_ns, sizeof copy) at b7f9696 (13 of its 14 lines),
# runs 5-8 the same after prefetch_lines covered every line (40064aa plus that fix). Each run's
# rows are <out>/cadence.csv, copied here as <n>-<side>.csv (runs 5-8 from a second call).
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
