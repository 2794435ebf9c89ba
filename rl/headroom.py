#!/usr/bin/env python3
"""What the right weights win over SED in a world: SED with the LB's provisioned weights (the
evaluation's SED row) against SED over weights that know the world exactly, on the evaluation's
workloads.

An agent of this testbed sets the weights that the LB's SED uses (docs/rl.md). The weights an
agent would send if it learned the world exactly are the servers' true capacities at each
moment: a reference point for what learning the capacities is worth (not a bound: other
weights may do better). This script measures it, per workload and seed, with three
policies on the same simulator seed (rl/evaluate.py's grid: environment seeds from
--first-seed, its workloads, its steps, so the same arrivals and the same SED rows):

  sed                  marllb-sim's SED believing --provisioned (what the evaluation's SED is);
  sed-true-weights     SED over weights sent through the regions at every step, as an agent
                       sends them: the true capacities (--servers, changed by the capacity
                       events of --events) of the interval the weights govern: the reset's
                       observation is published at 0.2 s and the k-th step's at (k + 1) x 0.2 s;
                       the answer to it governs the interval from (k + 2) x 0.2 s with MARLLB's
                       LB model (applied at the next publish, docs/rl.md 'What one step is'),
                       from (k + 1) x 0.2 s with the clean one (applied at once);
                       --shift-s takes them that much later (negative: earlier);
  sed-provisioned-weights  the same path with the provisioned weights: what the path itself
                       costs against marllb-sim's own SED (it should be nothing).

The difference sed-true-weights minus sed, paired, with its 95 % interval, is what learning the
capacities exactly is worth against SED; an agent beating SED by more would have found
something else. --provisioned defaults to --servers (no error: the headroom is what the
schedule alone leaves). Only capacity events move the weights; rate, drain and restore events
are the world's and the LB's, applied as in any run.

    rl/headroom.py --servers 1,1,1,1,1.5,1.5,1.5 --provisioned 1,1,1,1,2,2,2 \\
        --seeds 5 --workloads poisson-0.85,poisson-0.95 --csv results/rl/headroom.csv
"""
import argparse
import bisect
import datetime
import os
import signal
import sys

import numpy as np

import eval_stats
import marllb_env
from marllb import result_rows
from eval_world import heuristic_row, workload_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICIES = ("sed", "sed-true-weights", "sed-provisioned-weights")
INTERVAL_S = 0.2  # the LB's publish interval: the first publish at 0.2 s, then one every 0.2 s
ROW_COLUMNS = ("date", "git_commit", "cpu_model", "policy", "servers", "provisioned", "events", "work", "lbs",
               "lb_model", "shift_s", "workload", "seed", "sim_seed", "fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util",
               "flows_completed", "actions_applied", "actions_rejected")


def capacity_schedule(events, servers):
    """[(time_s, capacities)] from an events file (docs/sim.md 'Dynamics'): the true capacities
    from each capacity event on, starting with `servers` at 0. Other events leave them. Errors
    name FILE:LINE (marllb-sim checks the rest of the file when it starts)."""
    caps = list(servers)
    steps = [(0.0, tuple(caps))]
    if not events:
        return steps
    with open(events) as f:
        for number, line in enumerate(f, 1):
            fields = [x.strip() for x in line.split("#", 1)[0].split(",")]
            if fields == [""] or fields[:2] == ["time_s", "event"]:
                continue
            if len(fields) != 4:
                raise ValueError(f"{events}:{number}: expected time_s,event,server,value, got {line.strip()!r}")
            if fields[1] != "capacity":
                continue
            try:
                t, server, value = float(fields[0]), int(fields[2]), float(fields[3])
            except ValueError:
                raise ValueError(f"{events}:{number}: a capacity event needs a time, a server index and a value, "
                                 f"got {line.strip()!r}") from None
            if not 0 <= server < len(caps):
                raise ValueError(f"{events}:{number}: server {server} is not one of the {len(caps)} servers")
            if t < 0:
                raise ValueError(f"{events}:{number}: time {t:g} s is negative (times count from the run's start)")
            if t < steps[-1][0]:
                raise ValueError(f"{events}:{number}: time {t:g} s is before the previous capacity event's ({steps[-1][0]:g} s)")
            caps[server] = value
            if t == steps[-1][0]:
                steps[-1] = (t, tuple(caps))
            else:
                steps.append((t, tuple(caps)))
    return steps


