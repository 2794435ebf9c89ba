#!/bin/bash
# The alternated runs behind docs/rl.md "Speed of the loop": the RL loop before and after its
# waits yield the CPU and the LB observes before it waits (f273e75). REF_ROOT is a checkout of
# c194467 built with
#   git worktree add /tmp/ref c194467 && cd /tmp/ref && cmake --preset release &&
#   cmake --build build/release --target marllb-sim marllb_shm_python marllb_python_files
# CAND_ROOT a checkout of the commit measured, built by scripts/setup.sh. Each side's
# marllb-env-speed runs with its own package and marllb-sim (--episodes 10, the rest default),
# in the order cand ref ref cand, PAIRS times; each side appends its rows to OUT_DIR/<side>.csv
# (the two sides' columns differ), the output of each run to OUT_DIR/<n>-<side>.log.
#
#   run.sh REF_ROOT CAND_ROOT OUT_DIR [PAIRS]   (PAIRS: default 2, that is 4 pairs of runs)
# A failed run stops the series with its exit code.
set -u
[ $# -eq 3 ] || [ $# -eq 4 ] || { echo "usage: $0 REF_ROOT CAND_ROOT OUT_DIR [PAIRS]" >&2; exit 2; }
REF=$1 CAND=$2 OUT=$3 PAIRS=${4:-2}
for root in "$REF" "$CAND"; do
  [ -x "$root/build/release/sim/apps/marllb-sim" ] || { echo "$root: no build/release/sim/apps/marllb-sim (build it first)" >&2; exit 2; }
done
case $PAIRS in ''|*[!0-9]*|0) echo "PAIRS must be a whole number >= 1, got '$PAIRS'" >&2; exit 2 ;; esac
mkdir -p "$OUT" && touch "$OUT/.write-test" && rm "$OUT/.write-test" || { echo "cannot write to $OUT" >&2; exit 2; }
OUT=$(cd "$OUT" && pwd)
i=0
for _ in $(seq "$PAIRS"); do
  for side in cand ref ref cand; do
    i=$((i+1))
    root=$REF; [ $side = cand ] && root=$CAND
    rc=0
    (cd "$root" && PYTHONPATH=core/python /usr/bin/python3 -m marllb.tools.env_speed --episodes 10 --csv "$OUT/$side.csv") \
      > "$OUT/$i-$side.log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then echo "run $i ($side) failed with exit $rc: see $OUT/$i-$side.log" >&2; exit $rc; fi
  done
done
