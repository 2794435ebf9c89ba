"""Speed of the RL loop: steps per second of marllb_env (lockstep, one publish interval per
step) with a small numpy policy, and where the time of a step goes.

    marllb-env-speed                       # 3 episodes of 200 steps (or python3 -m marllb.tools.env_speed)
    marllb-env-speed --lb-model clean --csv results/rl/env_speed.csv

Per step, from the environment's own clock reads (LoadBalanceEnv.timings) and the policy's:
  sim     waiting for the simulator's next publish (under the marllb model the simulator runs
          the interval while the agent decides, so this is what is left once the agent is done)
  read    reading the observation from the region (read_observation_arrays)
  write   writing the action (write_action: checks, alias table, seqlock'd copy) and the heartbeat
  env     the environment's own Python (the action check, the observation array, the reward)
  policy  the policy (here inverse load, numpy) and the loop around step()
Episode starts (a new marllb-sim: DPDK's EAL init, the first interval) and ends (the process
ending its run) are reported apart. The simulator alone (the same run under SED with no region,
no agent) gives its own rate: the floor that no agent can beat.

Appends one row to --csv (default results/rl/env_speed.csv) with the date, commit, CPU,
kernel and the load average around the run. --build and --csv default to the checkout's
(marllb.tools.checkout()).
"""
import argparse
import csv
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

from marllb.tools import checkout, version

ROOT = checkout()


def run_with_pythonpath(dirs):
    """Runs this script again with `dirs` first on PYTHONPATH (once): the marllb of the build
    being measured, whatever is installed."""
    want = os.pathsep.join(dirs)
    if os.environ.get("MARLLB_SCRIPT_PYTHONPATH") == want:
        return
    old = os.environ.get("PYTHONPATH")
    env = dict(os.environ, MARLLB_SCRIPT_PYTHONPATH=want, PYTHONPATH=want + (os.pathsep + old if old else ""))
    os.execve(sys.executable, [sys.executable, "-m", "marllb.tools.env_speed", *sys.argv[1:]], env)


def parse():
    p = argparse.ArgumentParser(prog="marllb-env-speed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=version("marllb-env-speed"))
    p.add_argument("--episodes", type=int, default=3, help="episodes timed")
    p.add_argument("--steps", type=int, default=200, help="steps per episode")
    p.add_argument("--servers", default="marllb7", help="capacities or a preset (marllb7, marllb6, marllb24)")
    p.add_argument("--load", type=float, default=0.85, help="Poisson load, fraction of capacity")
    p.add_argument("--lb-model", choices=["marllb", "clean"], default="marllb")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--poll-sleep-us", type=float, default=50, help="the environment's sleep between polls of the "
                   "published sequence while it waits (0: spin)")
    p.add_argument("--build", default=os.path.join(ROOT, "build", "release"), help="build tree with marllb-sim and the module")
    p.add_argument("--csv", default=os.path.join(ROOT, "results", "rl", "env_speed.csv"), help="append the row here ('' = none)")
    a = p.parse_args()
    if a.episodes < 1 or a.steps < 1:
        p.error("--episodes and --steps must be >= 1")
    return a


def sim_alone(env, seed):
    """Intervals per wall second of the same simulation with no agent (SED, no region)."""
    with tempfile.TemporaryDirectory() as d:
        row_file = os.path.join(d, "row.csv")
        cmd = env.sim_command(seed, "marllb_speed_unused_", row_file)
        cmd = [c for c in cmd if c != "--exit-with-parent"]
        policy = cmd.index("--policy")
        cmd[policy + 1] = "sed"
        cmd.append("--no-region")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"marllb-env-speed: marllb-sim alone failed: {r.stdout[-500:]} {r.stderr[-500:]}")
        with open(row_file) as f:
            row = list(csv.DictReader(f))[-1]
    return int(row["observations"]) / float(row["wall_s"])


