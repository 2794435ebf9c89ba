"""The environment end to end on marllb-sim: episodes are reproducible by seed, every step goes
through the region, a bad action is refused before anything is written, and the simulator
process and the region are gone after close(), after the object is dropped and after Ctrl-C.
What these cannot show: behaviour on a machine with more than the two lcores' CPUs."""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import marllb_env
import marllb_reward
from conftest import process_alive, region_exists


def inverse_load(obs):
    return 1.0 / (1.0 + obs[:, 0])  # depends on the observation: actions differ when observations do


def run_episode(env, seed, steps):
    obs, info = env.reset(seed=seed)
    seen, rewards = [obs], []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(inverse_load(obs))
        seen.append(obs)
        rewards.append(reward)
    return np.stack(seen), rewards, info


def test_spaces_describe_the_observation_and_the_action():
    env = marllb_env.LoadBalanceEnv(episode_steps=3, servers="marllb6")
    assert env.observation_space.shape == (6, 11) and env.action_space.shape == (6,)
    obs, _ = env.reset(seed=1)
    try:
        assert obs.dtype == np.float32 and env.observation_space.contains(obs)
        assert env.action_space.contains(env.action_space.sample())
    finally:
        env.close()


def test_the_same_seed_gives_the_same_episode_and_another_seed_another():
    # However quickly the agent answers: the fresh object below polls without sleeping, which
    # made an LB that read the slot again right after publishing apply some answers early
    # (in some runs only: the more episodes, the likelier such a fault shows).
    with marllb_env.LoadBalanceEnv(episode_steps=12, seed=99) as env:
        a_obs, a_rew, a_info = run_episode(env, 7, 12)
        b_obs, b_rew, b_info = run_episode(env, 7, 12)     # same object, reseeded
        c_obs, _, _ = run_episode(env, 8, 12)
    with marllb_env.LoadBalanceEnv(episode_steps=12, poll_sleep_s=0) as fresh:
        quick = [run_episode(fresh, 7, 12) for _ in range(4)]  # a new object, same seed
    assert a_obs[1:, :, 0].sum() > 0 and a_obs[1:, :, 1:].max() > 0  # something happened
    np.testing.assert_array_equal(a_obs, b_obs)
    for d_obs, d_rew, _ in quick:
        np.testing.assert_array_equal(a_obs, d_obs)
        assert d_rew == a_rew
    assert a_rew == b_rew
    assert a_info["episode"]["fct_p90_s"] == b_info["episode"]["fct_p90_s"]
    assert not np.array_equal(a_obs, c_obs)


def test_every_action_reaches_the_lb_through_the_region():
    # All weight on server 0: SED sends every new flow there, the others drain.
    with marllb_env.LoadBalanceEnv(episode_steps=15, load=0.5) as env:
        obs, _ = env.reset(seed=3)
        only_first = np.zeros(env.num_servers)
        only_first[0] = 1.0
        for _ in range(15):
            obs, reward, _, truncated, info = env.step(only_first)
        assert truncated
        assert obs[0, 0] > 10 * max(1.0, obs[1:, 0].max()), obs[:, 0]
        row = info["episode"]
        assert row["actions_applied"] == 15 and row["actions_rejected"] == 0
        assert row["observations"] == 16


def test_the_returned_reward_is_the_fairness_of_the_returned_observation():
    with marllb_env.LoadBalanceEnv(episode_steps=6, reward_type="jain") as env:
        obs, _ = env.reset(seed=4)
        for _ in range(6):
            obs, reward, _, _, info = env.step(np.ones(env.num_servers))
            col = obs[:, marllb_env.OBS_COLUMNS.index("duration_mean_decay")]
            assert reward == marllb_reward.fairness(col, "jain")
            assert info["reward_fields"] == col.tolist()


class RecordingRegion:
    """Stands in for the episode's region and records every write that reaches it."""

    def __init__(self, region):
        self.region, self.writes = region, []

    def write_action(self, *args, **kw):
        self.writes.append(args)
        return self.region.write_action(*args, **kw)

    def __getattr__(self, name):
        return getattr(self.region, name)


