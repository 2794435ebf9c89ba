#!/usr/bin/env python3
"""What weights a trained policy gives (docs/rl.md, "The evaluation"): plays one greedy
evaluation episode of each run on a workload and prints the mean weight the agents gave the
smallest and the largest servers, their ratio against the capacities' ratio (SED's weights are
the capacities: a policy that learned them gives the same ratio), and the share of steps at
exactly SED's levels (1 on the smallest servers, 2 on the largest).

    PYTHONPATH=build/release/core/python MARLLB_SIM=build/release/sim/apps/marllb-sim \\
        /usr/bin/python3 rl/policy_weights.py results/rl/train-marllb7-lbs1 ...
"""
import argparse
import os
import sys

import numpy as np
import torch

import evaluate  # rl/, this script's folder
import marllb_env


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="training folders, each with a policies.pt")
    p.add_argument("--workload", default="poisson-0.85", choices=evaluate.WORKLOADS)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seed", type=int, default=10_000, help="the environment seed (the evaluation's first)")
    a = p.parse_args()
    torch.set_num_threads(1)
    missing = [run for run in a.runs if not os.path.isfile(os.path.join(run, "policies.pt"))]
    if missing:
        p.error(f"no policies.pt in {', '.join(missing)} (train first: scripts/train.sh --out <folder> ...)")
    for run in a.runs:
        ck = torch.load(os.path.join(run, "policies.pt"))
        s = ck["settings"]
        caps = np.array(marllb_env.parse_servers(s["servers"]))
        agents = [evaluate.Greedy(len(caps), s["hidden"], state) for state in ck["policies"]]
        given = []
        with marllb_env.LoadBalanceEnv(**evaluate.workload_env(a.workload, 0, s, a.steps)) as env:
            evaluate.agent_row(env, agents, a.seed, given)
            lbs = env.num_lbs
        w = np.array(given)  # (steps, lbs, servers)
        small, large = caps == caps.min(), caps == caps.max()
        at_sed = np.all(w[:, :, small] == 1.0, axis=(1, 2)) & np.all(w[:, :, large] == 2.0, axis=(1, 2))
        print(f"{run}: {a.workload}, {lbs} LB(s), {a.steps} steps: mean weight smallest servers "
              f"{w[:, :, small].mean():.2f}, largest {w[:, :, large].mean():.2f}, ratio "
              f"{w[:, :, large].mean() / w[:, :, small].mean():.2f} (capacities {caps.max() / caps.min():g}); "
              f"steps at SED's levels {at_sed.mean():.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
