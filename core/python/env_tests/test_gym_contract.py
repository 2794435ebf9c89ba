"""Gymnasium's contract, checked item by item as gymnasium.utils.env_checker.check_env and its
passive checker (gymnasium 1.x, utils/env_checker.py and utils/passive_env_checker.py) check
an environment. Gymnasium is not installed here, so each of its checks is written out below
under the name of the function that makes it; where gymnasium only warns, the test asserts
that the warning's condition does not hold, except the one recommendation this environment
does not follow (an action Box normalised to [0, 1]: weights are scale-free, any scale is a
valid action). Every assertion holds with gymnasium installed too (the base class and the
spaces are then gymnasium's)."""
import inspect
from copy import deepcopy

import numpy as np
import pytest

import marllb.env as menv

try:
    import gymnasium
except ImportError:
    gymnasium = None

STEPS = 4


def data_equivalence(data_1, data_2, exact=False):
    """gymnasium.utils.env_checker.data_equivalence."""
    if type(data_1) is not type(data_2):
        return False
    if isinstance(data_1, dict):
        return data_1.keys() == data_2.keys() and all(data_equivalence(data_1[k], data_2[k], exact) for k in data_1)
    if isinstance(data_1, (tuple, list)):
        return len(data_1) == len(data_2) and all(data_equivalence(a, b, exact) for a, b in zip(data_1, data_2))
    if isinstance(data_1, np.ndarray):
        if data_1.shape != data_2.shape or data_1.dtype != data_2.dtype:
            return False
        if data_1.dtype == object:
            return all(data_equivalence(a, b, exact) for a, b in zip(data_1, data_2))
        return bool(np.all(data_1 == data_2)) if exact else bool(np.allclose(data_1, data_2, rtol=1e-5, atol=1e-5))
    return bool(data_1 == data_2)


@pytest.fixture(scope="module")
def env():
    e = menv.LoadBalanceEnv(episode_steps=STEPS, load=0.6)
    yield e
    e.close()


def test_check_env_the_environment_is_an_env_and_its_own_unwrapped(env):
    base = gymnasium.Env if gymnasium is not None else menv.Env
    assert isinstance(env, base)
    assert env.unwrapped is env
    assert not env.metadata.get("jax", False) and not env.metadata.get("torch", False)
    assert env.metadata["render_modes"] == [] and env.render_mode is None and env.spec is None
    with pytest.raises(ValueError, match="render_mode"):
        menv.LoadBalanceEnv(render_mode="human")


@pytest.mark.parametrize("which", ["action", "observation"])
def test_check_space_and_check_space_limit(env, which):
    space = getattr(env, f"{which}_space")
    box = gymnasium.spaces.Box if gymnasium is not None else menv.Box
    assert isinstance(space, box)
    assert space.low.shape == space.shape and space.high.shape == space.shape  # _check_box_*_space
    assert not np.any(space.low == space.high) and not np.any(space.high < space.low)  # its warnings
    assert not np.any(np.equal(space.low, -np.inf)) and not np.any(np.equal(space.high, np.inf))  # check_space_limit


def test_check_seed_deprecation_and_return_info_deprecation(env):
    assert not callable(getattr(env, "seed", None))
    assert "return_info" not in inspect.signature(env.reset).parameters


def test_check_reset_return_type(env):
    result = env.reset()
    assert isinstance(result, tuple) and len(result) == 2
    obs, info = result
    assert obs in env.observation_space and isinstance(info, dict)


def test_check_reset_seed_determinism(env):
    signature = inspect.signature(env.reset)
    assert "seed" in signature.parameters and signature.parameters["seed"].default is None
    obs_1, _ = env.reset(seed=123)
    assert obs_1 in env.observation_space
    assert env.unwrapped._np_random is not None
    seed_123_rng_1 = deepcopy(env.unwrapped._np_random)
    obs_2, _ = env.reset()
    assert obs_2 in env.observation_space
    obs_3, _ = env.reset(seed=123)
    assert obs_3 in env.observation_space
    seed_123_rng_3 = deepcopy(env.unwrapped._np_random)
    obs_4, _ = env.reset()
    assert obs_4 in env.observation_space
    # gymnasium compares these only for a spec with nondeterministic=False; this environment is
    # deterministic (a lockstep simulator seeded from np_random), so they are compared exactly.
    assert data_equivalence(obs_1, obs_3, exact=True)
    assert data_equivalence(obs_2, obs_4, exact=True)
    assert seed_123_rng_1.bit_generator.state == seed_123_rng_3.bit_generator.state
    obs_5, _ = env.reset(seed=456)
    assert obs_5 in env.observation_space
    assert env.unwrapped._np_random.bit_generator.state != seed_123_rng_1.bit_generator.state


