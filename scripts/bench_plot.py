#!/usr/bin/python3
"""Draws the benchmark figures from a bench CSV (scripts/bench_to_csv.py) into a folder:

  one_way_latency.png      p50 and p99 one-way latency: marllb-shm, the peers, the cache-line limit
  latency_percentiles.png  p50 .. max per transport (a latency distribution in five points)
  hot_ops.png              hot core operations beside a memcpy of the same bytes

    bench_plot.py BENCH.csv OUT_DIR
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import result_rows  # scripts/ is this script's own folder, first on sys.path

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
    table = {}
    for r in csv.DictReader(open(path)):
        try:
            table[(r["binary"].removesuffix(".json"), r["benchmark"], r["metric"])] = float(r["median"])
        except ValueError:
            pass
    return table


def main(argv):
    result_rows.answer_help_and_version(argv, __doc__)
    if len(argv) != 3:
        sys.exit(__doc__)
    t = load(argv[1])
    out = argv[2]
    os.makedirs(out, exist_ok=True)
    present = [(b, l) for b, l in TRANSPORTS if ("bench_ipc", b, "p50_ns") in t]

    fig, ax = plt.subplots(figsize=(10, 4.5))
    xs = range(len(present))
    p50 = [t[("bench_ipc", b, "p50_ns")] for b, _ in present]
    p99 = [t[("bench_ipc", b, "p99_ns")] for b, _ in present]
    ax.bar([x - 0.2 for x in xs], p50, 0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], p99, 0.4, label="p99")
    ax.set_yscale("log")
    ax.set_xticks(list(xs), [l for _, l in present], fontsize=8)
    ax.set_ylabel("one-way latency (ns, log)")
    ax.set_title("2,848-byte observation, one way between two pinned processes (median of 9 runs)")
    ax.legend()
    for x, v in zip(xs, p50):
        ax.annotate(f"{v:.0f}", (x - 0.2, v), ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "one_way_latency.png"), dpi=120)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    qs = ["p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"]
    for b, l in present:
        ax.plot(range(len(qs)), [t.get(("bench_ipc", b, q), float("nan")) for q in qs], marker="o",
                label=l.replace("\n", " "))
    ax.set_yscale("log")
    ax.set_xticks(range(len(qs)), ["p50", "p90", "p99", "p99.9", "max"])
    ax.set_ylabel("one-way latency (ns, log)")
    ax.set_title("Latency distribution per transport (median of 9 runs of 2,000 events)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "latency_percentiles.png"), dpi=120)

    fig, ax = plt.subplots(figsize=(8, 4))
    hot = [(b, l, m) for b, l, m in HOT if ("bench_core", b, "time_ns") in t]
    xs = range(len(hot))
    ax.bar([x - 0.2 for x in xs], [t[("bench_core", b, "time_ns")] for b, _, _ in hot], 0.4, label="marllb-shm")
    ax.bar([x + 0.2 for x in xs], [t.get(("bench_core", m, "time_ns"), 0) if m else 0 for _, _, m in hot], 0.4,
           label="memcpy of the same bytes")
    ax.set_xticks(list(xs), [l for _, l, _ in hot], fontsize=8)
    ax.set_ylabel("ns per operation (hot)")
    ax.set_title("Core operations, hot, beside an in-run memcpy (median of 9 runs)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "hot_ops.png"), dpi=120)
    print(f"bench_plot: 3 figures in {out}")


if __name__ == "__main__":
    main(sys.argv)
