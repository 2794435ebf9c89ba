"""MARLLB's reward functions against values worked out by hand, and the environment scoring the
right column over the active servers only."""
import math

import numpy as np
import pytest

import marllb_env
import marllb_reward


# values 1, 2, 3: sum 6, sum of squares 14, mean 2, variance 2/3, max 3
@pytest.mark.parametrize("kind, expected", [
    ("jain", 36 / (3 * 14)),
    ("product", (1 / 3.000001) * (2 / 3.000001) * (3 / 3.000001)),
    ("var", -2 / 3),
    ("var_log", -math.log(2 / 3)),
    ("max", -3.0),
    ("max_log", -math.log(3)),
])
def test_each_reward_type_equals_its_hand_computed_value(kind, expected):
    assert marllb_reward.fairness([1.0, 2.0, 3.0], kind) == pytest.approx(expected, rel=1e-12)


def test_the_exponential_types_use_k_10000():
    # values 1e-4, 2e-4, 3e-4: variance 2/3 * 1e-8, max 3e-4
    v = [1e-4, 2e-4, 3e-4]
    assert marllb_reward.fairness(v, "var_exp") == pytest.approx(math.exp(-1e4 * 2 / 3 * 1e-8), rel=1e-12)
    assert marllb_reward.fairness(v, "max_exp") == pytest.approx(math.exp(-3.0), rel=1e-12)


def test_the_variance_is_numpys_to_the_last_bit():
    # The var rewards use reward.variance, numpy's np.var without its argument handling: the
    # same bits for every size (numpy sums up to 7 values in a line, then in 8 lanes, then in
    # blocks of 128), scale and spread, so a reward is what np.var gave before.
    from marllb import reward
    rng = np.random.default_rng(7)
    for n in list(range(1, 140)) + [255, 1000]:
        for v in (rng.random(n), rng.lognormal(0.0, 3.0, n), 1e6 + rng.random(n) * 1e-3, rng.random(n) * 1e-9):
            assert reward.variance(v) == float(np.var(v)), (n, v)
            assert marllb_reward.fairness(v, "var") == -float(np.var(v))


def test_equal_or_idle_servers_score_as_marllb_says_and_logs_stay_finite():
    assert marllb_reward.fairness([0.0, 0.0], "jain") == 1.0  # env.py:82-85: a zero sum is fair
    assert marllb_reward.fairness([0.5, 0.5], "var") == 0.0
    assert marllb_reward.fairness([0.5, 0.5], "var_log") == pytest.approx(-math.log(marllb_reward.LOG_FLOOR))
    assert math.isfinite(marllb_reward.fairness([0.0, 0.0], "max_log"))


def test_bad_reward_input_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="use one of jain"):
        marllb_reward.fairness([1.0], "fairest")
    with pytest.raises(ValueError, match="no active server"):
        marllb_reward.fairness([], "var")
    with pytest.raises(ValueError, match="finite"):
        marllb_reward.fairness([1.0, float("nan")], "var")


def test_the_environment_scores_duration_mean_decay_over_active_servers():
    env = marllb_env.LoadBalanceEnv(servers=[1, 1, 2], reward_type="jain")
    obs = np.zeros((3, len(marllb_env.OBS_COLUMNS)), dtype=np.float32)
    obs[:, 0] = [9, 9, 9]                   # n_flow_on: must not be scored
    col = marllb_env.OBS_COLUMNS.index("duration_mean_decay")
    assert col == 9  # n_flow_on, then fct's five features, then duration's mean, p90, std, mean_decay
    obs[:, col] = [1.0, 3.0, 100.0]
    obs[:, col - 1] = [5.0, 5.0, 5.0]       # duration_std: a neighbour, must not be scored
    # server 2 inactive: Jain over (1, 3) = 16 / (2 * 10)
    assert env.reward(obs, active=[True, True, False]) == pytest.approx(0.8)
    # all active: 104^2 / (3 * 10010)
    assert env.reward(obs) == pytest.approx(104**2 / (3 * 10010))
