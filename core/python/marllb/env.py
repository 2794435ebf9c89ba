"""A Gymnasium-API environment over a real marllb-sim run: an RL agent sets the LB's weights
through the same shared-memory region and protocol a real LB uses.

    from marllb.env import LoadBalanceEnv
    env = LoadBalanceEnv(episode_steps=100, servers="marllb7", load=0.85, seed=1)
    obs, info = env.reset(seed=1)              # obs: float32 (servers, 11)
    obs, reward, terminated, truncated, info = env.step(weights)   # one weight per server
    env.close()                                # or `with LoadBalanceEnv(...) as env:`

With lbs=N (N > 1) the simulator runs N LBs, each seeing only its own flows (the world spreads
flows over them by a hash, as ECMP in front of MARLLB's LBs), each with its own region: the
observation is (N, servers, 11), one row block per LB, the action (N, servers), one weight
vector per LB's agent, and info["lb_rewards"] holds each LB's reward, the fairness of its own
observation, as MARLLB's independent agents each score their own (the returned reward is
their mean).

One marllb-sim process in --lockstep with the agent policy serves the environment's episodes,
on a region of its own (marllb_env<pid>_<n>_<random>_<lb> in /dev/shm): reset() asks it for a
new episode on a control socket beside the region (--control-fd; reuse_sim=False starts a new
process per episode instead, with the same results). Every step goes through that region: the
action is written into its action slot (weights and the alias table built from them, by
marllb.shm.AgentRegion.write_action), the simulator runs one publish interval of simulated
time, and the next observation is read from its observation ring. Nothing else passes between them.

Observation: one row per server, column 0 n_flow_on, columns 1-10 the reservoir features in
marllb.shm.FEATURE_NAMES order (OBS_COLUMNS). Reward: MARLLB's, marllb.reward.fairness of one
column (default duration_mean_decay) over the active servers (see marllb.reward).

Timing (MARLLB's LB model, the default): the LB reads the action slot right after it
publishes, so the answer to observation k is applied at the next publish and governs interval
k+1 -> k+2: the reward a step returns was earned under the previous step's action. With
lb_model="clean" the LB waits for the answer right after publishing and applies it at once.

The simulator process and the region are removed on close(), when the object is garbage
collected, at interpreter exit, and when a step or reset is interrupted (Ctrl-C); the process
also dies with the thread that started it (marllb-sim --exit-with-parent), so a killed Python
never leaves it polling.

Gymnasium's contract (core/python/env_tests/test_gym_contract.py checks it item by item, as
gymnasium.utils.env_checker.check_env does): reset(seed=) seeds np_random as gymnasium.Env does
and the episode's simulator seed is drawn from it; every action in action_space is one step()
takes (an all-zero row means equal weights); spec, render_mode (None: nothing is rendered) and
unwrapped exist. Registered with gymnasium as "marllb/LoadBalance-v0" when gymnasium is
importable; without it the base class is this module's Env and the spaces its Box (shape, dtype,
low, high, contains with gymnasium's rule, seed, sample).
"""
import csv
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
import weakref
from itertools import count

import numpy as np

from marllb import __version__, reward, shm  # noqa: F401

try:
    import gymnasium
except ImportError:
    gymnasium = None
try:  # where the build this package came from puts marllb-sim (not in a source checkout)
    from marllb._paths import HOW_TO_BUILD_SIM as _HOW_TO_BUILD_SIM, SIM_CANDIDATES as _SIM_CANDIDATES
except ImportError:
    _HOW_TO_BUILD_SIM, _SIM_CANDIDATES = "", ()

SERVER_PRESETS = {
    "marllb7": (1, 1, 1, 1, 2, 2, 2),
    "marllb6": (2, 2, 2, 4, 4, 4),
    "marllb24": (2,) * 12 + (4,) * 12,
}
OBS_COLUMNS = ("n_flow_on",) + tuple(shm.FEATURE_NAMES)
REWARD_FEATURE = "duration_mean_decay"  # MARLLB's flow_duration_avg_decay (env.py:203)
LB_POLICIES = {"sed": "agent-sed", "alias": "agent-alias"}
# Waits that no agent should ever reach: a slow learner must never change the run (the LB's
# fallback or a lockstep timeout would). A driver that dies takes the process with it instead.
_FOREVER_MS = "86400000"
_F32_MAX = float(np.finfo(np.float32).max)  # the largest weight the region's float32 holds
_episode_numbers = count()


