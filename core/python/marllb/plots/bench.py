"""Draws the benchmark figures from a bench CSV (marllb-bench-to-csv) into a folder:

  one_way_latency.png      p50 and p99 one-way latency: marllb-shm, the peers, the cache-line limit
  latency_percentiles.png  p50 .. max per transport (a latency distribution in five points)
  hot_ops.png              hot core operations beside a memcpy of the same bytes

Only the figures the CSV has rows for are written (bench_ipc rows for the first two, bench_core
rows for the third), and the line printed at the end names them; each says in its bottom-right
corner the commit, CPU model, CPUs and date of its rows. A CSV with none of them is refused
(exit 2) and nothing is written.

    marllb-bench-plot BENCH.csv OUT_DIR    (or python3 -m marllb.plots.bench)
"""
import csv
import os
import sys

from marllb.plots import figures  # before pyplot: it selects matplotlib's backend

import matplotlib.pyplot as plt  # noqa: E402

PROG = "marllb-bench-plot"
PROFILE = ("cpu_relation",)  # how the rows' CPUs were chosen: the benchmarks' profile

TRANSPORTS = [  # (benchmark, label), fastest expected first
    ("BM_CacheLineOneWay", "cache line\n(limit)"),
    ("BM_CopyFloorOneWay", "copy floor\n(same bytes)"),
    ("BM_ObsOneWay/marllb_shm", "marllb-shm\nobservation"),
    ("BM_ActionOneWay/marllb_shm", "marllb-shm\naction"),
    ("BM_ObsOneWay/iceoryx", "iceoryx"),
    ("BM_ObsOneWay/mutex_shm", "shm +\nmutex"),
    ("BM_ObsOneWay/posix_mq", "POSIX mq"),
    ("BM_ObsOneWay/unix_socket", "Unix\nsocket"),
    ("BM_ObsOneWay/pipe", "pipe"),
]
HOT = [("BM_PublishObservation", "publish\nobservation", "BM_Memcpy/bytes:2848"),
       ("BM_ReadNewestObservation", "read newest\nobservation", "BM_Memcpy/bytes:2848"),
       ("BM_WriteAction", "write action\n(validated)", "BM_Memcpy/bytes:792"),
       ("BM_PollActionUnchanged", "poll action\n(unchanged)", None),
       ("BM_AliasSample/servers:64", "alias\nsample", None)]


def load(path):
    """(table {(binary, benchmark, metric): median}, rows by binary) of a bench CSV."""
    table, by_binary = {}, {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            binary = (r.get("binary") or "").removesuffix(".json")
            try:
                table[(binary, r["benchmark"], r["metric"])] = float(r["median"])
            except (KeyError, TypeError, ValueError):
                continue
            by_binary.setdefault(binary, []).append(r)
    return table, by_binary


def one_way(t, rows):
    present = [(b, l) for b, l in TRANSPORTS if ("bench_ipc", b, "p50_ns") in t]
    if not present:
        return None
    fig, ax = plt.subplots(figsize=(10, 4.6))
    xs = range(len(present))
    p50 = [t[("bench_ipc", b, "p50_ns")] for b, _ in present]
    p99 = [t.get(("bench_ipc", b, "p99_ns"), float("nan")) for b, _ in present]
    ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p99, 0.4, label="p99")
    figures.ns_axis(ax, "y")
    ax.set_xticks(list(xs), [l for _, l in present], fontsize=9)
    ax.set_ylabel("one-way latency (log scale)")
    ax.set_title("2,848-byte observation, one way between two pinned processes (median of 9 runs)", fontsize=10)
    ax.legend(fontsize=9)
    for x, v in zip(xs, p50):
        ax.annotate(figures.fmt_ns(float(f"{v:.2g}")), (x - 0.2, v), ha="center", va="bottom", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    figures.stamp(fig, rows, PROFILE)
    return fig


def percentiles(t, rows):
    present = [(b, l) for b, l in TRANSPORTS if ("bench_ipc", b, "p50_ns") in t]
    if not present:
        return None
    fig, ax = plt.subplots(figsize=(10, 5))
    qs = ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"]
    ends = []
    for b, l in present:
        ys = [t.get(("bench_ipc", b, q), float("nan")) for q in qs]
        line, = ax.plot(range(len(qs)), ys, marker="o")
        last = max((i for i, y in enumerate(ys) if y == y), default=None)  # the last percentile present
        if last is not None:
            ends.append((l.replace("\n", " "), last, ys[last], line.get_color()))
    figures.ns_axis(ax, "y")
    ax.set_xticks(range(len(qs)), ["p50", "p90", "p99", "p99.9", "max"])
    ax.set_xlim(-0.2, len(qs) + 0.6)  # room for the labels at the right
    ax.set_xlabel("percentile of 2,000 one-way events")
    ax.set_ylabel("one-way latency (log scale)")
    ax.set_title("latency distribution per transport (median of 9 runs of 2,000 events)", fontsize=10)
    ax.grid(axis="y", color="0.92")
    figures.label_ends(ax, ends, log=True, x_text=len(qs) - 1 + 0.35)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    figures.stamp(fig, rows, PROFILE)
    return fig


def hot_ops(t, rows):
    hot = [(b, l, m) for b, l, m in HOT if ("bench_core", b, "time_ns") in t]
    if not hot:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.4))
    xs = range(len(hot))
    ours = [t[("bench_core", b, "time_ns")] for b, _, _ in hot]
    floor = [t.get(("bench_core", m, "time_ns"), 0) if m else 0 for _, _, m in hot]
    bars = ax.bar([x - 0.2 for x in xs], ours, 0.4, label="marllb-shm")
    ax.bar_label(bars, [f"{v:.3g}" for v in ours], fontsize=8, padding=1)
    bars = ax.bar([x + 0.2 for x in xs], floor, 0.4, label="memcpy of the same bytes (in-run)")
    ax.bar_label(bars, [f"{v:.3g}" if v else "" for v in floor], fontsize=8, padding=1)
    ax.set_xticks(list(xs), [l for _, l, _ in hot], fontsize=9)
    ax.set_ylabel("ns per operation, hot")
    ax.set_title("core operations, hot, beside an in-run memcpy (median of 9 runs)", fontsize=10)
    ax.legend(fontsize=9)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    figures.stamp(fig, rows, PROFILE)
    return fig


FIGURES = (("one_way_latency.png", one_way, "bench_ipc"), ("latency_percentiles.png", percentiles, "bench_ipc"),
           ("hot_ops.png", hot_ops, "bench_core"))


def draw(path):
    """{file name: figure} of every figure the CSV has rows for."""
    t, by_binary = load(path)
    out = {}
    for name, make, binary in FIGURES:
        fig = make(t, by_binary.get(binary, []))
        if fig is not None:
            out[name] = fig
    return out


def main(argv=None):
    argv = figures.arguments(PROG, argv, __doc__, "BENCH.csv OUT_DIR (a CSV of marllb-bench-to-csv)", count=2)
    if argv is None:
        return 2
    src, out = argv
    if not os.path.isfile(src):
        print(f"{PROG}: {src} is not a file: give a CSV written by scripts/bench.sh or marllb-bench-to-csv",
              file=sys.stderr)
        return 2
    if not figures.writable_folder(PROG, out, make=True):
        return 2
    figs = draw(src)
    if not figs:
        print(f"{PROG}: {src} has no bench_ipc or bench_core rows: nothing drawn", file=sys.stderr)
        return 2
    figures.save(PROG, figs, out, [n for n, _, _ in FIGURES])
    return 0


if __name__ == "__main__":
    sys.exit(main())
