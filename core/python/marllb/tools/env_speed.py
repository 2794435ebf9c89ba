"""Speed of the RL loop: steps per second of marllb_env (lockstep, one publish interval per
step) with a small numpy policy, where the time of a step goes, and what a reset costs; one
environment, then a vector of --num-envs (default 2) stepped together, in one run.

    marllb-env-speed                       # 3 episodes of 200 steps each way (or python3 -m marllb.tools.env_speed)
    marllb-env-speed --lb-model clean --csv /tmp/env_speed.csv

Per step, from the environment's own clock reads (LoadBalanceEnv.timings) and the policy's:
  sim     the polls that wait for the simulator's next publish (under the marllb model the
          simulator runs the interval while the agent decides, so this is what is left once the
          agent is done)
  read    reading the observation from the region (read_observation_arrays)
  write   writing the action (write_action: checks, alias table, seqlock'd copy) and the heartbeat
  env     the environment's own Python (the action check, the observation array, the reward)
  batch   in the vector, its own Python (the rows checked together, the batched arrays, the
          infos) and the loop around step(): what no clock read claims
  policy  the policy (here inverse load, numpy); with one environment also the loop around step()
  reset   the resets (the running marllb-sim starts a new episode: its first interval included)
  end     the end of each episode (marllb-sim's result row)
Shares are of the loop's whole wall time, resets and ends included. The reset of a new process
per episode (reuse_sim=False: DPDK's EAL initialisation, the first interval) is timed apart,
and the first reset of each environment (which starts its process) is left out of reset_ms.
The simulator alone (the same run under SED, no agent; on one thread as the environment runs
it, and as a plain run on two lcores) gives its own rate: the floor that no agent can beat.

ceiling_vs_1_env estimates the most a setup's steps/s could be, as a multiple of one
environment's measured rate, from the simulator alone and the setup's own agent side
(vector_ceiling): every handoff free and the CPUs' time perfectly shared. For one environment
it says what its handoffs cost; for the vector, what the CPUs allow it to gain at all. An
estimate: the simulator alone runs after the timed episodes, and the host moves between them.

Appends one row per setup (1 environment; the vector) to --csv (default
results/runs/env_speed.csv, local; docs/rl.md's rows are results/rl/env_speed.csv) with the
date, commit, CPU, kernel and the load average around the run. --build and --csv default to
the checkout's (marllb.tools.checkout()).
"""
import argparse
import csv
import datetime
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time

from marllb import result_rows
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
    p.add_argument("--episodes", type=int, default=3, help="episodes timed (each way)")
    p.add_argument("--num-envs", type=int, default=2, help="environments in the vector")
    p.add_argument("--fresh-resets", type=int, default=3, help="resets timed with a new process each (reuse_sim=False)")
    p.add_argument("--steps", type=int, default=200, help="steps per episode")
    p.add_argument("--servers", default="marllb7", help="capacities or a preset (marllb7, marllb6, marllb24)")
    p.add_argument("--load", type=float, default=0.85, help="Poisson load, fraction of capacity")
    p.add_argument("--lb-model", choices=["marllb", "clean"], default="marllb")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--poll-yield-us", type=float, default=2000, help="how long the environment's wait for the "
                   "simulator gives the CPU away between polls of the published sequence (sched_yield) before it sleeps")
    p.add_argument("--poll-sleep-us", type=float, default=50, help="the environment's sleep between polls of the "
                   "published sequence after that (0: spin)")
    p.add_argument("--build", default=os.path.join(ROOT, "build", "release"), help="build tree with marllb-sim and the module")
    p.add_argument("--csv", default=os.path.join(ROOT, "results", "runs", "env_speed.csv"),
                   help="append the rows here ('' = none; default: the checkout's results/runs/, never committed)")
    a = p.parse_args()
    if a.episodes < 1 or a.steps < 1 or a.num_envs < 1 or a.fresh_resets < 1:
        p.error("--episodes, --steps, --num-envs and --fresh-resets must be >= 1")
    if not (0 <= a.poll_yield_us < float("inf") and 0 <= a.poll_sleep_us < float("inf")):
        p.error("--poll-yield-us and --poll-sleep-us must be finite and >= 0")
    if a.csv:  # before the run, not after it
        problem = result_rows.csv_target_problem(a.csv, ROW_COLUMNS, make_folder=True)
        if problem:
            p.error(f"--csv {a.csv}: {problem}")
    return a


