#!/usr/bin/python3
"""The evaluation's figure (results/rl/eval.png): for each server set, the p90 FCT of every policy
per workload and number of LBs (mean and 95 % interval over the seeds), and sac-gru's paired p90
differences to the best heuristic and to SED. Its corner names the commits, CPU models, LB model
and dates of the evaluation rows. numpy and matplotlib only: evaluate.py calls draw(); this
command redraws the figure from the committed rows without PyTorch.

    rl/eval_figure.py --rows results/rl/eval.csv --summary results/rl/eval_summary.csv \\
        --out results/rl/eval.png
"""
import argparse
import csv
import os
import sys

import numpy as np

from marllb.plots import figures  # before pyplot: it selects matplotlib's backend

import matplotlib.pyplot as plt  # noqa: E402

POLICIES = ("sac-gru", "agent-weights-1", "ecmp", "wcmp", "lsq", "sed")  # evaluate.POLICIES
WORKLOADS = ("poisson-0.85", "poisson-0.95", "trace-350")
COLORS = dict(zip(POLICIES, ("tab:red", "tab:pink", "tab:gray", "tab:olive", "tab:blue", "tab:green")))
NUMBERS = ("lbs", "fct_p90_ms", "fct_p90_ms_ci95", "p90_minus_best_ms", "p90_minus_best_ci95", "p90_minus_sed_ms",
           "p90_minus_sed_ci95")


def draw(summary, rows):
    """The figure of summary rows (evaluate.summarise, numbers as numbers) with the provenance of
    the evaluation rows they summarise; None when there is no summary row."""
    if not summary:
        return None
    sets = sorted({r["servers"] for r in summary})
    wls = [w for w in WORKLOADS if any(r["workload"] == w for r in summary)]
    fig, axes = plt.subplots(len(sets), 2, figsize=(10, 1.4 + 3.6 * len(sets)), squeeze=False,
                             gridspec_kw={"width_ratios": [1.6, 1]})
    for i, servers in enumerate(sets):
        ax = axes[i][0]
        cells = sorted({(wls.index(r["workload"]), r["lbs"], r["run"]) for r in summary if r["servers"] == servers})
        one_per_lbs = len({(w, n) for w, n, _ in cells}) == len(cells)  # else the run's folder tells them apart
        for k, p in enumerate(POLICIES):
            off = (k - (len(POLICIES) - 1) / 2) * 0.12
            for y, (w, n, run) in enumerate(cells):
                g = next((r for r in summary if (r["run"], r["workload"], r["policy"]) == (run, wls[w], p)), None)
                if g:
                    ax.errorbar([g["fct_p90_ms"]], [y + off], xerr=[g["fct_p90_ms_ci95"]], fmt="o", ms=4.5,
                                color=COLORS[p], capsize=2, label=p if y == 0 else None)
        ax.set_yticks(range(len(cells)), [f"{wls[w]}, {n} LB" + ("s" if n > 1 else "") +
                                          ("" if one_per_lbs else f"\n{os.path.basename(run)}") for w, n, run in cells],
                      fontsize=9)
        ax.set_ylim(len(cells) - 0.5, -0.5)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(plt.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _p: f"{v:g}"))
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.grid(axis="x", color="0.9")
        ax.set_xlabel("p90 FCT (ms, log scale): mean and 95 % interval over the seeds", fontsize=9)
        ax.set_title(f"{servers}: p90 FCT per policy", fontsize=10, loc="left")
        # The paired differences: sac-gru minus the best heuristic and minus SED, per cell
        ax = axes[i][1]
        mine = sorted([r for r in summary if r["servers"] == servers and r["policy"] == "sac-gru"],
                      key=lambda r: (wls.index(r["workload"]), r["lbs"]))
        y = np.arange(len(mine))
        ax.errorbar([r["p90_minus_best_ms"] for r in mine], y - 0.12, xerr=[r["p90_minus_best_ci95"] for r in mine],
                    fmt="o", color="tab:red", capsize=2, label="minus the best heuristic")
        ax.errorbar([r["p90_minus_sed_ms"] for r in mine], y + 0.12, xerr=[r["p90_minus_sed_ci95"] for r in mine],
                    fmt="s", color="tab:green", capsize=2, label="minus SED")
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, [f"{r['workload']}, {r['lbs']} LB" + ("s" if r["lbs"] > 1 else "") for r in mine], fontsize=9)
        ax.set_ylim(len(mine) - 0.5, -0.5)
        ax.set_xlabel("sac-gru p90 FCT difference (ms), 95 % CI;\nbelow 0: sac-gru better", fontsize=9)
        ax.set_title(f"{servers}: sac-gru, paired per seed", fontsize=10, loc="left")
        ax.grid(axis="x", color="0.9")
    handles, labels = axes[0][0].get_legend_handles_labels()
    more = axes[0][1].get_legend_handles_labels()
    fig.legend(handles + more[0], labels + [f"sac-gru {t}" for t in more[1]], loc="upper center", ncol=4, fontsize=9,
               frameon=False)
    fig.tight_layout(rect=(0, 0.025, 1, 0.93))
    figures.stamp(fig, rows, ("lb_model",))
    return fig


def read(path, numbers=()):
    with open(path, newline="") as f:
        out = list(csv.DictReader(f))
    for r in out:
        for k in numbers:
            try:
                r[k] = int(r[k]) if k == "lbs" else float(r[k])
            except (KeyError, TypeError, ValueError):
                pass
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", required=True, help="the evaluation rows (evaluate.py --csv)")
    p.add_argument("--summary", required=True, help="their summary (evaluate.py --summary)")
    p.add_argument("--out", required=True, help="the PNG to write")
    a = p.parse_args(argv)
    for path in (a.rows, a.summary):
        if not os.path.isfile(path):
            print(f"eval_figure: {path} is not a file: give the files evaluate.py wrote", file=sys.stderr)
            return 2
    out_dir = os.path.dirname(os.path.abspath(a.out))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        print(f"eval_figure: cannot write into {out_dir}: give a folder you can write to", file=sys.stderr)
        return 2
    summary = [r for r in read(a.summary, NUMBERS) if r.get("policy") in POLICIES]
    fig = draw(summary, read(a.rows))
    if fig is None:
        print(f"eval_figure: {a.summary} has no summary rows: nothing drawn", file=sys.stderr)
        return 2
    fig.savefig(a.out, dpi=figures.DPI)
    plt.close(fig)
    print(f"figure: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
