#!/usr/bin/env python3
"""Draws a pipeline run: Jain's index (utilisation, flow-duration decayed mean) and the FCT p90
per second, with the run's events (agent killed / restarted) marked.

    scripts/pipeline_plot.py results/pipeline/<run>     -> <run>/pipeline.png
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import result_rows  # scripts/ is this script's own folder, first on sys.path


def main():
    result_rows.answer_help_and_version(sys.argv, __doc__)
    run_dir = sys.argv[1]
    with open(os.path.join(run_dir, "timeseries.csv")) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"pipeline_plot: {run_dir}/timeseries.csv has no rows")
    events = []
    ev = os.path.join(run_dir, "events.csv")
    if os.path.exists(ev):
        with open(ev) as f:
            events = [(r["event"], float(r["elapsed_s"])) for r in csv.DictReader(f)]
    t = [float(r["elapsed_s"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5))
    ax1.plot(t, [float(r["jain_util"]) for r in rows], label="Jain: server utilisation")
    ax1.plot(t, [float(r["jain_duration"]) for r in rows], label="Jain: flow-duration decayed mean")
    ax1.set_ylabel("Jain's index")
    ax1.set_ylim(0, 1.05)
    ax1.legend(loc="lower right")
    ax2.plot(t, [float(r["fct_p90_ms"]) for r in rows], label="FCT p90", color="tab:red")
    ax2.plot(t, [float(r["fct_p50_ms"]) for r in rows], label="FCT p50", color="tab:orange")
    ax2.set_ylabel("FCT of the last second (ms)")
    ax2.set_xlabel("elapsed (s)")
    ax2.legend(loc="upper right")
    for name, when in events:
        for ax in (ax1, ax2):
            ax.axvline(when, color="grey", linestyle="--")
        ax1.annotate(name, (when, 0.05), rotation=90, fontsize=8, color="grey")
    fig.suptitle(os.path.basename(run_dir.rstrip("/")))
    fig.tight_layout()
    out = os.path.join(run_dir, "pipeline.png")
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
