#!/usr/bin/env python3
"""Evaluates trained agents (rl/train.py's policies.pt, one per training run) against ECMP,
WCMP, LSQ and SED on the same simulated workloads, with the run's server set and number of LBs.

Workloads (each on --seeds seeds, --steps steps of 200 ms):
  poisson-0.85, poisson-0.95  Poisson arrivals at 85 % and 95 % of the total capacity (the
                              agents trained on these two loads, on other seeds);
  trace-350                   MARLLB's rate_350 trace (sim/traces), never seen in training: its
                              arrivals as recorded, its work per request scaled to 85 % of the
                              capacity (--ns-per-iteration) on average over the trace after its
                              first 10 s (one window's load varies, 83-87 % for 150 steps),
                              seed k replays the k-th window of the trace from 10 s on
                              (--trace-start), so the windows do not overlap.
Policies: sac-gru (one agent per LB, each acting greedily on its own LB's observation, through
the regions), agent-weights-1 (the same path with every weight 1: SED over weights that ignore
capacity, a control), and the heuristics (marllb-sim without agent or region, the same seed).

Writes one row per (policy, LBs, seed, workload) to --csv, appended as each workload is done,
a summary per (run, workload, policy) to --summary (mean and 95 % t interval over seeds of FCT
p50/p90/p99 and Jain's index over utilisation; for sac-gru the paired p90 difference to the
best heuristic and to SED, and whether the evaluation's aim is met), and a figure to --figure.
A grid that could not finish (too many trace windows, a --csv of other columns) or whose workloads a run trained
on (its seeds, its trace) is refused before the first episode.

    scripts/evaluate.sh --runs results/rl/train-marllb7-lbs1 results/rl/train-marllb7-lbs2 \\
        --csv results/rl/eval.csv --summary results/rl/eval_summary.csv --figure results/rl/eval.png
"""
import argparse
import csv
import datetime
import os
import signal
import sys

import numpy as np
import torch

import eval_figure  # rl/, this script's folder
import eval_stats
from eval_world import (HEURISTICS, METRICS, TRACE, TRACE_LOAD, TRACE_SKIP_S, WORKLOADS,  # noqa: F401 (rl/policy_weights.py, tests)
                        heuristic_row, trace_facts, trace_window_s, workload_env)
import marllb_env
import sac_gru
from marllb import result_rows

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

POLICIES = ("sac-gru", "agent-weights-1") + HEURISTICS
ROW_COLUMNS = ("date", "git_commit", "run", "trained_episodes", "trained_steps", "trained_sim_s", "trained_wall_s",
               "policy", "lbs", "servers", "workload", "trace_start_s", "lb_model", "seed", "sim_seed", "duration_s",
               *METRICS, "flows_completed", "actions_applied")
