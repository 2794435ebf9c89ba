"""Figures of a scenario run (scripts/scenarios.sh): reads <dir>/<scenario>.csv, writes PNGs.

  latency.png   p50, p99 and max of each stage per scenario regime (cadence, cold budget,
                placement, publish -> read at full speed), with the in-run cache-line baseline
                and the latency targets of scenarios/targets.toml
  wrap.png      messages lost vs reader/writer period ratio, beside the ring-of-4 replay of
                the recorded publish and read times
  crash.png     recovery times: LB restart -> first valid observation, agent kill -> fallback,
                agent restart -> action applied, with the targets of scenarios/targets.toml
  scale.png     latency per pair (p50, p99) and total throughput vs number of regions

Each figure says in its bottom-right corner the commits, CPU models, profiles and dates of the
rows it plots. Only the figures with rows are written; a folder without any scenario rows is
refused (exit 2) and nothing is written. The targets are the checkout's
(marllb.tools.checkout()); outside a checkout the figures have no target lines.

    marllb-scenarios-plot results/scenarios    (or python3 -m marllb.plots.scenarios)
"""
import csv
import os
import sys
import tomllib

from marllb.plots import figures  # before pyplot: it selects matplotlib's backend
from marllb.tools import checkout

import matplotlib.pyplot as plt  # noqa: E402

PROG = "marllb-scenarios-plot"
TARGETS = os.path.join(checkout(), "scenarios", "targets.toml")


def targets():
    if not os.path.isfile(TARGETS):
        return []
    with open(TARGETS, "rb") as f:
        return tomllib.load(f).get("target", [])


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


METRICS = [("publish_call", "publish call (LB)"), ("publish_to_visible", "publish -> visible"),
           ("read_call", "read call (agent)"), ("action_write_call", "action write (agent)"),
           ("action_read_call", "action read (LB poll)"), ("action_to_applied", "action -> applied"),
           ("end_to_end", "end to end")]
COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown"]


def latency_panels(d):
    """The panels of latency.png: (title, [(series label, {metric: row})], [(metric, label)],
    target scenario, rows plotted). Only panels with rows."""
    cad = [r for r in rows(d, "cadence") if r["unit"] == "ns" and int(r["count"]) > 0]
    pla = [r for r in rows(d, "placement") if r["unit"] == "ns" and int(r["count"]) > 0]

    def series(rs, label, keep, rename=lambda m: m):
        got = {}
        for r in rs:
            if keep(r):
                got[rename(r["metric"])] = r  # the newest row of each metric
        return (label, got) if got else None

    def strip_null(m):
        return m.removeprefix("null_")

    panels = []
    cadence = [series(cad, label, lambda r, g=regime: r["regime"] == g and not r["metric"].startswith("null_"))
               for regime, label in (("reactive-cold", "cold"), ("reactive-cold-prefetch", "slot prefetched 100 µs ahead"),
                                     ("reactive-cold-rehearse", "both sides rehearsed 50 µs ahead"),
                                     ("reactive-cold-rehearse-huge", "rehearsed, on huge pages"))]
    cadence.append(series(cad, "null event (copies and signals, no region), rehearsed",
                          lambda r: r["regime"] == "reactive-cold-rehearse" and r["metric"].startswith("null_"), strip_null))
    panels.append(("cadence: one event every 200 ms, caches thrashed before each, agent waiting", cadence, "cadence"))
    place = [series(pla, f"region in the {b}'s memory" if b != "interleave" else "region interleaved",
                    lambda r, b=b: r["regime"] == "reactive-cold" and r["mem_bind"] == b)
             for b in ("writer", "reader", "interleave")]
    panels.append(("placement: the cold cadence with the region bound to one side's memory", place, "cadence"))
    flat = {}
    for name, regime, label in (("wrap", "stress", "publish every 200 µs,\nbusy in-order reader"),
                                ("maxrate", "newest", "both flat out,\nnewest reader"),
                                ("maxrate", "in-order", "both flat out,\nin-order reader")):
        for r in rows(d, name):
            if r["regime"] == regime and r["metric"] == "publish_to_read" and r["unit"] == "ns" and int(r["count"]) > 0:
                flat[label] = r
    out = [(t, [s for s in ss if s], sc) for t, ss, sc in panels]
    out = [(t, ss, sc) for t, ss, sc in out if ss]
    if flat:
        out.append(("publish -> read at full speed", [("publish -> read", flat)], "flat"))
    return out