@pytest.mark.parametrize("bad, error, words", [
    (np.ones(6), ValueError, "shape (7,)"),
    (np.ones((7, 1)), ValueError, "shape (7,)"),
    ([1, 1, 1, float("nan"), 1, 1, 1], ValueError, "action[3] = nan"),
    ([1, 1, 1, 1, 1, -0.5, 1], ValueError, "action[5] = -0.5"),
    ([1, float("inf"), 1, 1, 1, 1, 1], ValueError, "action[1] = inf"),
    ([1e39] * 7, ValueError, "float32"),
    (["1"] * 7, TypeError, "numbers"),
    ([True] * 7, TypeError, "numbers"),
])
def test_a_bad_action_raises_before_anything_is_written(bad, error, words):
    with marllb_env.LoadBalanceEnv(episode_steps=5) as env:
        env.reset(seed=5)
        rec = RecordingRegion(env._episode.regions[0])
        env._episode.regions[0] = rec
        with pytest.raises(error) as e:
            env.step(bad)
        assert words in str(e.value)
        assert rec.writes == []
        assert rec.verdicts()["actions_applied"] == 0 and rec.verdicts()["actions_rejected"] == 0
        # The episode goes on: a good action after the bad one is written and answered.
        obs, _, _, _, info = env.step(np.ones(7))
        assert len(rec.writes) == 1 and info["sequence_id"] == 2


def test_an_all_zero_action_is_in_the_space_and_the_lb_gets_equal_weights():
    # A Box holds the all-zero point, so step takes it: no preference, equal weights.
    with marllb_env.LoadBalanceEnv(episode_steps=5) as env:
        env.reset(seed=5)
        assert env.action_space.contains(np.zeros(7, dtype=np.float32))
        rec = RecordingRegion(env._episode.regions[0])
        env._episode.regions[0] = rec
        env.step(np.zeros(7))
        assert len(rec.writes) == 1 and list(rec.writes[0][1]) == [1.0] * 7


def episode_handles(env):
    return env._episode.proc.pid, env._episode.names[0], env._episode.dir


def test_close_stops_the_process_and_removes_the_region():
    env = marllb_env.LoadBalanceEnv(episode_steps=50)
    env.reset(seed=6)
    env.step(np.ones(7))
    pid, name, tmp = episode_handles(env)
    assert process_alive(pid) and region_exists(name)
    env.close()
    assert not process_alive(pid) and not region_exists(name) and not os.path.exists(tmp)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.ones(7))


def test_ctrl_c_while_the_action_is_checked_stops_the_process(monkeypatch):
    # The interrupt lands at a fixed place (the action check, the first thing a step does),
    # where a signal delivered at random lands now and then.
    with marllb_env.LoadBalanceEnv(episode_steps=50) as env:
        env.reset(seed=6)
        pid, name, _ = episode_handles(env)

        def interrupted(action):
            raise KeyboardInterrupt

        monkeypatch.setattr(env, "check_action", interrupted)
        with pytest.raises(KeyboardInterrupt):
            env.step(np.ones(7))
        assert not process_alive(pid) and not region_exists(name)
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.ones(7))


def test_without_reuse_a_new_reset_stops_the_previous_process():
    # (With reuse, the default, the same process serves the next episode: test_episodes_in_one_process.py.)
    with marllb_env.LoadBalanceEnv(episode_steps=50, reuse_sim=False) as env:
        env.reset(seed=6)
        pid, name, _ = episode_handles(env)
        env.reset(seed=6)
        assert not process_alive(pid) and not region_exists(name)
        assert process_alive(env._episode.proc.pid)


def test_dropping_the_environment_stops_the_process_and_removes_the_region():
    env = marllb_env.LoadBalanceEnv(episode_steps=50)
    env.reset(seed=6)
    pid, name, tmp = episode_handles(env)
    del env
    gc.collect()
    assert not process_alive(pid) and not region_exists(name) and not os.path.exists(tmp)


CTRL_C_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    import marllb_env
    from conftest import process_alive
    env = marllb_env.LoadBalanceEnv(episode_steps=1_000_000)
    env.reset(seed=1)
    pid = env._episode.proc.pid
    print(pid, env._episode.names[0], flush=True)
    where = sys.argv[1]
    try:
        if where == "step":
            action = np.ones(7)  # made once: the loop's own code between steps is a few bytecodes
            while True:
                env.step(action)
        else:
            time.sleep(60)
    except KeyboardInterrupt as e:
        if where == "step":  # still in this interpreter, env still referenced
            tb = e.__traceback__
            while tb.tb_next:
                tb = tb.tb_next
            # Python delivers the interrupt between bytecodes: between two steps in the loop
            # above, or at step()'s own entry, no step is running yet (the test tries again)
            code = tb.tb_frame.f_code
            outside = code.co_filename == __file__ or (code.co_name == "step" and tb.tb_lineno == code.co_firstlineno)
            print("interrupted outside a step:", outside, flush=True)
            print("after-interrupt alive:", process_alive(pid), flush=True)
        raise
