#!/usr/bin/env python3
"""Python agent-side reads of marllb_shm, hot (one thread, caches warm), beside in-run baselines.

Each iteration publishes a new observation from the LB side (untimed), then times one read with
a pair of perf_counter_ns calls; the pair's own cost (the `timer` row) is subtracted. A timed
call includes freeing the previous call's result, as `obs = region.read_observation()` in an
agent's loop does. The LB and the agent are one process, so the slot is in this core's cache:
the same regime as bench_core's BM_ReadNewestObservation, which runs in the same invocation
when its binary is found. Every read is checked to return an observation.

    /usr/bin/python3 bench/bench_python.py [--servers 64] [--reps 9] [--iterations 2000]
        [--module-dir build/release/core/python] [--bench-core build/release/bench/bench_core] [--csv FILE]

Cases (per call, median of the reps' medians; p90 is the median of the reps' p90s):
  read_observation              the seed's dict: {sequence_id, ..., server_stats: {id: {...}}}
  read_next_observation         the same dict, in order, with `lost`
  read_observation_kept         the seed's dict while the caller keeps its last 3 results (nothing
                                to refill: every dict is new, as for an agent storing history)
  read_observation_arrays       the numpy path: n_flow_on, features, active arrays
  read_reservoirs               raw reservoirs (196,608 bytes), one copy into a reused record
Baselines, same run:
  timer                         two perf_counter_ns calls (subtracted from every case above)
  call_floor                    last_sequence: one call into the module (a property read)
  numpy_copy_2848B              ndarray.copy() of the 2,848 bytes of one observation
  seed_dict_in_python           the seed's dict built by Python code from ready-made floats
  numbers_kept                  the numbers of one seed's dict as the module makes them, 640 floats
                                and 64 ints (n_flow_on), made in C (ndarray.tolist()) with the last 3
                                kept: what the numbers alone cost read_observation_kept
  dicts_kept                    the 64 server dicts as dict.copy() of ready ones holding the same keys
                                and values, in C (map), the last 3 lists kept: a copy clones the keys
                                table and sets no value, so no dict with these keys and values is made
                                for less; with numbers_kept, a lower bound of read_observation_kept
                                (which also builds the outer dicts and reads the region)
  cpp_read_newest               bench_core BM_ReadNewestObservation (C++, no Python objects)
"""
import argparse
import collections
import csv
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_with_pythonpath(dirs):
    """Runs this script again with `dirs` first on PYTHONPATH (once): the marllb of the build
    being measured, whatever is installed."""
    want = os.pathsep.join(dirs)
    if os.environ.get("MARLLB_SCRIPT_PYTHONPATH") == want:
        return
    old = os.environ.get("PYTHONPATH")
    env = dict(os.environ, MARLLB_SCRIPT_PYTHONPATH=want, PYTHONPATH=want + (os.pathsep + old if old else ""))
    os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)


def percentile(xs, q):
    """Linear interpolation between the two nearest order statistics (measure/'s definition)."""
    s = sorted(xs)
    h = q * (len(s) - 1)
    lo = int(h)
    return s[lo] + (h - lo) * (s[min(lo + 1, len(s) - 1)] - s[lo])


def timed(fn, before, iterations, floor_ns):
    """Per-call ns of fn() (minus the timer pair), with before() run untimed ahead of each call."""
    pc = time.perf_counter_ns
    out = []
    for _ in range(iterations):
        before()
        t0 = pc()
        r = fn()
        t1 = pc()
        if r is None:
            raise SystemExit(f"bench_python: {getattr(fn, '__name__', fn)} returned None after a publish")
        out.append(t1 - t0 - floor_ns)
    return out