SED_MARGIN = 0.05  # one LB "matches" SED when its p90 FCT is surely below 1.05 x SED's (summarise)


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", default=[], help="training folders, each with a policies.pt")
    p.add_argument("--rows-from", default="", help="summarise the rows of this CSV (an earlier --csv) instead of running")
    p.add_argument("--seeds", type=int, default=7, help="workloads per cell (2..31)")
    p.add_argument("--steps", type=int, default=150, help="steps (200 ms each) per evaluation episode")
    p.add_argument("--first-seed", type=int, default=10_000, help="environment seeds start here (training used 1..)")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help=f"some of {','.join(WORKLOADS)}, or poisson-LOAD")
    p.add_argument("--csv", default="", help="append one row per (policy, LBs, seed, workload) here")
    p.add_argument("--summary", default="", help="write the summary rows here (replaced)")
    p.add_argument("--figure", default="", help="write the p90 FCT figure here (PNG)")
    a = p.parse_args()
    if a.first_seed < 0:
        p.error("--first-seed must be >= 0")
    if not 2 <= a.seeds <= 31:
        p.error("--seeds must be 2..31 (a t interval needs at least 2)")
    if a.steps < 10:
        p.error("--steps must be >= 10")
    a.workloads = a.workloads.split(",")
    def poisson_load(w):
        try:
            return w.startswith("poisson-") and 0.01 <= float(w[len("poisson-"):]) <= 2.0
        except ValueError:
            return False

    bad = [w for w in a.workloads if w not in WORKLOADS and not poisson_load(w)]
    if bad:
        p.error(f"--workloads: unknown {bad}; use some of {','.join(WORKLOADS)} or poisson-LOAD (LOAD in [0.01, 2])")
    if bool(a.runs) == bool(a.rows_from):
        p.error("give --runs (evaluate) or --rows-from (summarise rows written before), not both")
    if a.rows_from and a.csv:
        p.error("--csv: the rows of --rows-from are written already")
    for run in a.runs:
        if not os.path.isfile(os.path.join(run, "policies.pt")):
            p.error(f"--runs: {run} has no policies.pt (train first: scripts/train.sh --out {run} ...)")
    # Everything that can be known before the first episode is checked here: an evaluation runs
    # for many minutes, and a grid that cannot finish must not be found out at its end.
    real = [os.path.realpath(run) for run in a.runs]
    if len(set(real)) != len(real):
        p.error("--runs: a training folder is named twice; name each once")
    a.checkpoints = {}
    for run in a.runs:
        ck = torch.load(os.path.join(run, "policies.pt"))
        s, done = ck["settings"], ck["done"]
        trained_on = s.get("trace")
        if "trace-350" in a.workloads and trained_on and os.path.basename(trained_on) == os.path.basename(TRACE):
            p.error(f"--runs: {run} was trained on {trained_on}, so trace-350 is not unseen for it: "
                    f"drop trace-350 from --workloads or evaluate another run")
        events = s.get("events")
        if "trace-350" in a.workloads and events:
            if not os.path.isfile(events):
                p.error(f"--runs: {run} trained with the events file {events}, which is gone: put it back")
            with open(events) as f:
                if any(line.split("#")[0].split(",")[1:2] == ["rate"] for line in f):
                    p.error(f"--runs: {run}'s events ({events}) change the Poisson rate, which a trace replay has none of: "
                            f"drop trace-350 from --workloads")
        if "seed" in s:  # training episode e ran on environment seed s["seed"] + e
            first, last = s["seed"], s["seed"] + done["episodes"] - 1
            if a.first_seed <= last and first <= a.first_seed + a.seeds - 1:
                p.error(f"--first-seed {a.first_seed} with --seeds {a.seeds}: {run} trained on environment "
                        f"seeds {first}..{last}, so these workloads are not unseen; use --first-seed {last + 1} or more")
        s.setdefault("lbs", 1)
        if len(ck["policies"]) != s["lbs"]:
            p.error(f"--runs: {run}/policies.pt holds {len(ck['policies'])} policies for {s['lbs']} LBs")
        a.checkpoints[run] = ck
    if "trace-350" in a.workloads:
        _, last = trace_facts(TRACE)
        window = trace_window_s(a.steps)
        fits = int((last - TRACE_SKIP_S) // window)
        if fits < a.seeds:
            p.error(f"--seeds {a.seeds} --steps {a.steps}: the trace holds {fits} windows of {window:g} s after its "
                    f"first {TRACE_SKIP_S:g} s; use fewer --seeds or --steps, or drop trace-350 from --workloads")
    if a.csv:
        problem = result_rows.csv_target_problem(a.csv, ROW_COLUMNS, make_folder=True)
        if problem:
            p.error(f"--csv {a.csv}: {problem}")
    return a


class Greedy:
    """A trained agent's policy network, picking each server's most likely level."""

    def __init__(self, servers, hidden, state):
        self.net = sac_gru.Net(servers * (len(sac_gru.INPUT_COLUMNS) + 1), servers, hidden)
        self.net.load_state_dict(state)
        self.net.eval()

    def weights(self, window):
        with torch.no_grad():
            levels = self.net(torch.from_numpy(window)[None])[0].argmax(-1).numpy()
        return sac_gru.Agent.weights(levels)


def agent_row(env, agents, seed, given=None):
    """One episode on environment seed `seed`: each LB's agent acts on its own LB's observation;
    with agents None, every weight is 1 (the control). `given`, a list, receives each step's
    weights, (lbs, servers)."""
    obs, info = env.reset(seed=seed)
    lbs, servers = env.num_lbs, env.num_servers
    obs = obs.reshape(lbs, servers, -1)
    weights = np.ones((lbs, servers))
    windows = [sac_gru.Window(servers) for _ in range(lbs)]
    wins = [w.push(o, ws) for w, o, ws in zip(windows, obs, weights)]
    truncated = False
    while not truncated:
        if agents is not None:
            weights = np.stack([ag.weights(win) for ag, win in zip(agents, wins)])
        if given is not None:
            given.append(weights)
        obs, _, _, truncated, step_info = env.step(weights if lbs > 1 else weights[0])
        obs = obs.reshape(lbs, servers, -1)
        wins = [w.push(o, ws) for w, o, ws in zip(windows, obs, weights)]
    return info["sim_seed"], step_info["episode"]


def evaluate_run(run, a, date, commit):
    ck = a.checkpoints[run]
    s, done = ck["settings"], ck["done"]
    caps = marllb_env.parse_servers(s["servers"])
    agents = [Greedy(len(caps), s["hidden"], p) for p in ck["policies"]]
    rows = []
    for wl in a.workloads:
        for k in range(a.seeds):
            cell = len(rows)
            kw = workload_env(wl, k, s, a.steps)
            with marllb_env.LoadBalanceEnv(**kw) as env:
                sim_seed, mine = agent_row(env, agents, a.first_seed + k)
                same, control = agent_row(env, None, a.first_seed + k)
                assert same == sim_seed
                results = {"sac-gru": mine, "agent-weights-1": control,
                           **{h: heuristic_row(env, sim_seed, h) for h in HEURISTICS}}
            for policy, r in results.items():
                rows.append({"date": date, "git_commit": commit, "run": os.path.relpath(run, ROOT),
                             "trained_episodes": done["episodes"], "trained_steps": done["steps"],
                             "trained_sim_s": round(done["steps"] * 0.2, 1), "trained_wall_s": round(done["wall_s"], 1),
                             "policy": policy, "lbs": s["lbs"], "servers": s["servers"], "workload": wl,
                             "trace_start_s": kw.get("trace_start_s", ""), "lb_model": s["lb_model"],
                             "seed": a.first_seed + k, "sim_seed": r["seed"], "duration_s": r["duration_s"],
                             **{m: r[m] for m in METRICS}, "flows_completed": r["flows_completed"],
                             "actions_applied": r["actions_applied"]})
            if a.csv:  # as each workload is done: a later failure keeps what was measured
                result_rows.append_rows(a.csv, rows[cell:], ROW_COLUMNS)
            print(f"{os.path.basename(run)} {wl} seed {a.first_seed + k}: p90 ms " +
                  " ".join(f"{p} {results[p]['fct_p90_s'] * 1e3:.1f}" for p in POLICIES), flush=True)
    return rows


def read_rows(path):
    """The rows of an earlier --csv, with numbers as numbers."""
    with open(path) as f:
        rows = [{k: marllb_env._number_or_text(v) for k, v in r.items()} for r in csv.DictReader(f)]
    missing = {"servers", "lbs", "workload", "policy", "seed", *METRICS} - set(rows[0] if rows else ())
    if missing:
        sys.exit(f"evaluate: {path} has no rows of rl/evaluate.py (missing columns {sorted(missing)})")
    return rows


def summarise(rows):
    """Summary rows per (run, workload, policy); the sac-gru row carries the paired p90
    differences to the best heuristic and to SED, and the aim's verdict. Each run is its own
    cell: two runs with the same servers and LBs are two agents, and their heuristic rows are
    the same workloads twice, not more of them."""
    out = []
    cells = sorted({(r["run"], r["servers"], r["lbs"], r["workload"]) for r in rows}, key=str)
    for run, servers, lbs, wl in cells:
        cell = [r for r in rows if (r["run"], r["servers"], r["lbs"], r["workload"]) == (run, servers, lbs, wl)]
        by = {p: sorted((r for r in cell if r["policy"] == p), key=lambda r: r["seed"]) for p in POLICIES}
        seeds = [r["seed"] for r in by["sac-gru"]]
        if len(set(seeds)) != len(seeds) or any([r["seed"] for r in by[p]] != seeds for p in POLICIES):
            raise ValueError(f"{run}, {wl}: every policy needs one row per seed, the same seeds, to pair them; got "
                             + ", ".join(f"{p} {[r['seed'] for r in by[p]]}" for p in POLICIES))
        p90 = {p: np.array([r["fct_p90_s"] for r in by[p]], dtype=float) * 1e3 for p in POLICIES}
        best = min(HEURISTICS, key=lambda h: p90[h].mean())
        for p in POLICIES:
            row = {"run": run, "servers": servers, "lbs": lbs, "workload": wl, "policy": p, "seeds": len(by[p])}
            for m in METRICS:
                scale = 1e3 if m.startswith("fct") else 1
                mean, half = eval_stats.mean_ci([r[m] * scale for r in by[p]])
                name = m.replace("_s", "_ms") if m.startswith("fct") else m
                row[name], row[name + "_ci95"] = round(mean, 4), round(half, 4)
            if p == "sac-gru":
                d_best, h_best, worse_best = eval_stats.paired(p90[p], p90[best])
                d_sed, h_sed, worse_sed = eval_stats.paired(p90[p], p90["sed"])
                # One LB: "at least matches SED" is non-inferiority: the whole interval of the
                # difference below SED_MARGIN of SED's p90 (a tie on a wide interval is no match).
                margin = SED_MARGIN * p90["sed"].mean()
                if lbs > 1:
                    aim, met = "beat the best heuristic", eval_stats.verdict(d_best, h_best) == "better"
                else:
                    aim, met = f"match SED at least (within {SED_MARGIN:.0%})", eval_stats.within_margin(d_sed, h_sed, margin)
                row.update(best_heuristic=best, p90_minus_best_ms=round(d_best, 2), p90_minus_best_ci95=round(h_best, 2),
                           worse_than_best_on=worse_best, p90_minus_sed_ms=round(d_sed, 2),
                           p90_minus_sed_ci95=round(h_sed, 2), worse_than_sed_on=worse_sed, sed_margin_ms=round(margin, 2),
                           aim=aim, aim_met="yes" if met else "no")
            out.append(row)
    return out


def figure(summary, rows, path):
    """The figure of the summary, with the rows' provenance (rl/eval_figure.py draws it)."""
    import matplotlib.pyplot as plt
    fig = eval_figure.draw(summary, rows)
    if fig is not None:
        fig.savefig(path, dpi=eval_figure.figures.DPI)
        plt.close(fig)


def main():
    a = parse()
    # SIGTERM (scripts/rl_runs.sh stopping a queue) unwinds like Ctrl-C: the environments close,
    # so no simulator process or region is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    torch.set_num_threads(1)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    commit = result_rows.git_commit(__file__)
    rows = [r for run in a.runs for r in evaluate_run(run, a, date, commit)] if a.runs else read_rows(a.rows_from)
    summary = summarise(rows)
    print(f"\n{'run':24} {'servers':9} {'LBs':>3} {'workload':13} {'policy':16} {'p50 ms':>15} {'p90 ms':>17} "
          f"{'p99 ms':>17} {'jain':>6}")
    for r in summary:
        print(f"{os.path.basename(r['run']):24} {r['servers']:9} {r['lbs']:>3} {r['workload']:13} {r['policy']:16} "
              f"{r['fct_p50_ms']:8.1f} +- {r['fct_p50_ms_ci95']:4.1f} {r['fct_p90_ms']:9.1f} +- {r['fct_p90_ms_ci95']:5.1f} "
              f"{r['fct_p99_ms']:9.1f} +- {r['fct_p99_ms_ci95']:5.1f} {r['jain_util']:6.3f}")
        if r["policy"] == "sac-gru":
            print(f"{'':69}p90 minus best heuristic ({r['best_heuristic']}): {r['p90_minus_best_ms']:+.1f} +- "
                  f"{r['p90_minus_best_ci95']:.1f} ms, minus SED {r['p90_minus_sed_ms']:+.1f} +- "
                  f"{r['p90_minus_sed_ci95']:.1f} ms; aim ({r['aim']}): {r['aim_met']}")
    if a.csv:
        print(f"{len(rows)} rows appended to {a.csv}")
    if a.summary:
        os.makedirs(os.path.dirname(os.path.abspath(a.summary)), exist_ok=True)
        with open(a.summary, "w", newline="") as f:
            cols = list(dict.fromkeys(k for r in summary for k in r))
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(summary)
        print(f"summary: {a.summary}")
    if a.figure:
        figure(summary, rows, a.figure)
        print(f"figure: {a.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