def _seeded_rng(seed=None):
    """(Generator, seed) as gymnasium.utils.seeding.np_random makes them: PCG64 over a SeedSequence
    of `seed` (fresh entropy when None), after the same check of the seed."""
    if seed is not None and not (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0):
        raise ValueError(f"seed must be an int >= 0 or None, got {seed!r}")
    seq = np.random.SeedSequence(None if seed is None else int(seed))
    return np.random.Generator(np.random.PCG64(seq)), seq.entropy


class Box:
    """A box of shape `shape` and dtype `dtype`: what gymnasium.spaces.Box describes, for use
    without gymnasium, with its membership rule (contains: a dtype that casts safely, the shape,
    the bounds), its seed() and its sample()."""

    def __init__(self, low, high, shape, dtype=np.float32, seed=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.low = np.full(self.shape, low, dtype=self.dtype)
        self.high = np.full(self.shape, high, dtype=self.dtype)
        self._np_random = None
        if seed is not None:
            self.seed(seed)

    @property
    def np_random(self):
        if self._np_random is None:
            self.seed()
        return self._np_random

    def seed(self, seed=None):
        """Seeds sample() as gymnasium's Space.seed does; returns the seed used."""
        self._np_random, used = _seeded_rng(seed)
        return used

    def contains(self, x):
        if not isinstance(x, np.ndarray):
            try:
                with np.errstate(over="ignore"):  # a value beyond the dtype becomes inf: outside
                    x = np.asarray(x, dtype=self.dtype)
            except (ValueError, TypeError, OverflowError):
                return False
        return bool(np.can_cast(x.dtype, self.dtype) and x.shape == self.shape
                    and np.all(x >= self.low) and np.all(x <= self.high))

    def __contains__(self, x):
        return self.contains(x)

    def sample(self, rng=None):
        """Uniform where both bounds are finite, low + Exp(1) where only low is (as gymnasium);
        from this space's np_random unless `rng` is given."""
        rng = rng if rng is not None else self.np_random
        finite = np.isfinite(self.high)
        return np.where(finite, rng.uniform(self.low, np.where(finite, self.high, self.low)),
                        self.low + rng.exponential(size=self.shape)).astype(self.dtype)

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"


class Env:
    """What gymnasium.Env gives an environment, for use without gymnasium: metadata,
    render_mode, spec, np_random (seeded by reset(seed=...)), unwrapped, render, close and the
    context manager."""

    metadata = {"render_modes": []}
    render_mode = None
    spec = None
    _np_random = None
    _np_random_seed = None

    def reset(self, *, seed=None, options=None):
        del options
        if seed is not None:
            self._np_random, self._np_random_seed = _seeded_rng(seed)

    @property
    def np_random(self):
        if self._np_random is None:
            self._np_random, self._np_random_seed = _seeded_rng()
        return self._np_random

    @np_random.setter
    def np_random(self, value):
        self._np_random, self._np_random_seed = value, -1

    @property
    def np_random_seed(self):
        if self._np_random_seed is None:
            self._np_random, self._np_random_seed = _seeded_rng()
        return self._np_random_seed

    @property
    def unwrapped(self):
        return self

    def render(self):
        return None

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __str__(self):
        return f"<{type(self).__name__} instance>"


def _box(low, high, shape):
    if gymnasium is not None:
        return gymnasium.spaces.Box(low=low, high=high, shape=shape, dtype=np.float32)
    return Box(low, high, shape)


def parse_servers(servers):
    """Capacities in cores from a preset name, a comma-separated string or a sequence of numbers."""
    if isinstance(servers, str):
        if servers in SERVER_PRESETS:
            return tuple(float(c) for c in SERVER_PRESETS[servers])
        parts = servers.split(",")
    else:
        parts = list(servers)
    try:
        caps = tuple(float(c) for c in parts)
    except (TypeError, ValueError):
        raise ValueError(f"servers {servers!r}: give capacities in cores like '1,1,2' or [1, 1, 2], "
                         f"or a preset ({', '.join(SERVER_PRESETS)})") from None
    if not 1 <= len(caps) <= shm.MAX_SERVERS or not all(np.isfinite(c) and c > 0 for c in caps):
        raise ValueError(f"servers {servers!r}: 1..{shm.MAX_SERVERS} capacities, each finite and > 0")
    return caps


def find_sim(sim=None):
    """The marllb-sim binary: `sim`, else $MARLLB_SIM, else where the build this package came
    from puts it (marllb/_paths.py, written by CMake or by pip's build of the checkout), else
    marllb-sim on PATH (an installed tree). FileNotFoundError says where it looked and what to do."""
    if sim:
        if not (os.path.isfile(sim) and os.access(sim, os.X_OK)):
            raise FileNotFoundError(f"marllb-sim: {sim!r} is not an executable file")
        return os.path.abspath(sim)
    env_sim = os.environ.get("MARLLB_SIM")
    if env_sim and not (os.path.isfile(env_sim) and os.access(env_sim, os.X_OK)):
        raise FileNotFoundError(f"MARLLB_SIM={env_sim!r} is not an executable file: unset it, or point it at marllb-sim")
    for path in (env_sim, *_SIM_CANDIDATES, shutil.which("marllb-sim")):
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    looked = ", ".join([*_SIM_CANDIDATES, "PATH"])
    build = f"build it ({_HOW_TO_BUILD_SIM}), " if _HOW_TO_BUILD_SIM else ""
    raise FileNotFoundError(f"marllb-sim not found (looked in {looked}): {build}"
                            "pass sim='/path/to/marllb-sim', or set MARLLB_SIM")


def _number_or_text(v):
    """A CSV cell as an int (exactly: seeds reach 2^62), else a float, else the text."""
    for kind in (int, float):
        try:
            return kind(v)
        except (TypeError, ValueError):
            pass
    return v


class SimError(RuntimeError):
    """The simulator process failed, stopped early or broke the lockstep protocol."""


class _Episode:
    """One marllb-sim process and the agent side of its regions (and, when it serves episodes,
    its control socket). Holds no reference to the environment, so the environment's finalizer
    can own it (see LoadBalanceEnv.__init__)."""

    def __init__(self):
        self.proc = None
        self.regions = []  # one per LB, in LB order
        self.names = []    # the regions' names, kept until they are removed
        self.dir = None
        self.control = None  # our end of the socketpair marllb-sim reads commands from (--control-fd)
        self._buf = b""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and bool(self.regions)

    def send(self, line):
        self.control.sendall(line.encode() + b"\n")

    def reply(self, timeout_s, check_alive):
        """The next line marllb-sim wrote on the control socket (SimError if it ends or none
        comes within timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buf:
            ready, _, _ = select.select([self.control], [], [], 0.05)
            if ready:
                chunk = self.control.recv(4096)
                if not chunk:
                    check_alive("closing its control socket")
                    raise SimError(f"marllb-sim closed its control socket: {self.log_tail()}")
                self._buf += chunk
            else:
                check_alive("while the environment waited for its answer")
                if time.monotonic() > deadline:
                    raise SimError(f"marllb-sim did not answer on its control socket within {timeout_s:g} s")
        line, _, self._buf = self._buf.partition(b"\n")
        return line.decode()

    def stop(self):
        """Closes the region and the control socket, kills the process by its pid and removes the
        region and the files. Safe to call twice and from a finalizer."""
        for region in self.regions:
            region.close()
        self.regions = []
        if self.control is not None:
            self.control.close()  # marllb-sim idle between episodes exits on its own when it sees this
            self.control = None
            self._buf = b""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=2)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        for name in self.names:  # marllb-sim removes them on a normal exit, not when killed
            try:
                os.unlink(f"/dev/shm/{name}")
            except FileNotFoundError:
                pass
        self.names = []
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log_tail(self, lines=15):
        try:
            with open(os.path.join(self.dir, "sim.log")) as f:
                return "".join(f.readlines()[-lines:]).strip()
        except (OSError, TypeError):
            return ""


class LoadBalanceEnv(gymnasium.Env if gymnasium is not None else Env):
    """MARLLB's load-balancing task on a marllb-sim run (module docstring: what a step does).

    episode_steps: steps per episode (the episode lasts episode_steps + 1 publish intervals of
        simulated time; reset returns the first observation).
    servers: capacities in cores: 'marllb7', 'marllb6', 'marllb24', '1,1,2' or [1, 1, 2].
    lbs: LBs in front of the servers (1..64), one agent each (module docstring).
    load: Poisson load as a fraction of the total capacity; trace: a MARLLB trace file to replay
        instead (sim/traces/*.csv), time_scale its replay speed.
    seed: seeds the episodes' simulator seeds (reset(seed=...) re-seeds).
    interval_ms: simulated time per step (the LB's publish interval).
    reward_type: one of reward.REWARD_TYPES; reward_feature: the OBS_COLUMNS column scored.
    lb_model: 'marllb' (MARLLB's plugin, the action applies one interval late) or 'clean'.
    lb_policy: 'sed' (the weights drive SED, as MARLLB's agents) or 'alias' (weighted random).
    work: the work per flow around its mean (Poisson): 'exp', 'lognormal:SIGMA' or
        'pareto:ALPHA[:SPAN]' (heavy-tailed; marllb-sim --work).
    provisioned: the capacities the LB's heuristics and static fallback believe, one per server
        (default: servers, the true ones; marllb-sim --provisioned).
    events: a schedule file of timed events applied in every episode from its start (capacity,
        rate, drain, restore; marllb-sim --events, docs/sim.md 'Dynamics').
    sim: the marllb-sim binary (find_sim); sim_args: more marllb-sim options.
    poll_yield_s, poll_sleep_s: how a step waits for the simulator's observation: it polls the
        published sequence (one load), giving its CPU away between polls (os.sched_yield) for the
        first poll_yield_s, then sleeping poll_sleep_s between polls (docs/rl.md, "Speed of the loop").
    reuse_sim: True (default): one marllb-sim serves every episode (reset() asks it for a new
        one, about a millisecond); False: every reset() starts a new process (about 190 ms).
        Both give the same observations, rewards and results for the same seed and actions.
    """

    metadata = {"render_modes": []}

    def __init__(self, episode_steps=100, servers="marllb7", load=0.85, trace=None, time_scale=1.0, seed=None,
                 lbs=1, trace_start_s=0.0, interval_ms=200.0, reward_type="var", reward_feature=REWARD_FEATURE, lb_model="marllb",
                 lb_policy="sed", sim=None, sim_args=(), start_timeout_s=30.0, step_timeout_s=60.0,
                 poll_sleep_s=50e-6, render_mode=None, reuse_sim=True, work="exp", provisioned=None, events=None,
                 poll_yield_s=2e-3):
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r}: this environment renders nothing (metadata['render_modes'] "
                             f"is empty); leave render_mode None")
        self.render_mode = None
        if int(episode_steps) != episode_steps or episode_steps < 1:
            raise ValueError(f"episode_steps must be a whole number >= 1, got {episode_steps!r}")
        if not 0.01 <= float(load) <= 2.0:
            raise ValueError(f"load must be in [0.01, 2] (a fraction of the total capacity), got {load!r}")
        if int(lbs) != lbs or not 1 <= lbs <= 64:
            raise ValueError(f"lbs must be a whole number in [1, 64] (LBs, one agent each), got {lbs!r}")
        if not (float(trace_start_s) >= 0 and np.isfinite(float(trace_start_s))):
            raise ValueError(f"trace_start_s must be a finite number >= 0 (seconds into the trace), got {trace_start_s!r}")
        if float(trace_start_s) > 0 and trace is None:
            raise ValueError(f"trace_start_s={trace_start_s!r} needs a trace: give trace= too (Poisson arrivals have no start)")
        if trace is not None and not os.path.isfile(trace):
            raise FileNotFoundError(f"trace {trace!r} does not exist (the MARLLB traces are in sim/traces/)")
        if not 0.1 <= float(interval_ms) <= 10_000:
            raise ValueError(f"interval_ms must be in [0.1, 10000], got {interval_ms!r}")
        reward.check_type(reward_type)
        if reward_feature not in OBS_COLUMNS:
            raise ValueError(f"reward_feature {reward_feature!r}: use one of {', '.join(OBS_COLUMNS)}")
        if lb_model not in ("marllb", "clean"):
            raise ValueError(f"lb_model {lb_model!r}: use 'marllb' or 'clean'")
        if lb_policy not in LB_POLICIES:
            raise ValueError(f"lb_policy {lb_policy!r}: use one of {', '.join(LB_POLICIES)}")
        self.capacities = parse_servers(servers)
        self.num_servers = len(self.capacities)
        dynamics = [] if work == "exp" else ["--work", str(work)]
        if provisioned is not None:
            believed = parse_servers(provisioned)
            if len(believed) != self.num_servers:
                raise ValueError(f"provisioned gives {len(believed)} capacities for {self.num_servers} servers: give one per server")
            dynamics += ["--provisioned", ",".join(repr(float(c)) for c in believed)]
        if events is not None:
            if not os.path.isfile(events):
                raise FileNotFoundError(f"events {events!r} does not exist (a CSV time_s,event,server,value: docs/sim.md 'Dynamics')")
            dynamics += ["--events", os.path.abspath(events)]
        self.num_lbs = int(lbs)
        # (servers, ...) with one LB, as a single-agent environment; (lbs, servers, ...) with several
        self._lb_shape = () if self.num_lbs == 1 else (self.num_lbs,)
        self.episode_steps = int(episode_steps)
        self.interval_s = float(interval_ms) / 1e3
        self.reward_type = reward_type
        self.reward_column = OBS_COLUMNS.index(reward_feature)
        self.sim = find_sim(sim)
        # Finite bounds (float32's largest): every observation is finite, and gymnasium's checker
        # warns of an infinite bound.
        self.observation_space = _box(0.0, float(np.finfo(np.float32).max),
                                      self._lb_shape + (self.num_servers, len(OBS_COLUMNS)))
        # Every action in the space is one step() takes: finite weights >= 0 within float32, the
        # all-zero one included (equal weights, check_action).
        self.action_space = _box(0.0, float(np.finfo(np.float32).max), self._lb_shape + (self.num_servers,))
        self._traffic = (["--trace", os.path.abspath(trace), "--time-scale", repr(float(time_scale)),
                          "--trace-start", repr(float(trace_start_s))] if trace
                         else ["--load", repr(float(load))])
        self.lb_model = lb_model
        self._sim_args = ["--lb-model", lb_model, "--policy", LB_POLICIES[lb_policy], *dynamics, *map(str, sim_args)]
        self._start_timeout_s = float(start_timeout_s)
        self._step_timeout_s = float(step_timeout_s)
        if not (0 <= float(poll_yield_s) < float("inf") and 0 <= float(poll_sleep_s) < float("inf")):
            raise ValueError(f"poll_yield_s and poll_sleep_s must be finite and >= 0 (seconds), got {poll_yield_s!r} and {poll_sleep_s!r}")
        self._poll_yield_s = float(poll_yield_s)
        self._poll_sleep_s = float(poll_sleep_s)
        self.reuse_sim = bool(reuse_sim)
        # The episodes' simulator seeds come from np_random, seeded here and by reset(seed=...)
        # as gymnasium.Env seeds it (the same generator for the same seed either way).
        self._np_random, self._np_random_seed = _seeded_rng(seed) if seed is not None else (None, None)
        self._episode = _Episode()
        # Stops the episode when this object is collected and at interpreter exit (close() and
        # reset() stop it directly; stopping twice is harmless).
        self._finalizer = weakref.finalize(self, self._episode.stop)
        self._seq = 0          # the observation the next action answers (the same for every LB)
        self._seq_base = 0     # the region's sequence id before this episode's first observation
        self._weights = None   # the last action written, (lbs, servers)
        self._last_read_ns = 0
        self._last_wait_ns = 0
        self._steps = 0        # steps taken in this episode
        self._done = True      # no episode running: reset() first
        # Where the time of steps and resets went, in ns (the environment's own clock reads):
        # write_ns the action write, sim_ns waiting for the simulator's next publish (the polls
        # alone), read_ns reading it, env_ns this class's own Python (checks, the observation
        # array, the reward), start_ns resets (process start and the first observation), end_ns
        # the wait for the process to end its run after an episode's last step; steps and
        # resets count them.
        self.timings = dict.fromkeys(("write_ns", "sim_ns", "read_ns", "env_ns", "start_ns", "end_ns",
                                      "steps", "resets"), 0)

    # ---- the Gymnasium API

    def reset(self, *, seed=None, options=None):
        """Starts a new episode and returns (observation, info): the running marllb-sim starts
        it (reuse_sim), or a new process does. The same seed gives the same observations,
        rewards and results for the same actions, either way."""
        self._reset_begin(seed=seed, options=options)
        return self._reset_end()

    def _reset_begin(self, seed=None, options=None):
        """reset()'s first half: the episode asked for (a command, or a new process). The second
        half, _reset_end, waits for its first observation: a vector of environments starts
        every simulator's episode before it waits for any."""
        super().reset(seed=seed, options=options)
        sim_seed = int(self.np_random.integers(1, 2**62))
        self._reset_t0 = time.perf_counter_ns()
        self._done = True
        ep = self._episode
        try:
            if not (self.reuse_sim and ep.alive()):
                ep.stop()
                self._start(sim_seed)
            if self.reuse_sim:
                try:
                    os.unlink(os.path.join(ep.dir, "episode.csv"))  # the row of the episode before
                except FileNotFoundError:
                    pass
                ep.send(f"episode {sim_seed}")
        except BaseException:  # Ctrl-C included: never leave the process behind
            ep.stop()
            raise
        self._sim_seed = sim_seed

    def _reset_end(self):
        ep = self._episode
        try:
            after = 0
            if self.reuse_sim:
                answer = ep.reply(self._start_timeout_s, self._check_alive).split()
                first = {int(s) for s in answer[1:] if s.isdigit()}
                if (answer[:1] != ["started"] or len(answer) != 1 + self.num_lbs or len(first) != 1
                        or not all(s.isdigit() for s in answer[1:])):
                    raise SimError(f"marllb-sim answered {' '.join(answer)!r} to a new episode, not 'started' "
                                   f"and the first sequence id of each of its {self.num_lbs} LB(s), all equal")
                after = first.pop() - 1
            obs, raw = self._next_observation(after, self._start_timeout_s)
        except BaseException:
            ep.stop()
            raise
        # info's sequence_id counts this episode's observations from 1, as a new process's region
        # numbers them (the region's own ids go on across episodes), so infos repeat with the seed.
        self._seq_base = after
        self._steps = 0
        self._done = False
        self.timings["start_ns"] += time.perf_counter_ns() - self._reset_t0
        self.timings["resets"] += 1
        return obs, {"sequence_id": raw[0]["sequence_id"] - after, "sim_seed": self._sim_seed, "region": ep.names[0],
                     "regions": list(ep.names), "sim_pid": ep.proc.pid}

    def step(self, action):
        """Writes `action` (one weight per server: finite, >= 0, within float32, all 0 meaning equal
        weights; with several LBs one such row per LB) for the last observation, lets the simulator run one interval, and
        returns (observation, reward, terminated, truncated, info). A bad action raises
        ValueError before anything is written, to any LB. truncated is True at the episode's
        last step; terminated is always False."""
        try:
            self._step_begin(action)
            return self._step_end()
        except (KeyboardInterrupt, SystemExit):
            # Each half closes on an interrupt within it; one that lands between them (at the
            # entry of either, before its own handler) lands here. A second close() does nothing.
            self.close()
            raise

    def _step_begin(self, action, checked=None):
        """step()'s first half: the action checked and written (checked: check_action(action)
        already done, as a vector does for every row before it writes any). The second half,
        _step_end, waits for the simulator's next observation: a vector of environments writes
        every action before it waits for any, so the simulators run their intervals at once."""
        if self._done:
            raise RuntimeError("no episode running: call reset() first (after the last step too)")
        weights = None
        try:
            t0 = time.perf_counter_ns()
            weights = self.check_action(action) if checked is None else checked
            t1 = time.perf_counter_ns()
            for region, w in zip(self._episode.regions, weights):
                region.write_action(self._seq, w)
                region.heartbeat()
            self._weights = weights
            t2 = time.perf_counter_ns()
            self._step_t = (t0, t1, t2)
        except BaseException as e:
            # A bad action (the check's TypeError or ValueError, nothing written) leaves the episode
            # as it was; Ctrl-C anywhere in the step, or a failed write, ends it: it cannot go on.
            if weights is not None or not isinstance(e, Exception):
                self.close()
            raise

    def _step_end(self):
        t0, t1, t2 = self._step_t
        try:
            t_wait = time.perf_counter_ns()  # t2 in one environment; in a vector, after the others' writes
            obs, raw = self._next_observation(self._seq, self._step_timeout_s)
            t3 = time.perf_counter_ns()
            self._steps += 1
            per_lb = obs.reshape(self.num_lbs, self.num_servers, len(OBS_COLUMNS))
            lb_rewards = [self.reward(o, r["active"]) for o, r in zip(per_lb, raw)]
            reward = lb_rewards[0] if self.num_lbs == 1 else float(np.mean(lb_rewards))
            truncated = self._steps >= self.episode_steps
            info = {"sequence_id": raw[0]["sequence_id"] - self._seq_base, "step": self._steps, "lb_rewards": lb_rewards,
                    "reward_fields": obs[raw[0]["active"], self.reward_column].tolist() if self.num_lbs == 1
                    else [o[r["active"], self.reward_column].tolist() for o, r in zip(per_lb, raw)]}
            t4 = time.perf_counter_ns()
            if truncated:
                self._done = True
                info["episode"] = self._finish()
            tm = self.timings
            tm["write_ns"] += t2 - t1
            tm["read_ns"] += self._last_read_ns
            tm["sim_ns"] += self._last_wait_ns
            tm["env_ns"] += (t1 - t0) + (t3 - t_wait - self._last_wait_ns - self._last_read_ns) + (t4 - t3)
            tm["end_ns"] += time.perf_counter_ns() - t4
            tm["steps"] += 1
        except BaseException:  # Ctrl-C in the middle of a step: the episode cannot go on
            self.close()
            raise
        return obs, reward, False, truncated, info

    def close(self):
        """Stops the simulator (by its pid) and removes the region; the object can reset() again."""
        self._done = True
        self._episode.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the pieces, public for tests and tools

    def check_action(self, action):
        """The action as float64 weights, shape (lbs, servers) (one row with one LB), or
        ValueError (TypeError for non-numbers) saying what is wrong. An LB's all-zero row means
        no preference and becomes equal weights: every point of action_space is a valid action."""
        a = np.asarray(action)
        shape = self._lb_shape + (self.num_servers,)
        if a.dtype.kind not in "iuf":
            raise TypeError(f"action must be numbers of shape {shape} (one weight per server"
                            f"{'' if self.num_lbs == 1 else ' for each LB'}), got {type(action).__name__} of {a.dtype}")
        w = a.astype(np.float64)
        if w.shape != shape:
            raise ValueError(f"action has shape {w.shape}: give one weight per server"
                             f"{'' if self.num_lbs == 1 else ' for each LB'}, shape {shape}")
        w = w.reshape(self.num_lbs, self.num_servers)
        # Every weight at once (NaN and the infinities fail one of the two comparisons); only a
        # bad action takes _refuse's loop, which names the first bad weight.
        if not ((w >= 0) & (w <= _F32_MAX)).all():
            self._refuse(w)
        unset = ~(w > 0).any(axis=1)
        if unset.any():
            w[unset] = 1.0  # all 0: no preference, equal weights (a Box cannot leave this point out)
        return w

    def _refuse(self, w):
        """Raises the ValueError that names the first bad weight of w (lbs, servers)."""
        where = (lambda lb, i: f"action[{i}]") if self.num_lbs == 1 else (lambda lb, i: f"action[{lb}, {i}]")
        for lb, row in enumerate(w):
            bad = np.flatnonzero(~np.isfinite(row) | (row < 0))
            if bad.size:
                i = int(bad[0])
                raise ValueError(f"{where(lb, i)} = {row[i]}: every weight must be finite and >= 0 "
                                 f"({bad.size} bad weight(s) at {bad.tolist()}{'' if self.num_lbs == 1 else f' of LB {lb}'})")
            if np.any(row > _F32_MAX):
                raise ValueError(f"action{'' if self.num_lbs == 1 else f'[{lb}]'}: weights must fit in float32 (at most 3.4e38)")
        raise AssertionError("a weight failed the check but no row names it")

    def reward(self, obs, active=None):
        """MARLLB's reward of an observation: reward.fairness of the reward column over
        the active servers (all when `active` is None)."""
        col = np.asarray(obs, dtype=np.float64)[:, self.reward_column]
        return reward.fairness(col if active is None else col[np.asarray(active, dtype=bool)], self.reward_type)

    def sim_command(self, sim_seed, region_prefix, csv_path):
        """The marllb-sim command line of one episode."""
        duration = (self.episode_steps + 1.5) * self.interval_s  # the last publish well inside the run
        return [self.sim, "--lockstep", "--exit-with-parent", "--quiet",
                "--servers", ",".join(repr(c) for c in self.capacities), *self._traffic,
                "--duration", repr(duration), "--publish-us", repr(self.interval_s * 1e6), "--seed", str(sim_seed),
                "--lbs", str(self.num_lbs), "--region-prefix", region_prefix, "--lockstep-wait-ms", _FOREVER_MS,
                "--agent-timeout-ms", _FOREVER_MS, "--fallback", "keep", "--csv", csv_path, *self._sim_args]

    # ---- internals

    def _start(self, sim_seed):
        ep = self._episode
        ep.dir = tempfile.mkdtemp(prefix="marllb_env_")
        prefix = f"marllb_env{os.getpid()}_{next(_episode_numbers)}_{uuid.uuid4().hex[:6]}_"
        ep.names = [prefix + str(lb) for lb in range(self.num_lbs)]
        cmd = self.sim_command(sim_seed, prefix, os.path.join(ep.dir, "episode.csv"))
        theirs = None
        if self.reuse_sim:  # it serves episodes on commands from this socket (docs/rl.md)
            ep.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            cmd[1:1] = ["--control-fd", str(theirs.fileno())]  # before sim_args, which may end in EAL arguments
        try:
            with open(os.path.join(ep.dir, "sim.log"), "w") as log:
                # Its own session: Ctrl-C reaches Python, which stops it (SIGINT would kill it
                # without the cleanup); --exit-with-parent covers a Python that is killed.
                ep.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True, pass_fds=() if theirs is None else (theirs.fileno(),))
        finally:
            if theirs is not None:
                theirs.close()  # the process holds its copy: the socket ends when either side does
        deadline = time.monotonic() + self._start_timeout_s
        for name in ep.names:
            while True:
                try:
                    ep.regions.append(shm.AgentRegion(name))
                    break
                except shm.NoRegionError:
                    self._check_alive("while starting")
                    if time.monotonic() > deadline:
                        raise SimError(f"marllb-sim made no region {name} in {self._start_timeout_s:g} s") from None
                    time.sleep(0.005)

    def _check_alive(self, when):
        proc = self._episode.proc
        if proc.poll() is not None:
            raise SimError(f"marllb-sim exited with {proc.returncode} {when}: {self._episode.log_tail()}\n"
                           f"(command: {' '.join(proc.args)})")

    def _next_observation(self, after, timeout_s):
        """Waits for observation after+1 of every LB (the simulator publishes them together) and
        reads them: (observation, [each LB's raw arrays]). Polls the published sequence (one
        load). For the first poll_yield_s it gives the CPU away between polls: the simulator,
        and in a vector the other simulators, share the CPUs of a small machine with this
        process, and sched_yield returns at once when nothing else is runnable (a sleep takes
        tens of microseconds on a virtual machine, more than a handoff); after that, as when a
        simulator is slow, it sleeps poll_sleep_s between polls. A Ctrl-C is seen between polls."""
        now = time.monotonic()
        deadline = now + timeout_s
        yield_until = now + self._poll_yield_s
        next_check = 0
        obs = np.empty((self.num_lbs, self.num_servers, len(OBS_COLUMNS)), dtype=np.float32)
        raws = []
        self._last_read_ns = self._last_wait_ns = 0
        for lb, region in enumerate(self._episode.regions):
            t0 = time.perf_counter_ns()
            while region.published_sequence <= after:
                now = time.monotonic()
                if now >= next_check:
                    self._check_alive(f"before publishing observation {after + 1} of LB {lb}")
                    if now > deadline:
                        raise SimError(f"no observation {after + 1} of LB {lb} within {timeout_s:g} s")
                    next_check = now + 0.05
                if now < yield_until:
                    os.sched_yield()
                else:
                    time.sleep(self._poll_sleep_s)
            t1 = time.perf_counter_ns()
            raw = region.read_observation_arrays()
            self._last_read_ns += time.perf_counter_ns() - t1
            self._last_wait_ns += t1 - t0
            if raw is None or raw["sequence_id"] != after + 1:
                got = None if raw is None else raw["sequence_id"]
                raise SimError(f"expected observation {after + 1} from the lockstep LB {lb}, read {got}")
            n = len(raw["n_flow_on"])
            if n != self.num_servers:
                raise SimError(f"LB {lb} reports {n} servers, the environment has {self.num_servers}")
            obs[lb, :, 0] = raw["n_flow_on"]
            obs[lb, :, 1:] = raw["features"]
            raws.append(raw)
        self._seq = after + 1
        return obs.reshape(self._lb_shape + obs.shape[1:]), raws

    def _finish(self):
        """After the last observation: waits for marllb-sim to end its run and returns its result
        row (FCT percentiles, Jain's index, counters), then removes the episode."""
        ep = self._episode
        if self.lb_model == "clean":  # this LB waits for an answer to its last observation too
            for region, w in zip(ep.regions, self._weights):
                region.write_action(self._seq, w)
        if self.reuse_sim:  # the process stays for the next episode
            answer = ep.reply(self._step_timeout_s, self._check_alive)
            if answer != "done":
                raise SimError(f"marllb-sim answered {answer!r} at the end of an episode, not 'done'")
            with open(os.path.join(ep.dir, "episode.csv")) as f:
                row = list(csv.DictReader(f))[-1]
            return {k: _number_or_text(v) for k, v in row.items()}
        try:
            rc = ep.proc.wait(timeout=self._step_timeout_s)
        except subprocess.TimeoutExpired:
            raise SimError("marllb-sim did not end after the episode's last observation") from None
        if rc != 0:
            raise SimError(f"marllb-sim exited with {rc}: {ep.log_tail()}")
        with open(os.path.join(ep.dir, "episode.csv")) as f:
            row = list(csv.DictReader(f))[-1]
        ep.stop()
        return {k: _number_or_text(v) for k, v in row.items()}


if gymnasium is not None and "marllb/LoadBalance-v0" not in gymnasium.registry:
    gymnasium.register(id="marllb/LoadBalance-v0", entry_point="marllb.env:LoadBalanceEnv")