def latency(d):
    panels = latency_panels(d)
    if not panels:
        return
    heights = [len(METRICS) if sc != "flat" else 3 for _, _, sc in panels]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.3 + 0.42 * sum(heights) + 0.9 * len(panels)),
                             gridspec_kw={"height_ratios": heights})
    axes = axes if len(panels) > 1 else [axes]
    used = []
    for ax, (title, series, sc) in zip(axes, panels):
        if sc == "flat":
            ylabels = list(series[0][1])
            keys = ylabels
        else:
            keys = [m for m, _ in METRICS if any(m in got for _, got in series)]
            ylabels = [dict(METRICS)[m] for m in keys]
        n = len(series)
        for i, (label, got) in enumerate(series):
            off = (i - (n - 1) / 2) * min(0.18, 0.8 / max(1, n))
            for j, k in enumerate(keys):
                r = got.get(k)
                if r is None:
                    continue
                used.append(r)
                y = j + off
                p50, p99, mx = float(r["p50"]), float(r["p99"]), float(r["max"])
                ax.plot([p50, p99], [y, y], color=COLORS[i], lw=2, solid_capstyle="butt")
                ax.plot([p50], [y], "o", color=COLORS[i], ms=5)
                ax.plot([p99], [y], "D", color=COLORS[i], ms=5, mfc="white")
                ax.plot([mx], [y], "|", color=COLORS[i], ms=9, mew=1.6)
            ax.plot([], [], "s", color=COLORS[i], label=label) if sc != "flat" else None
        for j, k in enumerate(keys):
            for t in targets():
                if sc != "flat" and t["scenario"] == sc and t["metric"] == k and t.get("unit") == "ns" \
                        and not t.get("per_run_limit"):
                    ax.plot([t["limit"]] * 2, [j - 0.42, j + 0.42], color="red",
                            ls="-" if t["quantity"] == "p99" else "--", lw=1.2)
        base = [float(r["baseline_cacheline_ns"]) for _, got in series for r in got.values()
                if float(r.get("baseline_cacheline_ns") or 0) > 0]
        if base:  # the floor: one cache line from one core to the other, measured in the same runs
            lo, hi = min(base), max(base)
            ax.axvspan(lo * 0.97, hi * 1.03, color="0.82", lw=0)
            what = f"{lo:.0f} ns" if lo == hi else f"{lo:.0f}-{hi:.0f} ns"
            ax.text(lo * 0.9, (len(keys) - 1) / 2, f"cache line\n{what}" if sc == "flat" else
                    f"cache line, one way\n(in-run: {what})", rotation=90, fontsize=7.5, color="0.3",
                    ha="right", va="center")
        ax.set_yticks(range(len(keys)), ylabels, fontsize=9)
        ax.set_ylim(len(keys) - 0.5, -0.5)
        figures.ns_axis(ax)
        ax.set_xlim(12, 3e6)
        ax.grid(axis="x", which="both", color="0.92")
        if sc != "flat":
            leg = ax.legend(fontsize=8.5, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3, frameon=False,
                            handlelength=1, columnspacing=1.2, borderaxespad=0.2)
            ax.set_title(title, fontsize=10, loc="left", pad=8 + 13 * ((len(leg.get_texts()) + 2) // 3))
        else:
            ax.set_title(title, fontsize=10, loc="left")
    axes[-1].set_xlabel("latency (log scale): ● p50, ◇ p99, | max;  red: targets of scenarios/targets.toml "
                        "(solid p99, dashed p50)", fontsize=9)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    figures.stamp(fig, used)
    return fig


def wrap(d):
    rs = latest([r for r in rows(d, "wrap") if r["regime"].startswith("ratio-")], lambda r: r["regime"])
    if not rs:
        return None
    rs.sort(key=lambda r: float(r["regime"].split("-")[1]))
    x = [float(r["regime"].split("-")[1]) for r in rs]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    ax.plot(x, [int(r["lost"]) / max(1, int(r["published"])) for r in rs], "o-", ms=7, label="lost / published (measured)")
    ax.plot(x, [float(r["expected"]) / max(1, int(r["published"])) for r in rs], "x--", ms=9,
            label="ring of 4 replayed over the recorded times (predicted)")
    ax.plot(x, [max(0.0, 1 - 1 / v) for v in x], ":", color="grey", label="1 - 1/ratio")
    ax.set_xlabel("reader period / writer period (log scale)")
    ax.set_ylabel("fraction of publishes lost to wrap")
    ax.set_xscale("log", base=2)
    ax.set_xticks(x, [f"{v:g}x" for v in x])
    ax.set_ylim(-0.03, 1)
    ax.grid(color="0.92")
    ax.legend(loc="upper left", fontsize=9)
    period = rs[0].get("cadence_us", "")
    ax.set_title("in-order reader slower than the writer: loss to wrap, counted exactly"
                 + (f" (writer every {figures.fmt_ns(float(period) * 1e3)})" if period else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    figures.stamp(fig, rs)
    return fig


CRASH_LABELS = {"restart_to_first_valid_observation": "LB SIGKILLed and restarted:\nfirst valid observation",
                "kill_to_fallback": "agent SIGKILLed:\nLB notices and falls back",
                "restart_to_action_applied": "agent restarted:\nits first action applied"}


def crash(d):
    rs = latest(rows(d, "crash"), lambda r: (r["regime"], r["metric"]))
    if not rs:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.2))
    labels = [CRASH_LABELS.get(r["metric"], f"{r['regime']}\n{r['metric']}") + f"\n({r['count']} times)" for r in rs]
    colors = {"p50": "tab:blue", "p99": "tab:orange", "max": "tab:green"}
    for i, c in enumerate(["p50", "p99", "max"]):
        vals = [float(r[c]) for r in rs]
        bars = ax.bar([j + (i - 1) * 0.27 for j in range(len(rs))], vals, width=0.27, label=c, color=colors[c])
        ax.bar_label(bars, [f"{v:.3g}" for v in vals], fontsize=8, padding=1)
    drew = False
    for j, r in enumerate(rs):
        for t in targets():  # a per-run limit is in the row's expected column; a fixed one in the file
            if t["scenario"] == "crash" and t["metric"] == r["metric"] and r["regime"].startswith(t.get("regime", "")):
                lim = float(r["expected"]) if t.get("per_run_limit") else float(t["limit"])
                ax.hlines(lim, j - 0.45, j + 0.45, colors="red", linestyles="--", label=None if drew else "target")
                ax.annotate(f"target {t['quantity']} {t['op']} {lim:g} ms", (j, lim), xytext=(0, 3),
                            textcoords="offset points", ha="center", fontsize=8, color="red")
                drew = True
    ax.set_xticks(range(len(rs)), labels, fontsize=9)
    ax.set_ylabel("recovery time (ms)")
    ax.set_title("crash recovery: p50, p99 and max over the kills (targets: scenarios/targets.toml)", fontsize=10)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.08)
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    figures.stamp(fig, rs)
    return fig


def scale(d):
    rs = latest(rows(d, "scale"), lambda r: r["regime"])
    cad = sorted([r for r in rs if r["regime"].startswith("cadence-")], key=lambda r: int(r["regime"].split("-")[1]))
    flat = sorted([r for r in rs if r["regime"].startswith("flat-out-")], key=lambda r: int(r["regime"].split("-")[2]))
    if not cad and not flat:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    if cad:
        x = [int(r["regime"].split("-")[1]) for r in cad]
        for c, m in (("p50", "o-"), ("p99", "D--")):
            a1.plot(x, [float(r[c]) for r in cad], m, label=f"{c}")
        a1.set_xscale("log", base=2)
        a1.set_xticks(x, [str(v) for v in x])
        figures.ns_axis(a1, "y", subs=(1.0, 2.0, 5.0))
        a1.set_xlabel("regions (one LB and one agent process)")
        a1.set_ylabel("publish -> visible to the agent (log scale)")
        a1.set_title("at the cadence: latency per region", fontsize=10)
        a1.grid(color="0.92")
        a1.legend(fontsize=9)
    if flat:
        x = [int(r["regime"].split("-")[2]) for r in flat]
        a2.plot(x, [float(r["expected"]) / 1e6 for r in flat], "o-", label="publishes/s")
        a2.plot(x, [int(r["read"]) / max(1e-9, int(r["published"])) * float(r["expected"]) / 1e6 for r in flat],
                "x--", label="reads/s")
        a2.set_xscale("log", base=2)
        a2.set_xticks(x, [str(v) for v in x])
        a2.set_ylim(0, None)
        a2.set_xlabel("regions (one LB and one agent process)")
        a2.set_ylabel("millions per second, all regions")
        a2.set_title("flat out: total throughput", fontsize=10)
        a2.grid(color="0.92")
        a2.legend(fontsize=9)
    fig.suptitle("scale: one LB process publishing into N regions, one agent process reading them", fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    figures.stamp(fig, cad + flat)
    return fig


FIGURES = (("latency.png", latency), ("wrap.png", wrap), ("crash.png", crash), ("scale.png", scale))


def draw(d):
    """{file name: figure} of every figure the rows in d allow."""
    out = {}
    for name, make in FIGURES:
        fig = make(d)
        if fig is not None:
            out[name] = fig
    return out


def main(argv=None):
    argv = figures.arguments(PROG, argv, __doc__, "DIR (a folder of scenario CSVs, e.g. results/scenarios)")
    if argv is None:
        return 2
    d = argv[0]
    if not os.path.isdir(d):
        print(f"{PROG}: {d} is not a folder: give the --out folder of scripts/scenarios.sh", file=sys.stderr)
        return 2
    if not figures.writable_folder(PROG, d):
        return 2
    figs = draw(d)
    if not figs:
        print(f"{PROG}: no scenario rows in {d} (cadence, placement, wrap, maxrate, crash or scale .csv): "
              "nothing drawn; run scripts/scenarios.sh first", file=sys.stderr)
        return 2
    figures.save(PROG, figs, d, [n for n, _ in FIGURES])
    return 0


if __name__ == "__main__":
    sys.exit(main())
