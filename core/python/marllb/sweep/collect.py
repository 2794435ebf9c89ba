"""`sweep collect`: every done run's rows in one CSV, with the cell id, the cell's parameters,
the seed and where it ran (host, CPU model, commit); a summary per cell over seeds (mean and the
95 % t interval of marllb.stats, as rl/evaluate.py reports them); the runs missing or failed.
A cell whose runs ran on different CPU models gets one summary row per model and a note: rows of
two CPU models are never pooled into one interval."""
import csv
import math
import os
import sys

from marllb import stats

META = ("sweep_cell", "sweep_seed", "sweep_host", "sweep_cpu_model", "sweep_commit", "sweep_slurm_job")
ROW_META = {"run_id", "date", "git_commit", "cpu_model", "kernel", "seed"}


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _float(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _write_csv(path, rows, columns):
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, restval="")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def collect(sweep, merged_path, summary_path, out=None):
    out = out or sys.stdout
    params = [f"param_{k}" for k in sweep.varying_keys]
    merged, row_columns, missing, failed = [], [], [], []
    run_rows = {}
    for run in sweep.runs:
        state = run.state(sweep.out)
        if state != "done":
            (failed if state == "failed" else missing).append(run)
            continue
        meta = run.meta(sweep.out) or {}
        rows = []
        for name in sweep.rows_files(run.folder(sweep.out)):
            for row in read_rows(name):
                for c in row:
                    if c not in row_columns:
                        row_columns.append(c)
                m = {"sweep_cell": run.cell.id, "sweep_seed": run.seed, "sweep_host": meta.get("host", ""),
                     "sweep_cpu_model": meta.get("cpu_model", ""), "sweep_commit": meta.get("commit", ""),
                     "sweep_slurm_job": (f"{meta['slurm_job']}_{meta['slurm_task']}" if meta.get("slurm_task")
                                         else meta.get("slurm_job", ""))}
                m.update({f"param_{k}": v for k, v in run.cell.varying.items()})
                m.update(row)
                rows.append(m)
        run_rows[run.id] = rows
        merged += rows
    columns = list(META) + params + [c for c in row_columns if c not in META and c not in params]
    _write_csv(merged_path, merged, columns)

    metrics = sweep.metrics or [c for c in row_columns if c not in ROW_META and c not in sweep.by
                                and any(r.get(c, "") != "" for r in merged)
                                and all(r.get(c, "") == "" or _float(r.get(c)) is not None for r in merged)]
    absent = [m for m in metrics if m not in row_columns and merged]
    if absent:
        print(f"[sweep] metrics {', '.join(absent)} are no column of the rows "
              f"(columns: {', '.join(row_columns)})", file=sys.stderr)
    summary, split_cells = [], []
    for cell in sweep.cells:
        runs = [r for r in sweep.runs if r.cell is cell and r.id in run_rows]
        models = sorted({(r.meta(sweep.out) or {}).get("cpu_model", "") for r in runs})
        if len(models) > 1:
            split_cells.append((cell, models))
        for model in models:
            by_values = {}
            for r in runs:
                if (r.meta(sweep.out) or {}).get("cpu_model", "") != model:
                    continue
                for row in run_rows[r.id]:
                    key = tuple(row.get(b, "") for b in sweep.by)
                    by_values.setdefault(key, {}).setdefault(r.seed, []).append(row)
            for key, per_seed in by_values.items():
                for metric in metrics:
                    values = []
                    for seed in sorted(per_seed):
                        xs = [x for x in (_float(row.get(metric)) for row in per_seed[seed]) if x is not None]
                        if xs:
                            values.append(sum(xs) / len(xs))
                    if not values:
                        continue
                    s = {"sweep_cell": cell.id, "cpu_model": model, "column": metric, "n_seeds": len(values),
                         "mean": sum(values) / len(values), "ci95_half": "", "note": ""}
                    s.update({f"param_{k}": v for k, v in cell.varying.items()})
                    s.update(dict(zip(sweep.by, key)))
                    if len(values) >= 2:
                        try:
                            s["mean"], s["ci95_half"] = stats.mean_ci(values)
                        except ValueError as e:
                            s["note"] = str(e)
                    else:
                        s["note"] = "one seed: no interval"
                    if len(models) > 1:
                        s["note"] = (s["note"] + "; " if s["note"] else "") + \
                            f"this cell ran on {len(models)} CPU models: one row each, not pooled"
                    summary.append(s)
    scols = (["sweep_cell"] + params + ["cpu_model"] + list(sweep.by)
             + ["column", "n_seeds", "mean", "ci95_half", "note"])
    _write_csv(summary_path, summary, scols)

    done = len(sweep.runs) - len(missing) - len(failed)
    print(f"{done} of {len(sweep.runs)} runs have rows ({len(merged)} rows): {merged_path}", file=out)
    print(f"summary over seeds ({len(summary)} rows, mean and 95 % t interval): {summary_path}", file=out)
    for cell, models in split_cells:
        print(f"cell {cell.id} ran on {len(models)} CPU models ({'; '.join(models)}): summarised per model, "
              "not pooled", file=out)
    for run in failed:
        m = run.meta(sweep.out) or {}
        print(f"failed: {run.id} {describe(run)}: {m.get('reason', '?')}, log {m.get('log', '?')}", file=out)
    for run in missing:
        print(f"missing: {run.id} {describe(run)}", file=out)
    return 0


def describe(run):
    return " ".join(f"{k}={v}" for k, v in run.cell.varying.items()) + f" seed={run.seed}"
