"""MARLLB's reward: the fairness of one per-server feature over the active servers.

MARLLB's environment (src/lb/env.py of ZhiyuanYaoJ/MARLLB, read at commit 0d6f15a) takes, for
every active server, one feature of the newest observation, by default the decayed mean flow
duration (`reward_field='flow_duration_avg_decay'`, env.py:203 and env.py:316; this project
calls it `duration_mean_decay`), and scores the list with the function named by `reward_type`
(default 'var', env.py:203; the table at env.py:152-161). The same eight functions are here, by
their definitions; each docstring names the lines it follows.

One deliberate difference: 'var_log' and 'max_log' take the log of a value that is 0 whenever
the servers are equal or idle (at the start of an episode every reservoir is zeros), which in
MARLLB yields +inf; here the argument is floored at LOG_FLOOR, so the reward stays finite
(at most -log(1e-12) = 27.6).

    from marllb import reward
    reward.fairness([0.1, 0.2, 0.3], "jain")   # 0.857...
"""
import math

import numpy as np

from marllb import __version__  # noqa: F401

REWARD_TYPES = ("jain", "product", "var", "var_exp", "var_log", "max", "max_exp", "max_log")
EXP_K = 10000.0   # the k of var_exp and max_exp (env.py:108, env.py:143)
LOG_FLOOR = 1e-12  # see the module docstring: keeps var_log and max_log finite


def jain(v):
    """Jain's index (sum v)^2 / (n sum v^2); 1 when the sum is 0 (env.py:73-85)."""
    s = float(v.sum())
    return s * s / (len(v) * float((v * v).sum())) if s != 0.0 else 1.0


def product(v):
    """The product of v / (max v + 1e-6) (env.py:87-96)."""
    return float(np.prod(v / (float(v.max()) + 1e-6)))


def variance(v):
    """np.var(v) (ddof 0) of a 1-D float64 ndarray, to the last bit: the same ufuncs in the same
    order as numpy's own (the sum, the mean, the squared deviations, their sum over n) without
    its argument handling, which is most of its cost for a few values (a reward per step). It
    takes no other input: fairness() converts its values first, and the reward functions below
    are called through it."""
    n = v.size
    x = v - np.add.reduce(v) / n
    np.multiply(x, x, out=x)
    return float(np.add.reduce(x) / n)


def var(v):
    """Minus the variance (ddof 0) (env.py:98-105)."""
    return -variance(v)


def var_exp(v):
    """exp(-k var), k = 10^4 (env.py:108-115)."""
    return math.exp(-EXP_K * variance(v))


def var_log(v):
    """-log(var), the variance floored at LOG_FLOOR (env.py:118-125 has no floor)."""
    return -math.log(max(variance(v), LOG_FLOOR))


def max_(v):
    """Minus the largest value, the makespan (env.py:127-132)."""
    return -float(v.max())


def max_exp(v):
    """exp(-k max), k = 10^4 (env.py:143-150)."""
    return math.exp(-EXP_K * float(v.max()))


def max_log(v):
    """-log(max), the maximum floored at LOG_FLOOR (env.py:135-140 has no floor)."""
    return -math.log(max(float(v.max()), LOG_FLOOR))


_FUNCTIONS = {"jain": jain, "product": product, "var": var, "var_exp": var_exp, "var_log": var_log,
              "max": max_, "max_exp": max_exp, "max_log": max_log}


def check_type(reward_type):
    """Raises ValueError unless reward_type is one of REWARD_TYPES."""
    if reward_type not in _FUNCTIONS:
        raise ValueError(f"unknown reward_type {reward_type!r}: use one of {', '.join(REWARD_TYPES)}")


def fairness(values, reward_type="var"):
    """The reward of one observation: `reward_type` over `values` (one per active server, in
    float64). ValueError for an unknown type, no values, or a value that is not finite."""
    check_type(reward_type)
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("no active server: a reward needs at least one value")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"reward values must be finite, got {v.tolist()}")
    return _FUNCTIONS[reward_type](v)
