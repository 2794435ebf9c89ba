#!/usr/bin/env python3
"""A small numpy policy in marllb_env: a few short episodes of marllb-sim driven through the
shared-memory region, each action capacity-scaled inverse load. Prints one line per episode
and exits non-zero unless every step returned a finite reward and an observation of the
declared shape, and marllb-sim applied every action and rejected none (the CI smoke test,
ctest sim.env.smoke).

    PYTHONPATH=build/release/core/python /usr/bin/python3 core/python/examples/env_numpy_policy.py
(installed with scripts/setup.sh --venv .venv release: .venv/bin/python core/python/examples/env_numpy_policy.py)
"""
import argparse
import math
import sys
import time

import numpy as np

import marllb_env


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=2)
    p.add_argument("--steps", type=int, default=25, help="steps per episode (200 ms of simulated time each)")
    p.add_argument("--servers", default="marllb7")
    p.add_argument("--load", type=float, default=0.85)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--sim", help="the marllb-sim binary (default: $MARLLB_SIM, the build tree, PATH)")
    a = p.parse_args()

    problems = []
    with marllb_env.LoadBalanceEnv(episode_steps=a.steps, servers=a.servers, load=a.load, seed=a.seed, sim=a.sim,
                                   step_timeout_s=10) as env:
        caps = np.array(env.capacities)
        for episode in range(a.episodes):
            t0 = time.monotonic()
            obs, started = env.reset()
            rewards = []
            truncated = False
            while not truncated:
                weights = caps / (1.0 + obs[:, 0])
                obs, reward, terminated, truncated, info = env.step(weights)
                rewards.append(reward)
                if not env.observation_space.contains(obs) or obs.dtype != np.float32:
                    problems.append(f"episode {episode} step {len(rewards)}: observation outside {env.observation_space}")
                if not math.isfinite(reward) or terminated:
                    problems.append(f"episode {episode} step {len(rewards)}: reward {reward}, terminated {terminated}")
            row = info["episode"]
            if row["actions_applied"] != a.steps or row["actions_rejected"] != 0:
                problems.append(f"episode {episode}: {row['actions_applied']:.0f} actions applied of {a.steps}, "
                                f"{row['actions_rejected']:.0f} rejected")
            print(f"episode {episode}: sim seed {started['sim_seed']}, {len(rewards)} steps in "
                  f"{time.monotonic() - t0:.2f} s, return {sum(rewards):.4g} ({env.reward_type}), "
                  f"FCT p90 {row['fct_p90_s'] * 1e3:.1f} ms, Jain (utilisation) {row['jain_util']:.3f}", flush=True)
    for problem in problems:
        print(f"env_numpy_policy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
