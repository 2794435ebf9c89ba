#!/usr/bin/env python3
"""Figures of a scenario run (scripts/scenarios.sh): reads <dir>/<scenario>.csv, writes PNGs.

  latency.png   latency distributions (p50 .. max, as a CDF through the percentiles) per
                scenario regime and placement, with the in-run cache-line baseline and the
                latency targets of scenarios/targets.toml
  wrap.png      messages lost vs reader/writer period ratio, beside the ring-of-4 replay of
                the recorded publish and read times
  crash.png     recovery times: LB restart -> first valid observation, agent kill -> fallback,
                agent restart -> action applied, with the targets of scenarios/targets.toml
  scale.png     latency per pair (p50, p99) and total throughput vs number of regions

    scripts/scenarios_plot.py results/scenarios
"""
import csv
import os
import sys
import tomllib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import result_rows  # scripts/ is this script's own folder, first on sys.path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = os.path.join(ROOT, "scenarios", "targets.toml")
QS = [0.5, 0.9, 0.99, 0.999, 1.0]


def targets():
    with open(TARGETS, "rb") as f:
        return tomllib.load(f).get("target", [])


def latency_targets(scenario, metrics):
    """(limit, label) of the fixed ns targets on these metrics (placement rows are cadence's)."""
    scenario = "cadence" if scenario == "placement" else scenario
    out = {}
    for t in targets():
        if t["scenario"] == scenario and t["metric"] in metrics and t["unit"] == "ns" and not t.get("per_run_limit"):
            out.setdefault((t["limit"], f"{t['quantity']} {t['op']} {t['limit']:g} ns"), []).append(t["id"])
    return sorted((lim, f"{rule} ({', '.join(ids)})") for (lim, rule), ids in out.items())
COLS = ["p50", "p90", "p99", "p999", "max"]


def rows(d, name):
    p = os.path.join(d, f"{name}.csv")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return [r for r in csv.DictReader(f) if r.get("status") != "unavailable"]


def latest(rs, key):
    """The last row per key (the newest run of each configuration)."""
    out = {}
    for r in rs:
        out[key(r)] = r
    return list(out.values())


def cdf(ax, r, label):
    xs = [float(r[c]) for c in COLS]
    ax.step(xs, QS, where="post", marker="o", ms=3, label=label)


def latency(d, made):
    panels = [("cadence", lambda r: r["regime"].startswith("reactive")), ("placement", lambda r: True),
              ("wrap", lambda r: r["regime"] == "stress"), ("maxrate", lambda r: True)]
    panels = [(n, f) for n, f in panels if rows(d, n)]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)))
    axes = axes if len(panels) > 1 else [axes]
    for ax, (name, keep) in zip(axes, panels):
        rs = latest([r for r in rows(d, name) if keep(r) and r["unit"] == "ns" and int(r["count"]) > 0],
                    lambda r: (r["regime"], r["metric"], r["placement"], r["mem_bind"]))
        base = None
        for r in rs:
            label = f"{r['metric']} {r['regime']}" + (f" {r['placement']}/{r['mem_bind']}" if name == "placement" else "")
            cdf(ax, r, label)
            base = float(r["baseline_cacheline_ns"])
        if base:
            ax.axvline(base, color="grey", linestyle=":", label=f"cache line one way {base:.0f} ns (in-run)")
        for lim, label in latency_targets(name, {r["metric"] for r in rs}):
            ax.axvline(lim, color="red", linestyle="--", linewidth=0.8, label=f"target: {label}")
        ax.set_xscale("log")
        ax.set_xlabel("ns (log)")
        ax.set_ylabel("fraction")
        ax.set_title(f"{name}: CDF through p50, p90, p99, p99.9, max")
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "latency.png"), dpi=110)
    made.append("latency.png")


