#!/usr/bin/env python3
"""A first evaluation of a trained agent (rl/train.py's checkpoint) against ECMP, WCMP, LSQ and
SED, on the same simulated workloads: one LB, the checkpoint's server set, load and LB model.
A control runs the agent's path (the environment, SED over the agent's weights) with every
weight 1: what the learned weights add over a capacity-blind SED.

For each seed, the environment draws a simulator seed; the agent plays one episode on it
(greedy levels), and marllb-sim runs the same seed, duration and world once per heuristic (no
agent, no region). One row per (policy, seed) goes to --csv; a summary per policy (mean and a
95 % t interval over seeds of FCT p50/p90/p99 and Jain's index over utilisation) is printed,
then the agent's p90 FCT minus each other policy's on the same workloads (paired).

    PYTHONPATH=build/release/core/python nice -n 19 /usr/bin/python3 rl/evaluate.py \\
        --checkpoint results/rl/train/checkpoint.pt --seeds 5 --csv results/rl/eval.csv
"""
import argparse
import csv
import datetime
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
import marllb_env  # noqa: E402
import sac_gru  # noqa: E402
import result_rows  # noqa: E402

HEURISTICS = ("ecmp", "wcmp", "lsq", "sed")
T95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}  # t(0.975, n-1)
METRICS = ("fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util")


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--seeds", type=int, default=5, help="workloads (2..10)")
    p.add_argument("--first-seed", type=int, default=10_000, help="evaluation seeds start here (training used --seed + e)")
    p.add_argument("--csv", default="", help="append one row per (policy, seed) here")
    a = p.parse_args()
    if not 2 <= a.seeds <= 10:
        p.error("--seeds must be 2..10")
    return a


def heuristic_row(env, sim_seed, policy):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "row.csv")
        cmd = [c for c in env.sim_command(sim_seed, "marllb_eval_unused_", out) if c != "--exit-with-parent"]
        cmd[cmd.index("--policy") + 1] = policy
        r = subprocess.run(cmd + ["--no-region"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"evaluate: marllb-sim --policy {policy} failed: {r.stdout[-400:]} {r.stderr[-400:]}")
        with open(out) as f:
            return {k: marllb_env._number_or_text(v) for k, v in list(csv.DictReader(f))[-1].items()}


def agent_row(env, agent, seed):
    """The agent's episode on the environment's seed `seed` (greedy levels), or, with agent
    None, the same path with every weight 1 (the control: SED over the agent path, blind to
    capacity)."""
    obs, info = env.reset(seed=seed)
    window = sac_gru.Window(env.num_servers)
    weights = sac_gru.Agent.weights(np.zeros(env.num_servers, np.int64))
    win = window.push(obs, weights)
    truncated = False
    while not truncated:
        if agent is not None:
            weights = agent.weights(agent.act(win, deterministic=True))
        obs, _, _, truncated, step_info = env.step(weights)
        win = window.push(obs, weights)
    return info["sim_seed"], step_info["episode"]


def main():
    a = parse()
    torch.set_num_threads(1)
    ck = torch.load(a.checkpoint)
    s = ck["settings"]
    env = marllb_env.LoadBalanceEnv(episode_steps=s["steps"], servers=s["servers"], load=s["load"], trace=s["trace"],
                                    lb_model=s["lb_model"], reward_type=s["reward_type"])
    agent = sac_gru.Agent(env.num_servers, hidden=s["hidden"], batch=s["batch"], buffer=s["buffer"])
    agent.load(ck["agent"])
    results = {p: [] for p in ("sac-gru", "agent-weights-1") + HEURISTICS}
    rows = []
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with env:
        for k in range(a.seeds):
            sim_seed, row = agent_row(env, agent, a.first_seed + k)
            same_seed, control = agent_row(env, None, a.first_seed + k)
            assert same_seed == sim_seed
            per_policy = {"sac-gru": row, "agent-weights-1": control,
                          **{h: heuristic_row(env, sim_seed, h) for h in HEURISTICS}}
            for policy, r in per_policy.items():
                results[policy].append(r)
                rows.append({"date": date, "checkpoint": a.checkpoint, "trained_episodes": ck["done"]["episodes"],
                             "trained_steps": ck["done"]["steps"], "policy": policy, "lbs": 1, "servers": s["servers"],
                             "load": s["load"], "lb_model": s["lb_model"], "seed": a.first_seed + k, "sim_seed": sim_seed,
                             "duration_s": r["duration_s"], **{m: r[m] for m in METRICS},
                             "flows_completed": r["flows_completed"]})
    print(f"{a.seeds} workloads of {s['steps'] * env.interval_s:g} simulated s, {s['servers']} at load {s['load']}, "
          f"one LB, lb_model {s['lb_model']}; agent trained {ck['done']['episodes']} episodes ({ck['done']['steps']} steps)")
    print(f"{'policy':16} " + " ".join(f"{m:>22}" for m in METRICS))
    for policy, rs in results.items():
        cells = []
        for m in METRICS:
            v = np.array([r[m] for r in rs], dtype=float) * (1e3 if m.startswith("fct") else 1)
            half = T95[len(v)] * v.std(ddof=1) / np.sqrt(len(v))
            cells.append(f"{v.mean():12.3f} +- {half:7.3f}")
        print(f"{policy:16} " + " ".join(f"{c:>22}" for c in cells))
    print("(FCT in ms; mean +- 95 % t interval over workloads)")
    mine = np.array([r["fct_p90_s"] for r in results["sac-gru"]]) * 1e3
    for policy, rs in results.items():
        if policy != "sac-gru":  # the same workloads: a paired difference
            d = mine - np.array([r["fct_p90_s"] for r in rs]) * 1e3
            print(f"p90 FCT, sac-gru minus {policy}: {d.mean():+.1f} +- {T95[len(d)] * d.std(ddof=1) / np.sqrt(len(d)):.1f} ms "
                  f"(worse on {int((d > 0).sum())} of {len(d)} workloads)")
    if a.csv:
        result_rows.append_rows(a.csv, rows)
        print(f"{len(rows)} rows appended to {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