def capacities_at(schedule, t):
    """The true capacities at time t (s) of a capacity_schedule."""
    return schedule[bisect.bisect_right([s[0] for s in schedule], t) - 1][1]


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", required=True, help="the true capacities (marllb7, marllb24 or 1,1,2,...)")
    p.add_argument("--provisioned", default=None, help="what SED believes (default: --servers)")
    p.add_argument("--events", default=None, help="a schedule of timed events (docs/sim.md 'Dynamics')")
    p.add_argument("--work", default="exp", help="work per flow: exp, lognormal:SIGMA, pareto:ALPHA[:SPAN]")
    p.add_argument("--lbs", type=int, default=1, help="LBs; every LB gets the same weights")
    p.add_argument("--lb-model", default="marllb", choices=("marllb", "clean"))
    p.add_argument("--seeds", type=int, default=7, help="workloads per cell (2..31)")
    p.add_argument("--steps", type=int, default=150, help="steps (200 ms each) per episode")
    p.add_argument("--first-seed", type=int, default=10_000, help="environment seeds start here (as rl/evaluate.py)")
    p.add_argument("--workloads", default="poisson-0.85,poisson-0.95", help="poisson-LOAD (LOAD in [0.01, 2]), comma-separated")
    p.add_argument("--shift-s", type=float, default=0.0,
                   help="take the true capacities this much later than the interval the weights govern (negative: earlier)")
    p.add_argument("--csv", default="", help="append one row per (policy, seed, workload) here")
    a = p.parse_args()
    if not 2 <= a.seeds <= 31:
        p.error("--seeds must be 2..31 (a t interval needs at least 2)")
    if a.steps < 10:
        p.error("--steps must be >= 10")
    if a.first_seed < 0:
        p.error("--first-seed must be >= 0")
    if a.lbs < 1:
        p.error("--lbs must be >= 1")
    a.workloads = a.workloads.split(",")
    for w in a.workloads:
        try:
            ok = w.startswith("poisson-") and 0.01 <= float(w[len("poisson-"):]) <= 2.0
        except ValueError:
            ok = False
        if not ok:
            p.error(f"--workloads: {w!r} is not poisson-LOAD with LOAD in [0.01, 2] "
                    f"(trace-350 is rl/evaluate.py's: a trace's work is not --work's)")
    try:
        a.true = marllb_env.parse_servers(a.servers)
        a.believed = marllb_env.parse_servers(a.provisioned) if a.provisioned else list(a.true)
    except ValueError as e:
        p.error(f"--servers/--provisioned: {e}")
    if len(a.believed) != len(a.true):
        p.error(f"--provisioned gives {len(a.believed)} capacities for {len(a.true)} servers: give one per server")
    if a.events and not os.path.isfile(a.events):
        p.error(f"--events {a.events} is not a file (a CSV time_s,event,server,value: docs/sim.md 'Dynamics')")
    try:
        a.schedule = capacity_schedule(a.events, a.true)
    except ValueError as e:
        p.error(f"--events: {e}")
    if a.csv:
        problem = result_rows.csv_target_problem(a.csv, ROW_COLUMNS)
        if problem:
            p.error(f"--csv {a.csv}: {problem}")
    return a


def weights_path_row(env, seed, weights_at, lb_model="marllb"):
    """One episode on environment seed `seed`, the agent's path: at each step the weights
    weights_at(t), t the start of the interval they govern (the module's docstring)."""
    _, info = env.reset(seed=seed)
    truncated, k = False, 0
    delay = 1 if lb_model == "marllb" else 0  # MARLLB's LB applies an answer at the next publish
    while not truncated:
        w = np.asarray(weights_at((k + 1 + delay) * INTERVAL_S), dtype=float)
        _, _, _, truncated, step_info = env.step(np.tile(w, (env.num_lbs, 1)) if env.num_lbs > 1 else w)
        k += 1
    return info["sim_seed"], step_info["episode"]


def main():
    a = parse()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    commit, cpu = result_rows.git_commit(__file__), result_rows.cpu_model()
    settings = dict(servers=a.servers, lbs=a.lbs, lb_model=a.lb_model, reward_type="var", work=a.work,
                    provisioned=a.provisioned, events=a.events)
    true_at = lambda t: capacities_at(a.schedule, max(0.0, t + a.shift_s))  # noqa: E731
    rows = []
    for wl in a.workloads:
        for k in range(a.seeds):
            seed = a.first_seed + k
            with marllb_env.LoadBalanceEnv(**workload_env(wl, k, settings, a.steps)) as env:
                try:
                    sim_seed, true_row = weights_path_row(env, seed, true_at, a.lb_model)
                except marllb_env.SimError as e:
                    if rows:
                        raise
                    # before any row: what marllb-sim refuses of the world (an events file's
                    # kinds and values, say) is the caller's input
                    print(f"headroom.py: marllb-sim refused this world: {e}", file=sys.stderr)
                    return 2
                same, prov_row = weights_path_row(env, seed, lambda t: a.believed, a.lb_model)
                assert same == sim_seed, (same, sim_seed)
                results = {"sed": heuristic_row(env, sim_seed, "sed"), "sed-true-weights": true_row,
                           "sed-provisioned-weights": prov_row}
            new = [{"date": date, "git_commit": commit, "cpu_model": cpu, "policy": p, "servers": a.servers,
                    "provisioned": a.provisioned or a.servers, "events": os.path.relpath(a.events, ROOT) if a.events else "",
                    "work": a.work, "lbs": a.lbs, "lb_model": a.lb_model, "shift_s": a.shift_s, "workload": wl, "seed": seed, "sim_seed": r["seed"],
                    **{m: r[m] for m in ("fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util", "flows_completed")},
                    "actions_applied": r.get("actions_applied", 0), "actions_rejected": r.get("actions_rejected", 0)}
                   for p, r in results.items()]
            rows += new
            if a.csv:
                result_rows.append_rows(a.csv, new, ROW_COLUMNS)
            print(f"{wl} seed {seed}: p90 ms " + " ".join(f"{p} {results[p]['fct_p90_s'] * 1e3:.1f}" for p in POLICIES),
                  flush=True)
    print(f"\n{'workload':13} {'policy':24} {'p90 ms':>17} {'minus sed (paired, 95 %)':>28}")
    for wl in a.workloads:
        p90 = {p: [r["fct_p90_s"] * 1e3 for r in rows if r["workload"] == wl and r["policy"] == p] for p in POLICIES}
        for p in POLICIES:
            m, h = eval_stats.mean_ci(p90[p])
            diff = ""
            if p != "sed":
                d, dh, worse = eval_stats.paired(p90[p], p90["sed"])
                diff = f"{d:+8.1f} +- {dh:5.1f} ms ({eval_stats.verdict(d, dh)}, above on {worse} of {len(p90[p])})"
            print(f"{wl:13} {p:24} {m:8.1f} +- {h:6.1f} {diff}")
    if a.csv:
        print(f"{len(rows)} rows appended to {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