def sim_alone(env, seed, one_thread):
    """Intervals per wall second of the same simulation with no agent (SED): one_thread, as the
    environment runs it (an episode served on --control-fd, the LB on the world's thread), else
    a plain run on two lcores (no region)."""
    with tempfile.TemporaryDirectory() as d:
        row_file = os.path.join(d, "row.csv")
        cmd = env.sim_command(seed, f"marllb_speed{os.getpid()}_", row_file)
        cmd = [c for c in cmd if c != "--exit-with-parent"]
        cmd[cmd.index("--policy") + 1] = "sed"
        if not one_thread:
            r = subprocess.run(cmd + ["--no-region"], capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"marllb-env-speed: marllb-sim alone failed: {r.stdout[-500:]} {r.stderr[-500:]}")
        else:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            cmd[1:1] = ["--control-fd", str(theirs.fileno())]
            with open(os.path.join(d, "log"), "w") as log:
                p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, pass_fds=(theirs.fileno(),))
            theirs.close()
            with ours, ours.makefile("rwb", buffering=0) as f:
                f.write(f"episode {seed}\n".encode())
                answers = [f.readline().strip(), f.readline().strip()]
            p.wait()
            if answers[0].split()[:1] != [b"started"] or answers[1] != b"done" or p.returncode != 0:
                with open(os.path.join(d, "log")) as log:
                    sys.exit(f"marllb-env-speed: marllb-sim alone failed ({answers}): {log.read()[-500:]}")
        with open(row_file) as f:
            row = list(csv.DictReader(f))[-1]
    return int(row["observations"]) / float(row["wall_s"])


PARTS = ("sim", "read", "write", "env", "batch", "policy", "reset", "end")
AGENT_PARTS = ("read", "write", "env", "batch", "policy")  # the agent's side of a step: one Python thread
ROW_COLUMNS = ("date", "git_commit", "cpu_model", "kernel", "nproc", "python", "servers", "load", "lb_model", "episodes",
               "steps_per_episode", "interval_ms", "poll_yield_us", "poll_sleep_us", "setup", "num_envs", "steps_per_s",
               "steps_per_s_with_resets", "speedup_vs_1_env", "ceiling_vs_1_env", "cpus", "sim_alone_intervals_per_s",
               "sim_alone_two_lcores_intervals_per_s", *(f"{k}_us_per_step" for k in PARTS),
               *(f"{k}_share" for k in PARTS), "reset_ms", "first_reset_ms", "fresh_process_reset_ms",
               "episode_end_ms", "load1_before", "load1_after")


def vector_ceiling(n, cpus, step_us, sim_us, agent_us):
    """The most a setup of n environments can gain over one measured environment on `cpus` CPUs:
    one environment's step takes step_us, a simulator sim_us of CPU per interval (the simulator
    alone), the setup's agent side (AGENT_PARTS, per step of one environment) agent_us. A step of
    the setup takes at least every environment's agent side (one Python thread), all the work
    spread over the CPUs, and one simulator's interval. Under the marllb model one environment
    already runs its simulator's next interval while the agent decides: a vector gains only what
    that leaves idle."""
    return n * step_us / max(n * agent_us, n * (sim_us + agent_us) / cpus, sim_us)


def timed_episodes(env, a, np):
    """Runs a.episodes episodes of a.steps steps (env: one environment or a vector); returns
    the wall time of the loop, the policy's and the resets', in ns."""
    policy_ns, reset_ns, t_all = 0, 0, time.perf_counter_ns()
    for _ in range(a.episodes):
        t0 = time.perf_counter_ns()
        obs, _ = env.reset()
        reset_ns += time.perf_counter_ns() - t0
        for _ in range(a.steps):
            t0 = time.perf_counter_ns()
            weights = 1.0 / (1.0 + obs[..., 0].astype(np.float64))  # the policy: inverse load
            policy_ns += time.perf_counter_ns() - t0
            obs, _, _, truncated, _ = env.step(weights)
        assert np.all(truncated)  # the loop ends with the episodes (the vector never autoresets here)
    return time.perf_counter_ns() - t_all, policy_ns, reset_ns


def breakdown(tm, wall_ns, policy_ns, reset_ns, num_envs):
    """Each part's ns over the loop, and the ns of its steps alone. What no clock read claimed
    is the loop around step(): the policy's with one environment, the vector's own batching
    (its checks, arrays and infos) with several."""
    parts = {"sim": tm["sim_ns"], "read": tm["read_ns"], "write": tm["write_ns"], "env": tm["env_ns"],
             "batch": 0, "policy": policy_ns, "reset": reset_ns, "end": tm["end_ns"]}
    parts["policy" if num_envs == 1 else "batch"] += wall_ns - sum(parts.values())
    return parts, wall_ns - parts["reset"] - parts["end"]


