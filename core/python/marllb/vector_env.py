"""num_envs LoadBalanceEnvs stepped together, with Gymnasium's vector API (gymnasium.vector.VectorEnv,
as SyncVectorEnv runs it), one marllb-sim process each:

    from marllb.vector_env import VectorLoadBalanceEnv
    with VectorLoadBalanceEnv(2, episode_steps=100, servers="marllb7", load=0.85) as envs:
        obs, infos = envs.reset(seed=1)                  # obs: (2, servers, 11); env i seeded 1 + i
        obs, rewards, terminations, truncations, infos = envs.step(weights)   # weights: (2, servers)

A step writes every environment's action before it waits for any observation, so the
simulators run their intervals at the same time (a reset likewise starts every episode first);
each environment is exactly a LoadBalanceEnv, so environment i gives the rows a LoadBalanceEnv
reset with the same seeds gives.

Autoreset, as Gymnasium's (metadata["autoreset_mode"]):
  next_step (Gymnasium's default): the step that ends an episode returns its last observation
      with truncated True; the next step() resets that environment instead of stepping it (its
      action is ignored) and returns the new episode's first observation, reward 0, terminated
      and truncated False.
  same_step: the step that ends an episode resets the environment at once and returns the new
      episode's first observation; the last one is infos["final_obs"][i], its info
      infos["final_info"] (with the episode's result row).
infos is Gymnasium's vector info: each key an array over the environments and "_key" a mask of
those that gave it (dicts such as info["episode"], marllb-sim's row, nested the same way).

When gymnasium is importable the class derives from gymnasium.vector.VectorEnv and uses its
AutoresetMode; without it the same API stands on its own (Debian 12 has no gymnasium package).
"""
import numpy as np

from marllb.env import LoadBalanceEnv, _box, gymnasium

try:
    from gymnasium.vector import AutoresetMode as _AutoresetMode
except (ImportError, AttributeError):
    _AutoresetMode = None

AUTORESET_MODES = ("next_step", "same_step")


def _mode_name(mode):
    if _AutoresetMode is not None and isinstance(mode, _AutoresetMode):
        mode = {_AutoresetMode.NEXT_STEP: "next_step", _AutoresetMode.SAME_STEP: "same_step"}.get(mode, str(mode))
    if mode not in AUTORESET_MODES:
        raise ValueError(f"autoreset_mode {mode!r}: use one of {', '.join(AUTORESET_MODES)}")
    return mode


