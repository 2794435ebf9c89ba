"""marllb.tools.env_speed: the ceiling of a setup is set by its tightest limit (the agent's one
Python thread, the CPUs, one simulator's interval), and a step's unclaimed time goes to the
policy with one environment and to the vector's own batching with several."""
from marllb.tools import env_speed


def test_the_ceiling_is_set_by_the_tightest_limit():
    # One environment steps in 150 us; a simulator needs 100 us of CPU per interval.
    # Agent side 40 us, 2 envs on 2 CPUs: the CPUs bind (2 * 140 / 2 = 140 us a vector step).
    assert env_speed.vector_ceiling(2, 2, 150.0, 100.0, 40.0) == 2 * 150.0 / 140.0
    # Agent side 120 us: its one thread binds (2 * 120 = 240 us).
    assert env_speed.vector_ceiling(2, 2, 150.0, 100.0, 120.0) == 2 * 150.0 / 240.0
    # 2 envs on 8 CPUs, agent side 10 us: one simulator's interval binds (100 us).
    assert env_speed.vector_ceiling(2, 8, 150.0, 100.0, 10.0) == 2 * 150.0 / 100.0
    # One environment on 2 CPUs: what its handoffs cost (150 against its simulator's 100).
    assert env_speed.vector_ceiling(1, 2, 150.0, 100.0, 40.0) == 1.5


def test_unclaimed_time_goes_to_the_policy_alone_or_to_the_batching_in_a_vector():
    tm = {"sim_ns": 500, "read_ns": 10, "write_ns": 20, "env_ns": 100, "end_ns": 50}
    one, steps_one = env_speed.breakdown(tm, 1000, 30, 40, 1)
    assert one["policy"] == 30 + (1000 - (500 + 10 + 20 + 100 + 30 + 40 + 50)) and one["batch"] == 0
    vec, steps_vec = env_speed.breakdown(tm, 1000, 30, 40, 2)
    assert vec["batch"] == 1000 - (500 + 10 + 20 + 100 + 30 + 40 + 50) and vec["policy"] == 30
    assert sum(one.values()) == sum(vec.values()) == 1000 and steps_one == steps_vec == 1000 - 40 - 50