""")


@pytest.mark.parametrize("where", ["step", "user-code"])
def test_ctrl_c_stops_the_process_and_removes_the_region(where, tmp_path):
    # In a step: the step itself stops the episode (so a notebook that catches the interrupt
    # holds no running simulator). Elsewhere: the interpreter's exit does. An interrupt meant
    # for a step can land between two (outside any step): then only the exit is checked, and
    # the test interrupts a new child, up to 5 times, until one lands in a step.
    for _ in range(5):
        if interrupt_child(where, tmp_path):
            return
    pytest.fail("5 interrupts all landed outside a step")


def interrupt_child(where, tmp_path):
    """One child interrupted; True unless an interrupt meant for a step landed outside it."""
    script = tmp_path / "child.py"
    script.write_text(CTRL_C_CHILD)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    child = subprocess.Popen([sys.executable, str(script), where], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    pid, name = None, None
    try:
        pid_text, name = child.stdout.readline().split()
        pid = int(pid_text)
        time.sleep(0.5)  # into the loop of steps, or the sleep
        assert process_alive(pid) and region_exists(name)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
        assert "KeyboardInterrupt" in err
        outside = where == "step" and "interrupted outside a step: True" in out
        if where == "step" and not outside:
            assert "interrupted outside a step: False" in out and "after-interrupt alive: False" in out, (out, err)
        assert not process_alive(pid) and not region_exists(name)
        return not outside
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if pid and process_alive(pid):
            os.kill(pid, signal.SIGKILL)
        if name and region_exists(name):
            os.unlink(f"/dev/shm/{name}")


def test_the_clean_model_ends_its_episode_too():
    # The clean LB also waits for an answer to its last observation; the environment gives one.
    with marllb_env.LoadBalanceEnv(episode_steps=4, lb_model="clean") as env:
        env.reset(seed=2)
        for _ in range(4):
            _, _, _, truncated, info = env.step(np.ones(7))
        assert truncated and info["episode"]["observations"] == 5
        with pytest.raises(RuntimeError, match="reset"):
            env.step(np.ones(7))


def test_a_simulator_that_fails_to_start_says_why():
    env = marllb_env.LoadBalanceEnv(episode_steps=2, sim_args=["--no-such-option"])
    with pytest.raises(marllb_env.SimError, match="no-such-option"):
        env.reset(seed=1)
    assert env._episode.proc is None


def test_a_schedule_changes_every_episode_from_its_start_and_the_same_seed_repeats_it(tmp_path):
    # Server 0 throttled to a tenth from the second step on: its flows pile up in what the LB
    # observes. With the schedule and without, the same seed; twice with it, the same episode.
    events = tmp_path / "throttle.csv"
    events.write_text("time_s,event,server,value\n0.2,capacity,0,0.1\n")
    kw = dict(episode_steps=15, servers="1,1", load=0.6, work="pareto:1.5", provisioned="1,1")
    with marllb_env.LoadBalanceEnv(events=str(events), **kw) as env:
        a_obs, _, a_info = run_episode(env, 3, 15)
        b_obs, _, _ = run_episode(env, 3, 15)
    with marllb_env.LoadBalanceEnv(**kw) as plain:
        p_obs, _, _ = run_episode(plain, 3, 15)
    np.testing.assert_array_equal(a_obs, b_obs)
    # The flows' durations on server 0 over the last 10 steps: the throttled server's are
    # longer than server 1's, and than its own without the schedule.
    col = marllb_env.OBS_COLUMNS.index("duration_mean_decay")
    dur, plain_dur = a_obs[-10:, :, col].mean(axis=0), p_obs[-10:, :, col].mean(axis=0)
    assert dur[0] > 1.5 * dur[1] and dur[0] > 1.5 * plain_dur[0], (dur, plain_dur)
    assert a_info["episode"]["events"] == "throttle.csv" and a_info["episode"]["work"] == "pareto:1.5"


def test_bad_constructor_arguments_say_what_is_accepted(tmp_path):
    missing = tmp_path / "missing-folder"  # never made: a fixed path could exist on some machine
    with pytest.raises(ValueError, match="preset"):
        marllb_env.LoadBalanceEnv(servers="1,x")
    with pytest.raises(ValueError, match="use one of jain"):
        marllb_env.LoadBalanceEnv(reward_type="fair")
    with pytest.raises(FileNotFoundError, match="sim/traces"):
        marllb_env.LoadBalanceEnv(trace=str(missing / "trace.csv"))
    with pytest.raises(FileNotFoundError, match="not an executable"):
        marllb_env.LoadBalanceEnv(sim=str(missing / "marllb-sim"))
    with pytest.raises(ValueError, match=r"lbs must be a whole number in \[1, 64\]"):
        marllb_env.LoadBalanceEnv(lbs=0)
    with pytest.raises(ValueError, match="trace_start_s must be a finite number >= 0"):
        marllb_env.LoadBalanceEnv(trace_start_s=-1)
    with pytest.raises(ValueError, match="trace_start_s must be a finite number >= 0"):
        marllb_env.LoadBalanceEnv(trace="sim/traces/poisson_for_loop_rate_350.csv", trace_start_s=float("inf"))
    with pytest.raises(ValueError, match="trace_start_s=30 needs a trace"):  # not silently Poisson from 0
        marllb_env.LoadBalanceEnv(load=0.85, trace_start_s=30)
    with pytest.raises(ValueError, match="provisioned gives 2 capacities for 7 servers"):
        marllb_env.LoadBalanceEnv(provisioned="1,1")
    with pytest.raises(FileNotFoundError, match="events '.*/events.csv' does not exist"):
        marllb_env.LoadBalanceEnv(events=str(missing / "events.csv"))
    for yield_s, sleep_s in ((-1e-3, 50e-6), (float("nan"), 50e-6), (2e-3, float("inf"))):
        with pytest.raises(ValueError, match="poll_yield_s and poll_sleep_s must be finite and >= 0"):
            marllb_env.LoadBalanceEnv(poll_yield_s=yield_s, poll_sleep_s=sleep_s)


# ---- several LBs, one agent each

def test_several_lbs_each_apply_their_own_agents_action_and_see_only_their_own_flows():
    # LB 0's agent puts all weight on server 0, LB 1's on server 6: each LB's flows go to its
    # own server, and each LB's observation counts only the flows it balanced.
    with marllb_env.LoadBalanceEnv(episode_steps=15, load=0.5, lbs=2) as env:
        assert env.observation_space.shape == (2, 7, 11) and env.action_space.shape == (2, 7)
        obs, info = env.reset(seed=3)
        assert obs.shape == (2, 7, 11) and len(info["regions"]) == 2
        action = np.zeros((2, 7))
        action[0, 0] = action[1, 6] = 1.0
        for _ in range(15):
            obs, reward, _, truncated, info = env.step(action)
        assert env.observation_space.contains(obs)
        assert obs[0, 0, 0] > 10 * max(1.0, obs[0, 1:, 0].max()), obs[0, :, 0]
        assert obs[1, 6, 0] > 10 * max(1.0, obs[1, :6, 0].max()), obs[1, :, 0]
        assert len(info["lb_rewards"]) == 2
        assert reward == pytest.approx(np.mean(info["lb_rewards"]))
        row = info["episode"]
        assert row["lbs"] == 2 and row["actions_applied"] == 30 and row["actions_rejected"] == 0


def test_with_several_lbs_each_reward_is_the_fairness_of_that_lbs_own_observation():
    with marllb_env.LoadBalanceEnv(episode_steps=6, lbs=3, reward_type="jain") as env:
        obs, _ = env.reset(seed=4)
        col = marllb_env.OBS_COLUMNS.index("duration_mean_decay")
        differ = False
        for _ in range(6):
            obs, reward, _, _, info = env.step(np.ones((3, 7)))
            expected = [marllb_reward.fairness(np.asarray(f), "jain") for f in info["reward_fields"]]
            assert info["lb_rewards"] == expected
            for lb in range(3):  # every server is active here: the fields are the whole column
                assert info["reward_fields"][lb] == obs[lb, :, col].tolist()
            differ |= len(set(info["lb_rewards"])) > 1
        assert differ  # three views of the same servers, not one copied


def test_a_bad_action_for_one_lb_writes_nothing_to_any_lb():
    with marllb_env.LoadBalanceEnv(episode_steps=5, lbs=2) as env:
        env.reset(seed=5)
        recs = [RecordingRegion(r) for r in env._episode.regions]
        env._episode.regions[:] = recs
        bad = np.ones((2, 7))
        bad[1, 4] = np.nan
        with pytest.raises(ValueError, match=r"action\[1, 4\] = nan.*of LB 1"):
            env.step(bad)
        with pytest.raises(ValueError, match=r"shape \(2, 7\)"):
            env.step(np.ones(7))
        with pytest.raises(ValueError, match=r"action\[0\]: weights must fit in float32"):
            env.step(np.vstack([np.full(7, 1e39), np.ones(7)]))
        assert all(r.writes == [] for r in recs)
        _, _, _, _, info = env.step(np.ones((2, 7)))
        assert [len(r.writes) for r in recs] == [1, 1] and info["sequence_id"] == 2


def test_close_stops_a_several_lb_episode_and_removes_every_region():
    env = marllb_env.LoadBalanceEnv(episode_steps=50, lbs=3)
    env.reset(seed=6)
    env.step(np.ones((3, 7)))
    names, pid = list(env._episode.names), env._episode.proc.pid
    assert len(names) == 3 and all(region_exists(n) for n in names)
    env.close()
    assert not process_alive(pid) and not any(region_exists(n) for n in names)
