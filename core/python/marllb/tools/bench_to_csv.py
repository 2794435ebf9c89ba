"""Converts Google Benchmark JSON (run with --benchmark_repetitions=N) to the project's
benchmark CSV: one row per (benchmark, metric), the median of the N repetitions with its
spread, and the run's context on every row.

Schema (docs/benchmarks.md): run_id, date, git_commit, cpu_model, kernel, cpus,
cpu_relation, binary, benchmark, metric, unit, repetitions, median, min, max, stddev, cv,
values (every repetition's value, space-separated, in the order they ran: the gate's
statistical test uses them)

Every row carries the host metadata of the project's result rows (date, git_commit,
cpu_model, kernel; the bench binaries put them in the JSON context, marllb/measure/host.hpp),
so rows from different machines can be merged. A JSON without cpu_model or kernel in its
context is refused.

Metrics: time_ns (real time per iteration; manual time for latency benchmarks), cpu_ns, and
every user counter (p50_ns, p99_ns, torn, lost, per_draw, ...).

Several IN.json of the same binary (rounds of one run, e.g. scripts/bench_gate.sh's
interleaved rounds) are merged: their repetitions are one sample, in the order given; they
must come from the same host (cpu_model, kernel) and commit.

    marllb-bench-to-csv OUT.csv IN.json [IN.json ...]    (or python3 -m marllb.tools.bench_to_csv)
"""
import csv
import json
import os
import statistics
import sys

from marllb import result_rows
from marllb.tools import checkout

FIELDS = ["run_id", "date", "git_commit", "cpu_model", "kernel", "cpus", "cpu_relation",
          "binary", "benchmark", "metric", "unit", "repetitions", "median", "min", "max",
          "stddev", "cv", "values"]
TIME_SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
SKIP_KEYS = {"name", "family_index", "per_family_instance_index", "run_name", "run_type",
             "repetitions", "repetition_index", "threads", "iterations", "real_time",
             "cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "label",
             "error_occurred", "error_message", "bytes_per_second", "items_per_second"}


def base_name(run_name):
    """'BM_X/iterations:2000/manual_time' -> 'BM_X': the name a reader knows it by."""
    parts = [p for p in run_name.split("/") if not p.startswith("iterations:")
             and p not in ("manual_time", "real_time")]
    return "/".join(parts)


def load(path):
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            sys.exit(f"marllb-bench-to-csv: {path} is not Google Benchmark JSON ({e}); "
                     "run the benchmark with --benchmark_format=json or --benchmark_out")


HOST_KEYS = ("cpu_model", "kernel")


def rows_for(doc, path):
    ctx = doc.get("context", {})
    missing = [k for k in HOST_KEYS if not ctx.get(k)]
    if missing:
        sys.exit(f"marllb-bench-to-csv: {path} has no {' or '.join(missing)} in its context: run a bench binary of "
                 "this tree (each adds them) or pass --benchmark_context=cpu_model=...,kernel=...")
    samples = {}  # (benchmark, metric) -> [values], unit
    errors = []
    for b in doc.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        name = base_name(b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            if name not in (e[0] for e in errors):  # once, however many repetitions or rounds
                errors.append((name, b.get("error_message", "")))
            continue
        scale = TIME_SCALE.get(b.get("time_unit", "ns"), 1.0)
        metrics = {"time_ns": (b["real_time"] * scale, "ns"), "cpu_ns": (b["cpu_time"] * scale, "ns")}
        for k, v in b.items():
            if k not in SKIP_KEYS and isinstance(v, (int, float)):
                unit = "ns" if k.endswith("_ns") else ("s" if k == "per_draw" else "count")
                metrics[k] = (float(v), unit)
        for metric, (value, unit) in metrics.items():
            samples.setdefault((name, metric), ([], unit))[0].append(value)
    common = {
        "run_id": ctx.get("date", "") + "@" + ctx.get("git_commit", "unknown"),
        "date": ctx.get("date", ""),
        "git_commit": ctx.get("git_commit", "unknown"),
        "cpu_model": ctx.get("cpu_model", ""),
        "kernel": ctx.get("kernel", ""),
        "cpus": ctx.get("cpus", ""),
        "cpu_relation": ctx.get("cpu_relation", ""),
        "binary": os.path.basename(ctx.get("executable", path)),
    }
    rows = []
    for (name, metric), (values, unit) in samples.items():
        med = statistics.median(values)
        sd = statistics.pstdev(values) if len(values) > 1 else 0.0
        rows.append(dict(common, benchmark=name, metric=metric, unit=unit, repetitions=len(values),
                         median=f"{med:.6g}", min=f"{min(values):.6g}", max=f"{max(values):.6g}",
                         stddev=f"{sd:.4g}", cv=f"{(sd / med if med else 0.0):.4f}",
                         values=" ".join(f"{v:.6g}" for v in values)))
    for name, message in errors:  # a benchmark that could not run says why, in its row
        rows.append(dict(common, benchmark=name, metric="unavailable", unit=message, repetitions=0,
                         median="", min="", max="", stddev="", cv="", values=""))
    return rows


def binary_of(doc, path):
    return os.path.basename(doc.get("context", {}).get("executable", path))


def merged(inputs):
    """[(doc, path)]: one per binary, the repetitions of every input of that binary in order."""
    out, where = [], {}
    for p in inputs:
        doc = load(p)
        name = binary_of(doc, p)
        if name not in where:
            where[name] = len(out)
            out.append((doc, p))
            continue
        first, first_path = out[where[name]]
        for k in HOST_KEYS + ("git_commit",):
            a, b = first.get("context", {}).get(k), doc.get("context", {}).get(k)
            if a != b:
                sys.exit(f"marllb-bench-to-csv: {p} and {first_path} are both {name} but differ in {k} "
                         f"({b!r} against {a!r}): only rounds of one run are merged")
        first = dict(first, benchmarks=first.get("benchmarks", []) + doc.get("benchmarks", []))
        out[where[name]] = (first, first_path)
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    result_rows.answer_help_and_version("marllb-bench-to-csv", argv, __doc__, checkout())
    if len(argv) < 2:
        sys.exit(__doc__)
    out, inputs = argv[0], argv[1:]
    rows = [r for doc, p in merged(inputs) for r in rows_for(doc, p)]
    if not rows:
        sys.exit("marllb-bench-to-csv: no benchmark results in " + ", ".join(inputs))
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)
    print(f"marllb-bench-to-csv: {len(rows)} rows -> {out}")


if __name__ == "__main__":
    main()