def cpp_read_newest(binary):
    if not binary or not os.path.exists(binary):
        return None
    r = subprocess.run([binary, "--benchmark_filter=^BM_ReadNewestObservation(/manual_time)?$", "--benchmark_min_time=0.2",
                        "--benchmark_repetitions=5", "--benchmark_report_aggregates_only=true",
                        "--benchmark_format=json"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    if not r.stdout.strip():  # nothing matched the filter: the benchmark was renamed
        raise SystemExit(f"bench_python: {binary} has no BM_ReadNewestObservation: {r.stderr.strip()}")
    for b in json.loads(r.stdout)["benchmarks"]:
        if b.get("aggregate_name") == "median":
            return b["real_time"] * {"ns": 1, "us": 1e3}[b["time_unit"]]
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", type=int, default=64)
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--module-dir", default=os.path.join(ROOT, "build", "release", "core", "python"),
                   help="the build's core/python, where marllb_shm is imported from (another build, e.g. an older one, "
                        "to compare)")
    p.add_argument("--bench-core", default=os.path.join(ROOT, "build", "release", "bench", "bench_core"),
                   help="bench_core binary for the C++ baseline ('' to skip)")
    p.add_argument("--csv", help="append the rows to this CSV")
    a = p.parse_args()
    if not 1 <= a.servers <= 64 or a.reps < 1 or a.iterations < 10:
        p.error("--servers must be 1..64, --reps >= 1, --iterations >= 10")
    # The module of --module-dir; the result rows from this checkout's marllb when that build has none.
    run_with_pythonpath([a.module_dir, os.path.join(ROOT, "core", "python")])
    import numpy as np
    import marllb_shm as m
    from marllb import result_rows

    load_before = os.getloadavg()[0]
    name = f"marllb_bench_py_{uuid.uuid4().hex[:8]}"
    lb = m.SharedMemoryRegion(name, create=True, raw_reservoirs=True)
    agent = m.SharedMemoryRegion(name)
    try:
        rng = np.random.default_rng(1)
        n_flow_on = [int(x) for x in rng.integers(0, 100, a.servers)]
        features = rng.random((a.servers, 10), dtype=np.float32)
        has_raw = hasattr(m, "RESERVOIR_DTYPE")
        raw = np.zeros((), m.RESERVOIR_DTYPE) if has_raw else None
        out = np.zeros((), m.RESERVOIR_DTYPE) if has_raw else None

        def publish():
            lb.write_observation(n_flow_on, features)

        def publish_raw_and_read():  # the reservoirs timed are those of the observation just read
            lb.write_observation(n_flow_on, features, reservoirs=raw)
            agent.read_observation()

        def nothing():
            pass

        history = collections.deque(maxlen=3)

        def read_and_keep():
            history.append(agent.read_observation())
            return history[-1]

        # Floors first: what a timed call costs with nothing in it.
        pc = time.perf_counter_ns
        pairs = []
        for _ in range(20000):
            t0 = pc()
            t1 = pc()
            pairs.append(t1 - t0)
        timer_ns = statistics.median(pairs)

        src = np.frombuffer(rng.bytes(2848), dtype=np.uint8)
        floats = [float(x) for x in features.ravel()]
        keys = ("n_flow_on",) + tuple(m.FEATURE_NAMES)

        feature_numbers = features.astype(np.float64).ravel()
        flow_numbers = np.asarray(n_flow_on, dtype=np.int64)
        numbers_history = collections.deque(maxlen=3)

        def numbers_kept():
            numbers_history.append((feature_numbers.tolist(), flow_numbers.tolist()))
            return numbers_history[-1]

        ready = [dict(zip(keys, [n_flow_on[s], *floats[s * 10:(s + 1) * 10]])) for s in range(a.servers)]
        dicts_history = collections.deque(maxlen=3)

        def dicts_kept():
            dicts_history.append(list(map(dict.copy, ready)))
            return dicts_history[-1]

        def seed_dict_in_python():
            stats = {}
            for s in range(a.servers):
                row = floats[s * 10:(s + 1) * 10]
                stats[s] = dict(zip(keys, [n_flow_on[s], *row]))
            return {"sequence_id": 1, "timestamp": 0.0, "active_servers": list(range(a.servers)),
                    "server_stats": stats}

        cases = [
            ("timer", lambda: 0, nothing, "the perf_counter_ns pair itself (not subtracted)"),
            ("call_floor", lambda: agent.last_sequence, nothing, "one call into the module (a property)"),
            ("numpy_copy_2848B", src.copy, nothing, "ndarray.copy() of one observation's bytes"),
            ("seed_dict_in_python", seed_dict_in_python, nothing, "the seed's dict built in Python"),
            ("numbers_kept", numbers_kept, nothing, f"{a.servers * 10} floats and {a.servers} ints made in C, the last 3 kept"),
            ("dicts_kept", dicts_kept, nothing, f"{a.servers} dicts of 11 as dict.copy() in C, the last 3 kept"),
            ("read_observation", agent.read_observation, publish, "the seed's dict"),
            ("read_next_observation", getattr(agent, "read_next_observation", None), publish, "in order, with lost"),
            ("read_observation_kept", read_and_keep, publish, "the seed's dict, the last 3 results kept"),
            ("read_observation_arrays", agent.read_observation_arrays, publish, "numpy arrays"),
            ("read_reservoirs", (lambda: agent.read_reservoirs(None, out)) if has_raw else None,
             publish_raw_and_read, "196,608 bytes into a reused record"),
        ]
        rows = []
        for case, fn, before, what in cases:
            if fn is None:
                rows.append((case, None, None, None, what + " (not in this module)"))
                continue
            floor = 0 if case == "timer" else timer_ns
            p50s, p90s, means = [], [], []
            for _ in range(a.reps):
                xs = timed(fn, before, a.iterations, floor)
                p50s.append(percentile(xs, 0.5))
                p90s.append(percentile(xs, 0.9))
                means.append(statistics.fmean(xs))
            rows.append((case, statistics.median(p50s), statistics.median(p90s), statistics.median(means), what))
        cpp = cpp_read_newest(a.bench_core)
        rows.append(("cpp_read_newest", cpp, None, None, "bench_core BM_ReadNewestObservation, median of 5"
                     if cpp is not None else "bench_core not found"))
    finally:
        agent.close()
        lb.unlink()
    load_after = os.getloadavg()[0]

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git_commit": result_rows.git_commit(__file__), "cpu_model": result_rows.cpu_model(), "kernel": platform.release(),
            "python": platform.python_version(), "module": m.__file__, "servers": a.servers, "reps": a.reps,
            "iterations": a.iterations, "load1_before": f"{load_before:.2f}", "load1_after": f"{load_after:.2f}"}
    print(f"# {meta['date']} commit {meta['git_commit']}, {meta['cpu_model']}, Python {meta['python']}")
    print(f"# module {meta['module']}; {a.servers} servers, {a.reps} reps x {a.iterations} calls; "
          f"load average (1 min) {meta['load1_before']} before, {meta['load1_after']} after")
    print(f"{'case':26} {'p50 us':>9} {'p90 us':>9} {'mean us':>9}  what")
    fmt = lambda v: f"{v / 1e3:9.3f}" if v is not None else f"{'-':>9}"
    for case, p50, p90, mean, what in rows:
        print(f"{case:26} {fmt(p50)} {fmt(p90)} {fmt(mean)}  {what}")
    if a.csv:
        new = not os.path.exists(a.csv)
        with open(a.csv, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(["case", "p50_ns", "p90_ns", "mean_ns", *meta.keys()])
            for case, p50, p90, mean, _ in rows:
                w.writerow([case, *("" if v is None else f"{v:.1f}" for v in (p50, p90, mean)), *meta.values()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
