#!/usr/bin/env python3
"""Trains the SAC agent of rl/sac_gru.py in marllb_env, one episode at a time. Run it through
scripts/train.sh, which installs PyTorch and sets the paths.

<out>/checkpoint.pt    the agents (networks, optimisers, temperature, replay, random states) and
                       the run's settings, replaced after every episode; a new run on the same
                       --out resumes from it (the settings must match)
<out>/policies.pt      the agents' policy networks and the settings only (what rl/evaluate.py
                       needs; about 0.2 MB per agent)
<out>/progress.csv     one row per episode: return, FCT p50/p90/p99, Jain's index, losses, and the
                       budget so far (steps, simulated seconds, wall-clock seconds)
<out>/curve.png        the learning curve: return and p90 FCT per episode

Episode e runs on environment seed --seed + e, at the e-th load of --load (taken in turn), so
a resumed run sees the episodes an uninterrupted one would; an interrupted episode is run again
from its start.

With --lbs N the simulator runs N LBs that each see only their own flows, and N agents learn
independently, as MARLLB's (one per LB, its own networks and replay; each acts on its own LB's
observation and learns from its own LB's reward, marllb_env's info["lb_rewards"]).
"""
import argparse
import csv
import os
import signal
import sys
import time

import numpy as np
import torch

import marllb_env
import sac_gru  # rl/, this script's folder

LATER_SETTINGS = ("warmup", "updates_per_step", "work", "provisioned", "events")  # recorded since they were added
DEFAULTS = {"warmup": 200, "updates_per_step": 1, "work": "exp", "provisioned": None, "events": None}
SETTINGS = ("steps", "servers", "load", "trace", "lb_model", "reward_type", "seed", "hidden", "batch", "buffer", "lbs",
            "warmup", "updates_per_step", "work", "provisioned", "events")


def parse():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder of the checkpoint, progress.csv and curve.png")
    p.add_argument("--episodes", type=int, default=20, help="train until this many episodes are done in total")
    p.add_argument("--steps", type=int, default=100, help="steps per episode (200 ms of simulated time each)")
    p.add_argument("--servers", default="marllb7")
    p.add_argument("--load", default="0.85", help="Poisson load, or loads taken in turn by episode ('0.85,0.95')")
    p.add_argument("--lbs", type=int, default=1, help="LBs, one independent agent each")
    p.add_argument("--trace", help="a MARLLB trace instead of Poisson arrivals")
    p.add_argument("--work", default=DEFAULTS["work"], help="work per flow: exp, lognormal:SIGMA, pareto:ALPHA[:SPAN] (docs/sim.md 'Dynamics')")
    p.add_argument("--provisioned", default=None, help="capacities the LB's heuristics believe (default: --servers)")
    p.add_argument("--events", default=None, help="a schedule of timed events applied in every episode (docs/sim.md 'Dynamics')")
    p.add_argument("--lb-model", choices=["marllb", "clean"], default="marllb")
    p.add_argument("--reward-type", default="var", help="MARLLB's reward types (marllb_reward.REWARD_TYPES)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--buffer", type=int, default=10000, help="replay capacity, transitions")
    p.add_argument("--warmup", type=int, default=DEFAULTS["warmup"], help="steps of uniformly random levels before learning")
    p.add_argument("--updates-per-step", type=int, default=DEFAULTS["updates_per_step"])
    p.add_argument("--quiet-file", help="pause before each episode while this file exists")
    a = p.parse_args()
    if a.episodes < 1 or a.steps < 1:
        p.error("--episodes and --steps must be >= 1")
    if not 1 <= a.lbs <= 8:
        p.error("--lbs must be 1..8 (an agent per LB trains at every step)")
    try:
        a.loads = [float(x) for x in a.load.split(",")]
    except ValueError:
        p.error(f"--load {a.load!r}: give a load like 0.85 or loads like 0.85,0.95")
    if not all(0.01 <= x <= 2.0 for x in a.loads):
        p.error(f"--load {a.load!r}: each load is a fraction of the capacity in [0.01, 2]")
    if a.events is not None:
        if not os.path.isfile(a.events):
            p.error(f"--events {a.events!r} does not exist")
        a.events = os.path.abspath(a.events)
    if a.warmup < 0 or a.updates_per_step < 1:
        p.error("--warmup must be >= 0 and --updates-per-step >= 1")
    return a


