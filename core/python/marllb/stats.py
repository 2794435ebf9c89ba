"""The statistics of rl/evaluate.py and of sweep summaries (marllb.sweep): a mean with its 95 %
Student t interval over seeds, a paired difference on the same workloads, the verdict of such a
difference, and non-inferiority within a margin (what "matches" means)."""
import math

import numpy as np

# t(0.975, df) for df = 1..30: the half-width of a 95 % interval is T975[df] * s / sqrt(n)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def mean_ci(values):
    """(mean, half-width of the 95 % t interval) of values over n >= 2 independent runs."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or not 2 <= len(v) <= len(T975) + 1:
        raise ValueError(f"an interval needs 2..{len(T975) + 1} values, got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError(f"values must be finite, got {v.tolist()}")
    return float(v.mean()), T975[len(v) - 2] * float(v.std(ddof=1)) / math.sqrt(len(v))


def paired(mine, theirs):
    """mine - theirs on the same workloads (same order): (mean, half-width, how many of the
    workloads mine is larger on)."""
    a, b = np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same workloads: {a.shape} and {b.shape}")
    m, h = mean_ci(a - b)
    return m, h, int(np.sum(a > b))


def verdict(mean, half):
    """A difference (lower is better for mine) read by its 95 % interval: 'better' when the
    whole interval is below 0, 'worse' when it is above, else 'tie'."""
    if mean + half < 0:
        return "better"
    if mean - half > 0:
        return "worse"
    return "tie"


def within_margin(mean, half, margin):
    """Non-inferiority: a difference (lower is better for mine) whose whole 95 % interval lies
    below `margin` (> 0). A tie with a wide interval is not enough: it says too few seeds, not
    a match."""
    if not margin > 0:
        raise ValueError(f"the margin must be > 0, got {margin}")
    return mean + half < margin
