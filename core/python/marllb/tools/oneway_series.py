"""Rows and summary of scripts/oneway_series.sh: one-way observation latency (bench_ipc) against
the copy floor and iceoryx, per run of a series.

    marllb-oneway-series row --bench-csv RUN/bench.csv --run K --series ID [--floor-goal 1.3]
                             [--iceoryx-goal 0.3] --csv OUT.csv
    marllb-oneway-series summary --csv OUT.csv --series ID
    (or python3 -m marllb.tools.oneway_series ...)

A run's ratio is the median over its repetitions of marllb p50 / other p50, repetitions paired by
their position in the run (all three transports interleaved at random in one invocation); min and
max give the spread. A goal is met when that median ratio is at most the goal.
"""
import argparse
import csv
import math
import statistics
import sys

from marllb import result_rows
from marllb.tools import version

MARLLB = "BM_ObsOneWay/marllb_shm"
FLOOR = "BM_CopyFloorOneWay"
ICEORYX = "BM_ObsOneWay/iceoryx"
COLUMNS = ["series", "run", "run_id", "git_commit", "cpus", "repetitions", "marllb_p50_ns", "floor_p50_ns",
           "iceoryx_p50_ns", "ratio_floor", "ratio_floor_min", "ratio_floor_max", "floor_goal", "floor_met",
           "ratio_iceoryx", "ratio_iceoryx_min", "ratio_iceoryx_max", "iceoryx_goal", "iceoryx_met"]


def p50_values(path):
    """{benchmark: [p50 of each repetition, in run order]} for the three transports."""
    out = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["metric"] == "p50_ns" and r["benchmark"] in (MARLLB, FLOOR, ICEORYX):
                if not r.get("values"):
                    raise SystemExit(f"marllb-oneway-series: {path} has no per-repetition values for {r['benchmark']}")
                out[r["benchmark"]] = [float(v) for v in r["values"].split()]
                meta = r
    missing = [b for b in (MARLLB, FLOOR, ICEORYX) if b not in out]
    if missing:
        raise SystemExit(f"marllb-oneway-series: {path} lacks {', '.join(missing)} (iceoryx not built? see README, bench)")
    return out, meta


def ratios(num, den, what):
    if len(num) != len(den) or not num:
        raise SystemExit(f"marllb-oneway-series: {what}: {len(num)} against {len(den)} repetitions; the transports of one run "
                         "must have the same number (run bench.sh again)")
    if any(not math.isfinite(v) for v in num + den) or any(d <= 0 for d in den):
        raise SystemExit(f"marllb-oneway-series: {what}: a p50 that is not a positive finite number; the run is unusable")
    return [n / d for n, d in zip(num, den)]


def row(a):
    vals, meta = p50_values(a.bench_csv)
    rf = ratios(vals[MARLLB], vals[FLOOR], "marllb against the floor")
    ri = ratios(vals[MARLLB], vals[ICEORYX], "marllb against iceoryx")
    r = {"series": a.series, "run": a.run, "run_id": meta["run_id"], "git_commit": meta["git_commit"], "cpus": meta["cpus"],
         "repetitions": len(rf), "marllb_p50_ns": statistics.median(vals[MARLLB]),
         "floor_p50_ns": statistics.median(vals[FLOOR]), "iceoryx_p50_ns": statistics.median(vals[ICEORYX]),
         "ratio_floor": statistics.median(rf), "ratio_floor_min": min(rf), "ratio_floor_max": max(rf),
         "floor_goal": a.floor_goal, "ratio_iceoryx": statistics.median(ri), "ratio_iceoryx_min": min(ri),
         "ratio_iceoryx_max": max(ri), "iceoryx_goal": a.iceoryx_goal}
    r["floor_met"] = "yes" if r["ratio_floor"] <= a.floor_goal else "no"
    r["iceoryx_met"] = "yes" if r["ratio_iceoryx"] <= a.iceoryx_goal else "no"
    result_rows.append_rows(a.csv, [{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()}], COLUMNS)
    print(f"run {a.run}: marllb p50 {r['marllb_p50_ns']:.0f} ns, floor {r['floor_p50_ns']:.0f} ns, iceoryx "
          f"{r['iceoryx_p50_ns']:.0f} ns; marllb/floor {r['ratio_floor']:.2f} ({r['ratio_floor_min']:.2f}-"
          f"{r['ratio_floor_max']:.2f}) goal <= {a.floor_goal}: {r['floor_met']}; marllb/iceoryx "
          f"{r['ratio_iceoryx']:.2f} ({r['ratio_iceoryx_min']:.2f}-{r['ratio_iceoryx_max']:.2f}) goal <= "
          f"{a.iceoryx_goal}: {r['iceoryx_met']}")


def summary(a):
    with open(a.csv, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["series"] == a.series]
    if not rows:
        raise SystemExit(f"marllb-oneway-series: no rows of series {a.series} in {a.csv}")
    n = len(rows)
    fm = sum(r["floor_met"] == "yes" for r in rows)
    im = sum(r["iceoryx_met"] == "yes" for r in rows)
    rf = [float(r["ratio_floor"]) for r in rows]
    ri = [float(r["ratio_iceoryx"]) for r in rows]
    print(f"series {a.series}: {n} runs")
    print(f"  marllb/floor   median {statistics.median(rf):.2f}, range {min(rf):.2f}-{max(rf):.2f}; "
          f"goal <= {rows[0]['floor_goal']} met in {fm} of {n}")
    print(f"  marllb/iceoryx median {statistics.median(ri):.2f}, range {min(ri):.2f}-{max(ri):.2f}; "
          f"goal <= {rows[0]['iceoryx_goal']} met in {im} of {n}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="marllb-oneway-series", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version("marllb-oneway-series"))
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("row")
    r.add_argument("--bench-csv", required=True)
    r.add_argument("--run", type=int, required=True)
    r.add_argument("--series", required=True)
    r.add_argument("--floor-goal", type=float, default=1.3)
    r.add_argument("--iceoryx-goal", type=float, default=0.3)
    r.add_argument("--csv", required=True)
    s = sub.add_parser("summary")
    s.add_argument("--csv", required=True)
    s.add_argument("--series", required=True)
    a = p.parse_args(argv)
    row(a) if a.cmd == "row" else summary(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
