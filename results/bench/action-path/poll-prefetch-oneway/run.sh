#!/bin/bash
# The alternated runs behind docs/design/action-slot.md "The poll's copy prefetched": bench_ipc's
# BM_ActionOneWay (the agent writes an action on one CPU, the LB polls and applies it on the
# other; 2,000 events 200 us apart a repetition, 3 repetitions a run) of two builds, in pairs
# whose order alternates (ref, cand), (cand, ref), ...
#   run.sh REF_BENCH_IPC CAND_BENCH_IPC OUT_DIR PAIRS
# REF and CAND are release builds of bench_ipc. For the rows here, REF of e84f85b (its poll does
# not prefetch):
#   git worktree add /tmp/refwt e84f85b && cd /tmp/refwt && cmake --preset release -B build &&
#   cmake --build build --target bench_ipc      (REF: /tmp/refwt/build/bench/bench_ipc)
# and CAND build/release/bench/bench_ipc of this tree after a3cb155 (51879f2's prefetch of a new
# action's lines; scripts/setup.sh release). Each run's
# JSON is OUT_DIR/<n>-<side>.json; OUT_DIR/pairs.csv has each run's median p50 and p99 of the
# calm events and the pair's cand / ref ratio of p50.
set -u
[ $# -eq 4 ] || { echo "usage: $0 REF_BENCH_IPC CAND_BENCH_IPC OUT_DIR PAIRS" >&2; exit 2; }
REF=$1 CAND=$2 OUT=$3 PAIRS=$4
[[ "$PAIRS" =~ ^[1-9][0-9]*$ ]] || { echo "PAIRS must be a positive integer, not '$PAIRS'" >&2; exit 2; }
for b in "$REF" "$CAND"; do [ -f "$b" ] && [ -x "$b" ] || { echo "not an executable file: $b" >&2; exit 2; }; done
mkdir -p "$OUT" && [ -w "$OUT" ] || { echo "cannot write into $OUT" >&2; exit 2; }
n=0
for p in $(seq 1 "$PAIRS"); do
  order="ref cand"; [ $((p % 2)) -eq 0 ] && order="cand ref"
  for side in $order; do
    n=$((n + 1))
    bin=$REF; [ "$side" = cand ] && bin=$CAND
    "$bin" --benchmark_filter='^BM_ActionOneWay/' --benchmark_repetitions=3 \
      --benchmark_out="$OUT/$n-$side.json" --benchmark_out_format=json > "$OUT/$n-$side.log" 2>&1 ||
      { echo "run $n ($side) failed: see $OUT/$n-$side.log" >&2; exit 1; }
    [ -s "$OUT/$n-$side.json" ] || { echo "run $n ($side) wrote no JSON: is $bin bench_ipc? see $OUT/$n-$side.log" >&2; exit 1; }
  done
done
/usr/bin/python3 - "$OUT" "$PAIRS" <<'PY'
import csv, glob, json, os, statistics, sys
out, pairs = sys.argv[1], int(sys.argv[2])
def medians(path):
    if not path:
        sys.exit("a run's JSON is missing or not alone (one <n>-<side>.json each): use an empty OUT_DIR")
    runs = [b for b in json.load(open(path))["benchmarks"] if b.get("run_type") == "iteration"]
    if not runs:
        sys.exit(f"{path}: no repetitions of BM_ActionOneWay")
    return (statistics.median(b["p50_calm_ns"] for b in runs), statistics.median(b["p99_calm_ns"] for b in runs),
            json.load(open(path))["context"].get("git_commit", ""))
rows = []
for n in range(1, 2 * pairs + 1):
    found = glob.glob(os.path.join(out, f"{n}-*.json"))
    p50, p99, commit = medians(found[0] if len(found) == 1 else None)
    side = os.path.basename(found[0])[:-5].split("-", 1)[1]
    rows.append({"run": n, "pair": (n + 1) // 2, "side": side, "commit": commit, "p50_calm_ns": p50, "p99_calm_ns": p99})
with open(os.path.join(out, "pairs.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=[*rows[0], "cand_over_ref_p50"])
    w.writeheader()
    for i in range(0, len(rows), 2):
        a, b = rows[i], rows[i + 1]
        ref, cand = (a, b) if a["side"] == "ref" else (b, a)
        ratio = cand["p50_calm_ns"] / ref["p50_calm_ns"]
        for r in (a, b):
            w.writerow({**r, "cand_over_ref_p50": f"{ratio:.3f}"})
        print(f"pair {a['pair']}: ref p50 {ref['p50_calm_ns']:.0f} ns, cand p50 {cand['p50_calm_ns']:.0f} ns, cand/ref {ratio:.3f}")
PY