def test_reset_seeds_np_random_as_gymnasiums_seeding_does(env):
    env.reset(seed=7)
    want = np.random.Generator(np.random.PCG64(np.random.SeedSequence(7)))  # gymnasium.utils.seeding.np_random(7)
    want.integers(1, 2**62)  # the episode's simulator seed, drawn at reset
    assert env.np_random.bit_generator.state == want.bit_generator.state
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        env.reset(seed=-1)


def test_check_reset_options(env):
    assert "options" in inspect.signature(env.reset).parameters
    env.reset(options={})


def test_env_reset_passive_checker(env):
    obs, info = env.reset()
    assert isinstance(obs, np.ndarray) and obs.dtype == env.observation_space.dtype
    assert obs in env.observation_space and isinstance(info, dict)


def test_env_step_passive_checker_with_a_sampled_action(env):
    env.reset(seed=1)
    result = env.step(env.action_space.sample())
    assert isinstance(result, tuple) and len(result) == 5
    obs, reward, terminated, truncated, info = result
    assert isinstance(terminated, (bool, np.bool_)) and isinstance(truncated, (bool, np.bool_))
    assert isinstance(obs, np.ndarray) and obs.dtype == env.observation_space.dtype and obs in env.observation_space
    assert np.issubdtype(type(reward), np.integer) or np.issubdtype(type(reward), np.floating)
    assert not np.isnan(reward) and not np.isinf(reward)
    assert isinstance(info, dict)


def test_check_step_determinism(env):
    env.action_space.seed(123)
    action = env.action_space.sample()
    env.reset(seed=123)
    obs_0, rew_0, term_0, trunc_0, info_0 = env.step(action)
    orig_rng = env.unwrapped._np_random
    assert orig_rng is not None
    seeded_rng = deepcopy(orig_rng)
    env.reset(seed=123)
    obs_1, rew_1, term_1, trunc_1, info_1 = env.step(action)
    assert orig_rng.bit_generator.state == seeded_rng.bit_generator.state  # step does not draw from np_random
    assert data_equivalence(obs_0, obs_1, exact=True)
    assert data_equivalence(rew_0, rew_1, exact=True)
    assert data_equivalence(term_0, term_1, exact=True)
    assert trunc_0 is False and trunc_1 is False
    assert data_equivalence(info_0, info_1, exact=True)


def test_check_env_close_twice_is_allowed():
    e = menv.LoadBalanceEnv(episode_steps=STEPS)
    e.reset(seed=1)
    e.close()
    e.close()


def test_every_action_in_the_space_is_one_step_takes(env):
    # What step() refuses is outside the space: sampled actions, the corners, the all-zero one.
    env.action_space.seed(5)
    edges = [np.zeros(7, np.float32), np.full(7, np.finfo(np.float32).max, np.float32),
             np.full(7, np.finfo(np.float32).smallest_subnormal, np.float32)]
    for a in [env.action_space.sample() for _ in range(200)] + edges:
        assert a in env.action_space
        env.check_action(a)  # raises for what step refuses
    for refused in ([np.nan] + [1.0] * 6, [-1.0] + [1.0] * 6, [np.inf] * 7, [1e39] * 7):
        with pytest.raises(ValueError):
            env.check_action(refused)
        assert refused not in env.action_space
    env.reset(seed=2)
    for a in edges:  # and the LB applies them
        env.step(a)
    assert env.timings["steps"] > 0


@pytest.mark.skipif(gymnasium is not None, reason="the fallback spaces exist only without gymnasium")
def test_the_fallback_box_honours_dtype_and_seeds_its_samples():
    box = menv.Box(0.0, 10.0, (3,))
    assert np.zeros(3, np.float32) in box
    assert np.zeros(3, np.float64) not in box  # float64 does not cast safely to float32 (gymnasium's rule)
    assert np.zeros(3, np.int64) not in box
    assert [1.0, 2.0, 3.0] in box  # a list is converted to the box's dtype first
    assert np.zeros(4, np.float32) not in box and np.full(3, 11, np.float32) not in box
    box.seed(9)
    first = box.sample()
    box.seed(9)
    assert np.array_equal(first, box.sample()) and first.dtype == np.float32
