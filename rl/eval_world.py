"""The evaluation's world, without PyTorch: its workloads (the environment arguments of each
workload and seed), the trace's windows, and a heuristic's row (marllb-sim without agent or
region, on an episode's simulator seed). rl/evaluate.py and rl/headroom.py share them, so both
run every policy on the same workloads."""
import csv
import os
import subprocess
import sys
import tempfile

import numpy as np

import marllb_env

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HEURISTICS = ("ecmp", "wcmp", "lsq", "sed")
METRICS = ("fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util")
WORKLOADS = ("poisson-0.85", "poisson-0.95", "trace-350")
TRACE = os.path.join(ROOT, "sim", "traces", "poisson_for_loop_rate_350.csv")
TRACE_LOAD = 0.85
TRACE_SKIP_S = 10.0  # the trace's first seconds are lighter than the rest (docs/sim.md)


def trace_window_s(steps):
    """Simulated seconds of one evaluation episode: the trace window a seed replays."""
    return (steps + 1.5) * 0.2


def trace_facts(path, skip_s=TRACE_SKIP_S):
    """(loop iterations per second from skip_s to the last request, where the evaluation's
    windows lie; the time of the last request)."""
    t, n = [], []
    with open(path) as f:
        next(f)
        for line in f:
            time_s, query = line.rstrip("\n").split("\t")
            t.append(float(time_s))
            n.append(int(query.rsplit("=", 1)[1]))
    t, n = np.array(t), np.array(n, dtype=float)
    return float(n[t >= skip_s].sum()) / (t[-1] - skip_s), float(t[-1])


def workload_env(name, seed_index, settings, steps):
    """marllb_env arguments of workload `name`, seed index k, for a run's settings."""
    caps = marllb_env.parse_servers(settings["servers"])
    common = dict(episode_steps=steps, servers=settings["servers"], lbs=settings["lbs"],
                  lb_model=settings["lb_model"], reward_type=settings["reward_type"],
                  # the run's world (docs/sim.md 'Dynamics'): the heuristics believe its provisioned weights too
                  work=settings.get("work", "exp"), provisioned=settings.get("provisioned"), events=settings.get("events"))
    if name.startswith("poisson-"):
        return dict(common, load=float(name.split("-")[1]))
    iterations_per_s, last = trace_facts(TRACE)
    window = trace_window_s(steps)
    start = TRACE_SKIP_S + seed_index * window
    if start + window > last:  # parse() refuses such a grid before any episode
        raise ValueError(f"trace window {seed_index} ({start:g} s + {window:g} s) runs past the trace's end ({last:g} s)")
    # the windows' mean work at TRACE_LOAD of the capacity: measured over the part of the trace
    # they are taken from (the lighter first seconds would put them at 87 % instead)
    ns = TRACE_LOAD * sum(caps) / iterations_per_s * 1e9
    # a trace gives each request's work: the run's --work does not apply to it
    return dict(common, work="exp", trace=TRACE, trace_start_s=start, sim_args=["--ns-per-iteration", repr(ns)])


def heuristic_row(env, sim_seed, policy):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "row.csv")
        cmd = [c for c in env.sim_command(sim_seed, "marllb_eval_unused_", out) if c != "--exit-with-parent"]
        cmd[cmd.index("--policy") + 1] = policy
        r = subprocess.run(cmd + ["--no-region"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{os.path.basename(sys.argv[0])}: marllb-sim --policy {policy} failed: {r.stdout[-400:]} {r.stderr[-400:]}")
        with open(out) as f:
            return {k: marllb_env._number_or_text(v) for k, v in list(csv.DictReader(f))[-1].items()}
