"""rl/eval_stats.py against values computed by hand: the t interval (sample deviation, t with
n - 1 degrees of freedom), the paired difference and the verdicts. Needs no PyTorch."""
import math

import pytest

import eval_stats


def test_the_interval_uses_the_sample_deviation_and_t_with_n_minus_1_degrees():
    m, h = eval_stats.mean_ci([1.0, 2.0, 3.0, 4.0])
    assert m == 2.5
    assert h == pytest.approx(3.182 * math.sqrt(5 / 3) / 2)  # s^2 = 5/3, t(0.975, 3) = 3.182
    m, h = eval_stats.mean_ci([7.0, 7.0])
    assert (m, h) == (7.0, 0.0)


def test_a_paired_difference_is_the_interval_of_the_differences():
    m, h, larger = eval_stats.paired([10, 12, 14], [9, 12, 11])  # differences 1, 0, 3
    assert m == pytest.approx(4 / 3)
    assert h == pytest.approx(4.303 * math.sqrt(7 / 3) / math.sqrt(3))
    assert larger == 2


@pytest.mark.parametrize("mean, half, expected", [(-3, 1, "better"), (3, 1, "worse"), (-0.5, 1, "tie"),
                                                  (0.5, 1, "tie"), (-1, 1, "tie")])
def test_the_verdict_needs_the_whole_interval_on_one_side_of_zero(mean, half, expected):
    assert eval_stats.verdict(mean, half) == expected


@pytest.mark.parametrize("mean, half, margin, expected", [(1, 2, 5, True), (1, 4, 5, False), (-10, 12, 5, True),
                                                          (0, 20, 5, False)])
def test_matching_within_a_margin_needs_the_whole_interval_below_it(mean, half, margin, expected):
    assert eval_stats.within_margin(mean, half, margin) is expected


def test_bad_inputs_say_what_is_wrong():
    with pytest.raises(ValueError, match="2..31 values"):
        eval_stats.mean_ci([1.0])
    with pytest.raises(ValueError, match="finite"):
        eval_stats.mean_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="same workloads"):
        eval_stats.paired([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="margin must be > 0"):
        eval_stats.within_margin(0, 1, 0)
