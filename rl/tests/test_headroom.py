"""rl/headroom.py: the true capacities it sends follow the schedule's capacity events, at the
time each step's weights take effect, to every LB; end to end (marllb-sim; ctest sets
MARLLB_SIM), its SED row and the agent path with the provisioned weights are the same run, and
the true weights are not; bad input exits 2 before any episode."""
import csv
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
import headroom  # rl/, on pytest's path (pyproject.toml)

SIM = os.environ.get("MARLLB_SIM")
SCRIPT = os.path.join(HERE, "..", "headroom.py")


def write(path, text):
    path.write_text(text)
    return str(path)


def test_the_capacities_follow_the_capacity_events_and_nothing_else(tmp_path):
    events = write(tmp_path / "e.csv", "time_s,event,server,value\n# a comment\n"
                                       "2,capacity,1,0.5   # server 1 throttled\n3,rate,,400\n"
                                       "4,capacity,1,2\n4,capacity,2,3\n5,drain,0,\n")
    s = headroom.capacity_schedule(events, (1.0, 2.0, 1.0))
    at = lambda t: headroom.capacities_at(s, t)  # noqa: E731
    assert at(0) == at(1.99) == (1.0, 2.0, 1.0)
    assert at(2) == at(3.5) == (1.0, 0.5, 1.0)
    assert at(4) == at(100) == (1.0, 2.0, 3.0)  # two events at one time: both
    assert headroom.capacity_schedule(None, (1.0, 2.0)) == [(0.0, (1.0, 2.0))]


@pytest.mark.parametrize("line, says", [("2,capacity,9,1", "server 9 is not one of the 3"),
                                        ("2,capacity,x,1", "needs a time, a server index and a value"),
                                        ("2,capacity,1", "expected time_s,event,server,value"),
                                        ("0.5,capacity,1,1", "before the previous capacity event"),
                                        ("-1,capacity,1,1", "is negative")])
def test_a_bad_capacity_event_names_its_file_and_line(tmp_path, line, says):
    events = write(tmp_path / "e.csv", f"time_s,event,server,value\n1,capacity,0,2\n{line}\n")
    with pytest.raises(ValueError, match=f"e.csv:3: .*{says}"):
        headroom.capacity_schedule(events, (1.0, 1.0, 1.0))


class FakeEnv:
    """Records what the agent's path sends: an episode of 4 steps, 2 LBs."""
    num_lbs = 2

    def __init__(self):
        self.sent = []

    def reset(self, seed):
        return None, {"sim_seed": seed + 7}

    def step(self, weights):
        self.sent.append(np.array(weights))
        done = len(self.sent) == 4
        return None, 0.0, False, done, {"episode": {"seed": 1}} if done else {}


@pytest.mark.parametrize("lb_model, first", [("marllb", 0.4), ("clean", 0.2)])
def test_each_step_sends_the_capacities_of_the_interval_it_governs_to_every_lb(lb_model, first):
    env = FakeEnv()
    sim_seed, _ = headroom.weights_path_row(env, 3, lambda t: [t, 1.0], lb_model)
    assert sim_seed == 10
    # the reset's observation is published at 0.2 s; MARLLB's LB applies the answer to it at the
    # next publish (0.4 s), the clean LB at once (0.2 s); then one interval a step
    assert [w.shape for w in env.sent] == [(2, 2)] * 4
    assert np.allclose([w[:, 0] for w in env.sent], [[first + 0.2 * k] * 2 for k in range(4)])


def run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args, says", [
    (["--servers", "1,2", "--provisioned", "1,2,3"], "3 capacities for 2 servers"),
    (["--servers", "1,2", "--workloads", "trace-350"], "is not poisson-LOAD"),
    (["--servers", "1,2", "--seeds", "1"], "--seeds must be 2..31"),
    (["--servers", "1,2", "--events", "{tmp}/missing-folder/events.csv"], "is not a file"),
    (["--servers", "1,2", "--events", "/tmp"], "is not a file"),
    (["--servers", "1,2", "--csv", "{tmp}/missing-folder/rows.csv"], "cannot write there"),
    (["--servers", "1,2", "--csv", "/tmp"], "cannot write there"),
])
def test_bad_arguments_exit_2_and_say_what_was_wrong(args, says, tmp_path):
    # a missing folder under the test's own tmp_path: one at a fixed path (/nonexistent-dir) exists
    # on a machine once any run made it, and the test then fails there for good
    r = run(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert r.returncode == 2 and says in r.stderr, r.stderr
    assert not (tmp_path / "missing-folder").exists()


def test_a_csv_of_other_columns_is_refused_and_kept(tmp_path):
    rows = write(tmp_path / "rows.csv", "a,b\n1,2\n")
    r = run("--servers", "1,2", "--csv", rows)
    assert r.returncode == 2 and "other columns" in r.stderr, r.stderr
    assert open(rows).read() == "a,b\n1,2\n"


@pytest.mark.skipif(not SIM, reason="MARLLB_SIM (the marllb-sim binary) is not set; ctest sets it")
def test_sed_and_the_path_with_its_weights_are_one_run_and_the_true_weights_another(tmp_path):
    rows_csv = tmp_path / "rows.csv"
    # the 2-core servers really at 1.5, SED believing 2 (docs/rl.md, cell (b)); short episodes
    r = run("--servers", "1,1,1,1,1.5,1.5,1.5", "--provisioned", "1,1,1,1,2,2,2", "--seeds", "2", "--steps", "20",
            "--workloads", "poisson-0.95", "--csv", str(rows_csv))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = list(csv.DictReader(open(rows_csv)))
    assert len(rows) == 3 * 2
    for seed in ("10000", "10001"):
        by = {x["policy"]: x for x in rows if x["seed"] == seed}
        assert len({x["sim_seed"] for x in by.values()}) == 1  # one workload for the three
        sed, prov, true = by["sed"], by["sed-provisioned-weights"], by["sed-true-weights"]
        metrics = ("fct_p50_s", "fct_p90_s", "fct_p99_s", "flows_completed")
        # the agent's path with SED's weights is marllb-sim's SED, flow for flow (lockstep)
        assert [prov[m] for m in metrics] == [sed[m] for m in metrics]
        # other weights, another run: every step's answer applied, none rejected
        assert [true[m] for m in metrics] != [sed[m] for m in metrics]
        assert int(true["actions_applied"]) == int(prov["actions_applied"]) == 20
        assert int(true["actions_rejected"]) == 0 and int(sed["actions_applied"]) == 0


@pytest.mark.skipif(not SIM, reason="MARLLB_SIM (the marllb-sim binary) is not set; ctest sets it")
def test_an_events_file_marllb_sim_refuses_exits_2_before_any_row(tmp_path):
    events = write(tmp_path / "e.csv", "time_s,event,server,value\n1,throttle,0,2\n")
    rows_csv = tmp_path / "rows.csv"
    r = run("--servers", "1,2", "--events", events, "--seeds", "2", "--steps", "10", "--csv", str(rows_csv))
    assert r.returncode == 2 and "marllb-sim refused this world" in r.stderr and "throttle" in r.stderr, r.stderr
    assert not rows_csv.exists()
