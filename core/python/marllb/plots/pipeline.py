"""Draws a pipeline run: Jain's index (utilisation, flow-duration decayed mean) and the FCT p90
per second, with the run's events (agent killed / restarted) marked.

The bottom-right corner names the run's result row (in pipeline.csv beside the run's folder: the
row whose run started when the folder was made): its commit, CPU model, mode, LB model, policy
and date. A folder without timeseries.csv rows is refused (exit 2) and nothing is written.

    marllb-pipeline-plot results/pipeline/<run>     -> <run>/pipeline.png
    (or python3 -m marllb.plots.pipeline ...; marllb-pipeline draws it after each run)
"""
import csv
import datetime
import os
import sys

from marllb.plots import figures  # before pyplot: it selects matplotlib's backend

import matplotlib.pyplot as plt  # noqa: E402

PROG = "marllb-pipeline-plot"


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def utc(text, fmt):
    return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)


def run_row(run_dir):
    """The run's row of <run>/../pipeline.csv: the row whose date (written at the end) minus its
    wall_s is within 30 s of the folder's name (<UTC start>-<pid>, made at the start); None when
    there is none."""
    name = os.path.basename(os.path.normpath(run_dir))
    table = os.path.join(os.path.dirname(os.path.normpath(run_dir)), "pipeline.csv")
    try:
        start = utc(name.split("-")[0], "%Y%m%dT%H%M%SZ")
        rows = read(table)
    except (ValueError, OSError):
        return None
    for r in rows:
        try:
            began = utc(r["date"], "%Y-%m-%dT%H:%M:%SZ") - datetime.timedelta(seconds=float(r["wall_s"]))
        except (KeyError, ValueError, TypeError):
            continue
        if abs((began - start).total_seconds()) <= 30:
            return r
    return None


def draw(run_dir):
    """The figure of a run folder, or None when its timeseries.csv has no rows."""
    rows = read(os.path.join(run_dir, "timeseries.csv"))
    if not rows:
        return None
    events = []
    ev = os.path.join(run_dir, "events.csv")
    if os.path.exists(ev):
        events = [(r["event"], float(r["elapsed_s"])) for r in read(ev)]
    t = [float(r["elapsed_s"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 5.8))
    ax1.plot(t, [float(r["jain_util"]) for r in rows], label="server utilisation")
    ax1.plot(t, [float(r["jain_duration"]) for r in rows], label="flow-duration decayed mean")
    ax1.set_ylabel("Jain's index (1 = fair)")
    ax1.set_ylim(0, 1.05)
    ax1.set_title("fairness over the servers, each second", fontsize=10, loc="left")
    ax1.legend(loc="lower right", fontsize=9)
    ax2.plot(t, [float(r["fct_p90_ms"]) for r in rows], label="p90", color="tab:red")
    ax2.plot(t, [float(r["fct_p50_ms"]) for r in rows], label="p50", color="tab:orange")
    ax2.set_ylabel("flow completion time (ms)")
    ax2.set_xlabel("time since the start of the run (s)")
    ax2.set_title("flow completion time of the flows that ended in each second", fontsize=10, loc="left")
    ax2.set_ylim(0, None)
    ax2.legend(loc="upper right", fontsize=9)
    for name, when in events:
        for ax in (ax1, ax2):
            ax.axvline(when, color="grey", linestyle="--")
        ax1.annotate(name, (when, 0.05), xytext=(3, 0), textcoords="offset points", rotation=90, fontsize=8.5,
                     color="0.3")
    row = run_row(run_dir)
    title = f"pipeline run {os.path.basename(os.path.normpath(run_dir))}"
    if row:
        title += f": {row.get('servers', '')} servers, {row.get('traffic', '')} {row.get('rate_per_s', '')} flows/s, " \
                 f"{row.get('lbs', '1')} LB"
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    stamp_row = dict(row or {})
    if row:
        stamp_row["profile"] = f"{row.get('mode', '')}, LB model {row.get('lb_model', '')}, policy {row.get('policy', '')}"
    figures.stamp(fig, [stamp_row])
    return fig


def main(argv=None):
    argv = figures.arguments(PROG, argv, __doc__, "RUN_DIR (a run folder of marllb-pipeline)")
    if argv is None:
        return 2
    run_dir = argv[0]
    series = os.path.join(run_dir, "timeseries.csv")
    if not os.path.isfile(series):
        print(f"{PROG}: {series} does not exist: give a run folder of marllb-pipeline (scripts/run.sh)", file=sys.stderr)
        return 2
    if not figures.writable_folder(PROG, run_dir):
        return 2
    fig = draw(run_dir)
    if fig is None:
        print(f"{PROG}: {series} has no rows: nothing drawn", file=sys.stderr)
        return 2
    figures.save(PROG, {"pipeline.png": fig}, run_dir, ["pipeline.png"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