def wait_quiet(path):
    if path and os.path.exists(path):
        print(f"paused: {path} exists", flush=True)
        while os.path.exists(path):
            time.sleep(15)


def save(path, payload):
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)  # a crash mid-save leaves the previous checkpoint


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [int(r["episode"]) for r in rows]
    fig, ax = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax[0].plot(ep, [float(r["return"]) for r in rows], marker=".")
    ax[0].set_ylabel(f"return ({rows[-1]['reward_type']})")
    ax[1].plot(ep, [float(r["fct_p90_ms"]) for r in rows], marker=".", color="tab:red")
    ax[1].set_ylabel("FCT p90 (ms)")
    ax[1].set_xlabel("episode")
    last = rows[-1]
    fig.suptitle(f"SAC-GRU, {last['lbs']} LB(s), on {last['servers']} at load {last['load']}: {last['steps_total']} steps, "
                 f"{float(last['sim_s_total']):.0f} simulated s, {float(last['wall_s_total']):.0f} wall s", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def usage_error(message):
    """A user error: the message on stderr, exit 2 (as argparse's own errors)."""
    print(f"train: {message}", file=sys.stderr)
    sys.exit(2)


def main():
    a = parse()
    # SIGTERM (scripts/rl_runs.sh stopping a queue) unwinds like Ctrl-C: the environments close,
    # so no simulator process or region is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    torch.set_num_threads(1)  # the simulator's two lcores already fill a small machine
    ckpt_path = os.path.join(a.out, "checkpoint.pt")
    progress_path = os.path.join(a.out, "progress.csv")
    # A run's results without its checkpoint (a clone holds the results, checkpoint.pt is not
    # committed) cannot be resumed, and starting over would replace them.
    if not os.path.exists(ckpt_path):
        kept = [f for f in ("progress.csv", "policies.pt") if os.path.exists(os.path.join(a.out, f))]
        if kept:
            usage_error(f"{a.out} holds an earlier run's {' and '.join(kept)} but no checkpoint.pt to resume from, "
                        f"so training would start over and replace them; give another --out, or remove "
                        f"the folder to start this run over")
    try:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, ".write-test"), "w"):
            pass
        os.remove(os.path.join(a.out, ".write-test"))
    except OSError as e:
        usage_error(f"--out {a.out} is not a folder this user can write ({e.strerror}); give another")
    settings = {k: getattr(a, k) for k in SETTINGS}
    envs = [marllb_env.LoadBalanceEnv(episode_steps=a.steps, servers=a.servers, load=load, trace=a.trace,
                                      lb_model=a.lb_model, reward_type=a.reward_type, lbs=a.lbs, work=a.work,
                                      provisioned=a.provisioned, events=a.events) for load in a.loads]
    servers = envs[0].num_servers
    agents = [sac_gru.Agent(servers, hidden=a.hidden, batch=a.batch, buffer=a.buffer, seed=a.seed * 1000 + lb)
              for lb in range(a.lbs)]
    done = {"episodes": 0, "steps": 0, "wall_s": 0.0}
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        # A checkpoint written before a setting was recorded ran it at its default: accept the
        # default for it, nothing else.
        old = {**{k: DEFAULTS[k] for k in LATER_SETTINGS if k not in ck["settings"]}, **ck["settings"]}
        if old != settings:
            diff = {k: (old.get(k), v) for k, v in settings.items() if old.get(k) != v}
            usage_error(f"{ckpt_path} was made with other settings (checkpoint, now): {diff}; "
                        f"use another --out or the same settings")
        for agent, state in zip(agents, ck["agents"]):
            agent.load(state)
        done = ck["done"]
        print(f"resumed from {ckpt_path}: {done['episodes']} episodes, {done['steps']} steps done", flush=True)
    rows = []
    if os.path.exists(progress_path):
        with open(progress_path) as f:
            rows = [r for r in csv.DictReader(f) if int(r["episode"]) < done["episodes"]]  # drop unsaved episodes

    print(f"{'episode':>7} {'return':>10} {'p90_ms':>8} {'jain':>6} {'alpha':>7} {'loss_q':>8} {'entropy':>7} "
          f"{'steps':>7} {'wall_s':>7}", flush=True)
    try:
        while done["episodes"] < a.episodes:
            wait_quiet(a.quiet_file)
            e = done["episodes"]
            env = envs[e % len(envs)]
            t0 = time.monotonic()
            obs, _ = env.reset(seed=a.seed + e)
            obs = obs.reshape(a.lbs, servers, -1)  # one block per LB, also with one LB
            windows = [sac_gru.Window(servers) for _ in agents]
            weights = np.ones((a.lbs, servers))  # weight 1 everywhere before the first action
            wins = [w.push(o, ws) for w, o, ws in zip(windows, obs, weights)]
            rewards, losses = [], []
            for _ in range(a.steps):
                levels = [agent.rng.integers(0, len(sac_gru.LEVELS), servers) if done["steps"] < a.warmup
                          else agent.act(win) for agent, win in zip(agents, wins)]
                weights = np.stack([agent.weights(lv) for agent, lv in zip(agents, levels)])
                obs, _, _, truncated, info = env.step(weights if a.lbs > 1 else weights[0])
                obs = obs.reshape(a.lbs, servers, -1)
                for lb, agent in enumerate(agents):  # each agent: its own LB's view and reward
                    nxt = windows[lb].push(obs[lb], weights[lb])
                    agent.replay.add(wins[lb], levels[lb], info["lb_rewards"][lb], nxt)
                    wins[lb] = nxt
                rewards.append(np.mean(info["lb_rewards"]))
                done["steps"] += 1
                for agent in agents:
                    if done["steps"] >= a.warmup and agent.replay.size >= a.batch:
                        for _ in range(a.updates_per_step):
                            losses.append(agent.update())
            result = info["episode"]
            done["episodes"] += 1
            done["wall_s"] += time.monotonic() - t0
            lq, lp, ent = (np.mean([l[i] for l in losses]) if losses else float("nan") for i in range(3))
            row = {"episode": e, "env_seed": a.seed + e, "return": sum(rewards), "mean_reward": np.mean(rewards),
                   "fct_p50_ms": result["fct_p50_s"] * 1e3, "fct_p90_ms": result["fct_p90_s"] * 1e3,
                   "fct_p99_ms": result["fct_p99_s"] * 1e3, "jain_util": result["jain_util"],
                   "alpha": np.mean([ag.alpha for ag in agents]), "loss_q": lq, "loss_pi": lp, "entropy": ent,
                   "updates": sum(ag.updates for ag in agents),
                   "steps_total": done["steps"], "sim_s_total": done["steps"] * env.interval_s,
                   "wall_s_total": done["wall_s"], "servers": a.servers, "load": "trace" if a.trace else a.loads[e % len(a.loads)], "lbs": a.lbs,
                   "lb_model": a.lb_model, "reward_type": a.reward_type}
            save(ckpt_path, {"agents": [ag.state() for ag in agents], "done": done, "settings": settings})
            save(os.path.join(a.out, "policies.pt"),  # what rl/evaluate.py needs: small enough to commit
                 {"policies": [ag.policy.state_dict() for ag in agents], "done": done, "settings": settings})
            rows.append({k: str(v) for k, v in row.items()})
            with open(progress_path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(row))
                w.writeheader()
                w.writerows(rows)
            plot(rows, os.path.join(a.out, "curve.png"))
            print(f"{e:7d} {row['return']:10.4g} {row['fct_p90_ms']:8.1f} {row['jain_util']:6.3f} {row['alpha']:7.4f} "
                  f"{lq:8.4f} {ent:7.3f} {done['steps']:7d} {done['wall_s']:7.1f}", flush=True)
    finally:
        for env in envs:
            env.close()
    print(f"done: {done['episodes']} episodes, {done['steps']} steps, {done['steps'] * env.interval_s:.0f} simulated s, "
          f"{done['wall_s']:.0f} wall s; {progress_path}, {os.path.join(a.out, 'curve.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
