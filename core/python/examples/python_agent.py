#!/usr/bin/env python3
"""A Python agent for the simulated LB (marllb-sim): the loop a real RL agent runs.

Attaches to the LB's region (waiting for it), reads the newest observation every --interval-ms
through the numpy fast path, answers it with capacity-scaled inverse-load weights, and stamps
its heartbeat. With --lockstep it answers every observation as soon as it is published.
Stops on SIGTERM or SIGINT and prints a summary line.

    python3 core/python/examples/python_agent.py --region marllb_lb0
(with the package installed: scripts/setup.sh --venv .venv release, then .venv/bin/python; or
PYTHONPATH=build/release/core/python /usr/bin/python3)
"""
import argparse
import signal
import sys
import time

import numpy as np

import marllb_shm

stop = False


def on_signal(*_):
    global stop
    stop = True


def attach(name, wait_s):
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return marllb_shm.SharedMemoryRegion(name)
        except marllb_shm.NoRegionError as e:
            if time.monotonic() > deadline or stop:
                sys.exit(f"python-agent: no LB region '{name}' after {wait_s} s: {e}")
            time.sleep(0.02)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--region", default="marllb_lb0")
    p.add_argument("--interval-ms", type=float, default=250)
    p.add_argument("--capacities", default="", help="comma-separated server capacities (weights scale with them)")
    p.add_argument("--wait-s", type=float, default=10)
    p.add_argument("--lockstep", action="store_true")
    p.add_argument("--log", help="CSV row per decision")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    caps = np.array([float(c) for c in args.capacities.split(",")]) if args.capacities else None

    region = attach(args.region, args.wait_s)
    log = open(args.log, "w") if args.log else None
    if log:
        log.write("obs_seq,action_seq,staleness_us,decision_us\n")
    decisions = rejected = 0
    last = 0
    next_t = time.monotonic()
    while not stop:
        region.heartbeat()
        if args.lockstep:
            obs = region.wait_observation(timeout=0.05, arrays=True)
            t0 = time.monotonic_ns()
        else:
            time.sleep(max(0.0, next_t - time.monotonic()))
            next_t += args.interval_ms / 1e3
            t0 = time.monotonic_ns()
            obs = region.read_observation_arrays()
        if obs is None:  # nothing newer than the observation last answered
            continue
        last = obs["sequence_id"]
        load = obs["n_flow_on"].astype(np.float64)
        c = caps[: len(load)] if caps is not None and len(caps) >= len(load) else np.ones(len(load))
        weights = c / (1.0 + load)
        try:
            region.write_action(last, weights)
        except marllb_shm.ActionRejected as e:
            rejected += 1
            print(f"python-agent: {e}", file=sys.stderr)
        decisions += 1
        if log:
            t1 = time.monotonic_ns()
            log.write(f"{last},{last},{(t1 - obs.get('publish_mono_ns', t1)) / 1e3:.1f},{(t1 - t0) / 1e3:.1f}\n")
    print(f"python-agent {args.region}: {decisions} decisions, {rejected} rejected, last observation {last}")
    return 0 if rejected == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