class _VectorBase:
    """What gymnasium.vector.VectorEnv gives, for use without gymnasium."""

    metadata = {}
    render_mode = None
    spec = None
    closed = False

    @property
    def unwrapped(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class VectorLoadBalanceEnv(gymnasium.vector.VectorEnv if gymnasium is not None else _VectorBase):
    """num_envs LoadBalanceEnvs (each its own marllb-sim), stepped together (module docstring).
    seed: environment i's seed is seed + i; autoreset_mode: 'next_step' or 'same_step'; every
    other keyword goes to each LoadBalanceEnv."""

    def __init__(self, num_envs, *, seed=None, autoreset_mode="next_step", **env_kwargs):
        if int(num_envs) != num_envs or num_envs < 1:
            raise ValueError(f"num_envs must be a whole number >= 1, got {num_envs!r}")
        self.num_envs = int(num_envs)
        self._mode = _mode_name(autoreset_mode)
        mode = self._mode if _AutoresetMode is None else (
            _AutoresetMode.NEXT_STEP if self._mode == "next_step" else _AutoresetMode.SAME_STEP)
        self.metadata = {"render_modes": [], "autoreset_mode": mode}
        self.envs = []
        try:
            for i in range(self.num_envs):
                self.envs.append(LoadBalanceEnv(seed=None if seed is None else seed + i, **env_kwargs))
        except BaseException:
            self.close()
            raise
        first = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = _box(0.0, float(np.finfo(np.float32).max), (self.num_envs, *first.observation_space.shape))
        self.action_space = _box(0.0, float(np.finfo(np.float32).max), (self.num_envs, *first.action_space.shape))
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self.closed = False

    def reset(self, *, seed=None, options=None):
        """Resets every environment (seed: an int, environment i then gets seed + i; a list of
        one seed or None per environment; or None) and returns (observations, infos)."""
        if seed is None:
            seeds = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: give one per environment ({self.num_envs}), an int or None; got {len(seeds)}")
        for env, s in zip(self.envs, seeds):
            env._reset_begin(seed=s, options=options)
        obs = np.empty(self.observation_space.shape, dtype=np.float32)
        infos = {}
        for i, env in enumerate(self.envs):
            obs[i], info = env._reset_end()
            infos = self._add_info(infos, info, i)
        self._autoreset[:] = False
        return obs, infos

    def step(self, actions):
        """Steps every environment with its row of `actions` (shape (num_envs, *single action
        shape)); an environment whose episode ended on the last step is reset instead
        (next_step mode). Every row is checked before any is written."""
        actions = np.asarray(actions)
        if actions.shape[:1] != (self.num_envs,):
            raise ValueError(f"actions has shape {actions.shape}: give one row per environment, shape {self.action_space.shape}")
        checked = [None] * self.num_envs
        for i, env in enumerate(self.envs):
            if not self._autoreset[i]:
                try:
                    checked[i] = env.check_action(actions[i])
                except (ValueError, TypeError) as e:
                    raise type(e)(f"environment {i}: {e}") from None
        try:
            return self._step_all(actions, checked)
        except (KeyboardInterrupt, SystemExit):
            # An interrupt anywhere in the batch (within an environment's half-step, which
            # closes that one, or between them) leaves no simulator running: every episode
            # ends, and reset() starts again, as a single environment's step() does.
            for env in self.envs:
                env.close()
            raise

    def _step_all(self, actions, checked):
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                env._reset_begin()
            else:
                env._step_begin(actions[i], checked[i])
        obs = np.empty(self.observation_space.shape, dtype=np.float32)
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminations = np.zeros(self.num_envs, dtype=bool)
        truncations = np.zeros(self.num_envs, dtype=bool)
        infos = {}
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:
                obs[i], info = env._reset_end()
            else:
                obs[i], rewards[i], terminations[i], truncations[i], info = env._step_end()
                if self._mode == "same_step" and (terminations[i] or truncations[i]):
                    infos = self._add_info(infos, {"final_obs": obs[i].copy(), "final_info": info}, i)
                    env._reset_begin()
                    obs[i], info = env._reset_end()
            infos = self._add_info(infos, info, i)
        self._autoreset = (terminations | truncations) if self._mode == "next_step" else np.zeros(self.num_envs, dtype=bool)
        return obs, rewards, terminations, truncations, infos

    def close(self, **kwargs):
        del kwargs
        for env in getattr(self, "envs", []):
            env.close()
        self.closed = True

    def _add_info(self, vector_infos, env_info, i):
        """Gymnasium's vector info: env_info's values at index i of an array per key (numbers in
        an array of their type, arrays stacked, anything else in an object array, dicts
        recursively, final_obs always an object array), each with a "_key" mask."""
        for key, value in env_info.items():
            if key == "final_obs":
                array = vector_infos.get(key)
                if array is None:
                    array = np.full(self.num_envs, None, dtype=object)
                array[i] = value
            elif isinstance(value, dict):
                array = self._add_info(vector_infos.get(key, {}), value, i)
            else:
                array = vector_infos.get(key)
                if array is None:
                    if type(value) in (int, float, bool) or isinstance(value, np.number):
                        array = np.zeros(self.num_envs, dtype=type(value))
                    elif isinstance(value, np.ndarray):
                        array = np.zeros((self.num_envs, *value.shape), dtype=value.dtype)
                    else:
                        array = np.full(self.num_envs, None, dtype=object)
                array[i] = value
            mask = vector_infos.get(f"_{key}")
            if mask is None:
                mask = np.zeros(self.num_envs, dtype=bool)
            mask[i] = True
            vector_infos[key], vector_infos[f"_{key}"] = array, mask
        return vector_infos

    @property
    def timings(self):
        """The environments' LoadBalanceEnv.timings, summed."""
        total = dict.fromkeys(self.envs[0].timings, 0)
        for env in self.envs:
            for k, v in env.timings.items():
                total[k] += v
        return total
