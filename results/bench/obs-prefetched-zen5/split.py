#!/usr/bin/env python3
"""The repetitions of BM_ObsPaired and BM_ObsPairedPrefetched in each run, split by the host's
placement as each repetition's own floor shows it: `fast` where the floor's p50 is under
600 ns, `slow` above (these vCPUs move between placements whose transfers differ by about 3x,
and a run's 9 repetitions can mix them). Per run and placement: how many repetitions, the
medians of value and floor (p50 of the calm events), the median of the per-repetition
value / floor, and the prefetched value's median over the plain benchmark's floor median.

    /usr/bin/python3 results/bench/obs-prefetched-zen5/split.py results/bench/obs-prefetched-zen5/run1 [...]
"""
import json
import statistics
import sys

PLAIN, PREFETCHED = "BM_ObsPaired/marllb_shm", "BM_ObsPairedPrefetched/marllb_shm"


def repetitions(path):
    out = {PLAIN: [], PREFETCHED: []}
    for b in json.load(open(path))["benchmarks"]:
        base = b["name"].split("/iterations")[0]
        if b.get("run_type") == "iteration" and base in out:
            out[base].append((b["floor_p50_calm_ns"], b["p50_calm_ns"]))
    return out


def main(dirs):
    if not dirs:
        sys.exit(__doc__)
    print("run,placement,benchmark,repetitions,value_ns,floor_ns,value_over_floor,prefetched_over_plain_floor")
    for d in dirs:
        reps = repetitions(f"{d}/bench_ipc.json")
        for placement, keep in (("fast", lambda f: f < 600), ("slow", lambda f: f >= 600)):
            plain = [r for r in reps[PLAIN] if keep(r[0])]
            plain_floor = statistics.median(f for f, _ in plain) if plain else None
            for name in (PLAIN, PREFETCHED):
                rs = [r for r in reps[name] if keep(r[0])]
                if not rs:
                    continue
                value = statistics.median(v for _, v in rs)
                across = f"{value / plain_floor:.2f}" if name == PREFETCHED and plain_floor else ""
                print(f"{d.rstrip('/').rsplit('/', 1)[-1]},{placement},{name.split('/')[0]},{len(rs)},{value:.0f},"
                      f"{statistics.median(f for f, _ in rs):.0f},{statistics.median(v / f for f, v in rs):.2f},{across}")


if __name__ == "__main__":
    main(sys.argv[1:])