def wrap(d, made):
    rs = latest([r for r in rows(d, "wrap") if r["regime"].startswith("ratio-")], lambda r: r["regime"])
    if not rs:
        return
    rs.sort(key=lambda r: float(r["regime"].split("-")[1]))
    x = [float(r["regime"].split("-")[1]) for r in rs]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(x, [int(r["lost"]) / max(1, int(r["published"])) for r in rs], "o-", label="lost / published (measured)")
    ax.plot(x, [float(r["expected"]) / max(1, int(r["published"])) for r in rs], "x--",
            label="ring of 4 replayed over the recorded times (predicted)")
    ax.plot(x, [max(0.0, 1 - 1 / v) for v in x], ":", color="grey", label="1 - 1/ratio")
    ax.set_xlabel("reader period / writer period")
    ax.set_ylabel("fraction lost to wrap")
    ax.set_xscale("log", base=2)
    ax.legend()
    ax.set_title("in-order reader: loss to wrap, counted exactly")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "wrap.png"), dpi=110)
    made.append("wrap.png")


def crash(d, made):
    rs = latest(rows(d, "crash"), lambda r: (r["regime"], r["metric"]))
    if not rs:
        return
    fig, ax = plt.subplots(figsize=(8, 3.5))
    labels = [f"{r['regime']}\n{r['metric']}" for r in rs]
    for i, c in enumerate(["p50", "p99", "max"]):
        ax.bar([j + i * 0.27 for j in range(len(rs))], [float(r[c]) for r in rs], width=0.27, label=c)
    for j, r in enumerate(rs):
        for t in targets():  # a per-run limit is in the row's expected column; a fixed one in the file
            if t["scenario"] == "crash" and t["metric"] == r["metric"] and r["regime"].startswith(t.get("regime", "")):
                lim = float(r["expected"]) if t.get("per_run_limit") else float(t["limit"])
                ax.hlines(lim, j - 0.2, j + 0.75, colors="red", linestyles="--")
    ax.set_xticks([j + 0.27 for j in range(len(rs))], labels, fontsize=8)
    ax.set_ylabel("ms")
    ax.set_title("crash recovery (red: target, scenarios/targets.toml)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(d, "crash.png"), dpi=110)
    made.append("crash.png")


def scale(d, made):
    rs = latest(rows(d, "scale"), lambda r: r["regime"])
    cad = sorted([r for r in rs if r["regime"].startswith("cadence-")], key=lambda r: int(r["regime"].split("-")[1]))
    flat = sorted([r for r in rs if r["regime"].startswith("flat-out-")], key=lambda r: int(r["regime"].split("-")[2]))
    if not cad and not flat:
        return
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for c in ("p50", "p99"):
        a1.plot([int(r["regime"].split("-")[1]) for r in cad], [float(r[c]) for r in cad], "o-", label=f"{c} at cadence")
    a1.set_xscale("log", base=2)
    a1.set_yscale("log")
    a1.set_xlabel("regions")
    a1.set_ylabel("publish -> visible (ns)")
    a1.legend()
    a2.plot([int(r["regime"].split("-")[2]) for r in flat], [float(r["expected"]) / 1e6 for r in flat], "o-", label="publishes/s (M)")
    a2.plot([int(r["regime"].split("-")[2]) for r in flat], [int(r["read"]) / max(1e-9, int(r["published"])) * float(r["expected"]) / 1e6
                                                             for r in flat], "x-", label="reads/s (M)")
    a2.set_xscale("log", base=2)
    a2.set_xlabel("regions")
    a2.set_ylabel("total, flat out")
    a2.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(d, "scale.png"), dpi=110)
    made.append("scale.png")


def main():
    result_rows.answer_help_and_version(sys.argv, __doc__)
    d = sys.argv[1] if len(sys.argv) > 1 else "results/scenarios"
    made = []
    for f in (latency, wrap, crash, scale):
        f(d, made)
    print(f"figures in {d}: {', '.join(made) if made else 'none (no rows)'}")


if __name__ == "__main__":
    main()