def main():
    a = parse()
    run_with_pythonpath([os.path.join(a.build, "core", "python")])  # the package of --build
    import numpy as np
    import marllb_env
    from marllb.vector_env import VectorLoadBalanceEnv

    kw = dict(episode_steps=a.steps, servers=a.servers, load=a.load, lb_model=a.lb_model,
              sim=os.path.join(a.build, "sim", "apps", "marllb-sim"), poll_yield_s=a.poll_yield_us * 1e-6,
              poll_sleep_s=a.poll_sleep_us * 1e-6)
    load_before = os.getloadavg()[0]
    results = {}
    for setup, n in (("1 env", 1), (f"vector of {a.num_envs}", a.num_envs)):
        env = marllb_env.LoadBalanceEnv(seed=a.seed, **kw) if n == 1 else VectorLoadBalanceEnv(n, seed=a.seed, **kw)
        try:
            env.reset()  # each process started (its first reset, timed apart)
            first_reset_ns = env.timings["start_ns"]
            first_resets = env.timings["resets"]
            wall_ns, policy_ns, reset_ns = timed_episodes(env, a, np)
            tm = env.timings
        finally:
            env.close()
        parts, steps_ns = breakdown(tm, wall_ns, policy_ns, reset_ns, n)
        results[setup] = dict(n=n, tm=tm, wall_ns=wall_ns, parts=parts, steps_ns=steps_ns,
                              first_reset_ms=first_reset_ns / first_resets / 1e6, reset_ms=reset_ns / a.episodes / 1e6)
    fresh = marllb_env.LoadBalanceEnv(seed=a.seed, reuse_sim=False, **kw)
    try:
        for _ in range(a.fresh_resets):
            fresh.reset()
    finally:
        fresh.close()
    fresh_reset_ms = fresh.timings["start_ns"] / fresh.timings["resets"] / 1e6
    alone = sim_alone(fresh, a.seed, one_thread=True)
    alone_two = sim_alone(fresh, a.seed, one_thread=False)
    load_after = os.getloadavg()[0]

    common = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": result_rows.git_commit(ROOT), "cpu_model": result_rows.cpu_model(), "kernel": platform.release(),
        "nproc": os.cpu_count(), "python": platform.python_version(), "servers": a.servers, "load": a.load,
        "lb_model": a.lb_model, "episodes": a.episodes, "steps_per_episode": a.steps, "interval_ms": fresh.interval_s * 1e3,
        "poll_yield_us": a.poll_yield_us, "poll_sleep_us": a.poll_sleep_us}
    single = results["1 env"]
    single_rate = single["tm"]["steps"] / (single["steps_ns"] / 1e9)
    cpus = len(os.sched_getaffinity(0))

    def agent_us(r):
        return sum(r["parts"][k] for k in AGENT_PARTS) / r["tm"]["steps"] / 1e3

    rows = []
    for setup, r in results.items():
        steps = r["tm"]["steps"]
        rate = steps / (r["steps_ns"] / 1e9)
        rows.append({**common, "setup": setup, "num_envs": r["n"],
                     "steps_per_s": f"{rate:.1f}",
                     "steps_per_s_with_resets": f"{steps / (r['wall_ns'] / 1e9):.1f}",
                     "speedup_vs_1_env": f"{rate / single_rate:.2f}",
                     "ceiling_vs_1_env": f"{vector_ceiling(r['n'], cpus, 1e6 / single_rate, 1e6 / alone, agent_us(r)):.2f}",
                     "cpus": cpus,
                     "sim_alone_intervals_per_s": f"{alone:.1f}",
                     "sim_alone_two_lcores_intervals_per_s": f"{alone_two:.1f}",
                     **{f"{k}_us_per_step": f"{r['parts'][k] / steps / 1e3:.2f}" for k in PARTS},
                     **{f"{k}_share": f"{r['parts'][k] / r['wall_ns']:.4f}" for k in PARTS},
                     "reset_ms": f"{r['reset_ms']:.2f}", "first_reset_ms": f"{r['first_reset_ms']:.1f}",
                     "fresh_process_reset_ms": f"{fresh_reset_ms:.1f}",
                     "episode_end_ms": f"{r['parts']['end'] / (a.episodes * r['n']) / 1e6:.2f}",
                     "load1_before": f"{load_before:.2f}", "load1_after": f"{load_after:.2f}"})
    print(f"# {common['date']} commit {common['git_commit']}, {common['cpu_model']} ({common['nproc']} CPUs), "
          f"load average {load_before:.2f} -> {load_after:.2f}")
    print(f"# {a.episodes} episodes x {a.steps} steps per environment, {a.servers} at load {a.load}, "
          f"lb_model {a.lb_model}, the wait yielding for {a.poll_yield_us:g} us, then polling every {a.poll_sleep_us:g} us")
    print(f"# the simulator alone: {alone:.1f} intervals/s on one thread as the environment runs it ({alone_two:.1f} "
          f"on two lcores); a reset with a new process: {fresh_reset_ms:.1f} ms")
    for row in rows:
        print(f"{row['setup']}: {row['steps_per_s']} steps/s ({row['speedup_vs_1_env']}x 1 env, at most "
              f"{row['ceiling_vs_1_env']}x on {cpus} CPUs; with resets "
              f"{row['steps_per_s_with_resets']}); reset {row['reset_ms']} ms (the process's first: "
              f"{row['first_reset_ms']} ms); episode end {row['episode_end_ms']} ms")
        print(f"  {'part':8} {'us/step':>9} {'share':>7}")
        for k in PARTS:
            print(f"  {k:8} {float(row[f'{k}_us_per_step']):9.2f} {float(row[f'{k}_share']):7.1%}")
    if a.csv:
        result_rows.append_rows(a.csv, rows, ROW_COLUMNS)
        print(f"{len(rows)} rows appended to {a.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