def main():
    a = parse()
    run_with_pythonpath([os.path.join(a.build, "core", "python")])  # the package of --build
    import numpy as np
    import marllb_env
    from marllb import result_rows

    env = marllb_env.LoadBalanceEnv(episode_steps=a.steps, servers=a.servers, load=a.load, lb_model=a.lb_model,
                                    seed=a.seed, sim=os.path.join(a.build, "sim", "apps", "marllb-sim"),
                                    poll_sleep_s=a.poll_sleep_us * 1e-6)
    load_before = os.getloadavg()[0]
    policy_ns = 0
    loop_ns = 0
    p90 = []
    try:
        for _ in range(a.episodes):
            obs, _ = env.reset()
            t_loop = time.perf_counter_ns()
            for _ in range(a.steps):
                t0 = time.perf_counter_ns()
                weights = 1.0 / (1.0 + obs[:, 0].astype(np.float64))  # the policy: inverse load
                policy_ns += time.perf_counter_ns() - t0
                obs, _, _, truncated, info = env.step(weights)
            loop_ns += time.perf_counter_ns() - t_loop
            p90.append(info["episode"]["fct_p90_s"])
    finally:
        env.close()
    alone = sim_alone(env, a.seed)
    load_after = os.getloadavg()[0]

    tm = env.timings
    steps = tm["steps"]
    # The loop's time less what happened inside step() and the policy is the loop itself.
    parts = {"sim": tm["sim_ns"], "read": tm["read_ns"], "write": tm["write_ns"], "env": tm["env_ns"],
             "policy": policy_ns}
    in_steps = loop_ns - tm["end_ns"]  # the last step of each episode also waits for the process to end
    parts["policy"] += in_steps - sum(parts.values())
    per_step_us = {k: v / steps / 1e3 for k, v in parts.items()}
    steps_per_s = steps / (in_steps / 1e9)
    total_s = (loop_ns + tm["start_ns"]) / 1e9
    row = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": result_rows.git_commit(ROOT), "cpu_model": result_rows.cpu_model(), "kernel": platform.release(),
        "python": platform.python_version(), "servers": a.servers, "load": a.load, "lb_model": a.lb_model,
        "episodes": a.episodes, "steps_per_episode": a.steps, "interval_ms": env.interval_s * 1e3,
        "poll_sleep_us": a.poll_sleep_us,
        "steps_per_s": f"{steps_per_s:.1f}",
        "steps_per_s_with_resets": f"{steps / total_s:.1f}",
        "sim_alone_intervals_per_s": f"{alone:.1f}",
        "sim_seconds_per_wall_second": f"{steps_per_s * env.interval_s:.1f}",
        **{f"{k}_us_per_step": f"{v:.2f}" for k, v in per_step_us.items()},
        **{f"{k}_share": f"{v / in_steps:.4f}" for k, v in parts.items()},
        "reset_ms": f"{tm['start_ns'] / tm['resets'] / 1e6:.1f}",
        "episode_end_ms": f"{tm['end_ns'] / a.episodes / 1e6:.1f}",
        "fct_p90_s_mean": f"{sum(p90) / len(p90):.4f}",
        "load1_before": f"{load_before:.2f}", "load1_after": f"{load_after:.2f}",
    }
    print(f"# {row['date']} commit {row['git_commit']}, {row['cpu_model']}, load average {row['load1_before']} -> "
          f"{row['load1_after']}")
    print(f"# {a.episodes} episodes x {a.steps} steps, {a.servers} at load {a.load}, lb_model {a.lb_model}, "
          f"poll sleep {a.poll_sleep_us:g} us")
    print(f"steps/s {row['steps_per_s']} (with resets {row['steps_per_s_with_resets']}); the simulator alone "
          f"{row['sim_alone_intervals_per_s']} intervals/s; {row['sim_seconds_per_wall_second']} simulated s per s")
    print(f"{'part':8} {'us/step':>9} {'share':>7}")
    for k in parts:
        print(f"{k:8} {per_step_us[k]:9.2f} {parts[k] / in_steps:7.1%}")
    print(f"reset (new marllb-sim, first interval) {row['reset_ms']} ms; episode end {row['episode_end_ms']} ms")
    if a.csv:
        result_rows.append_rows(a.csv, [row])
        print(f"row appended to {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
