"""rl/evaluate.py end to end on a small untrained policy (needs PyTorch and marllb-sim; ctest
sets MARLLB_SIM): one row per (policy, LBs, seed, workload), every policy of a workload on the
same simulator seed, the agent's actions reaching each LB, the trace windows apart, and a
summary row per policy with the aim's verdict."""
import csv
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import sac_gru  # noqa: E402

SIM = os.environ.get("MARLLB_SIM")
pytestmark = pytest.mark.skipif(not SIM, reason="MARLLB_SIM (the marllb-sim binary) is not set; ctest sets it")


def write_run(folder, lbs):
    os.makedirs(folder)
    agents = [sac_gru.Agent(7, hidden=16, seed=lb) for lb in range(lbs)]
    settings = {"servers": "marllb7", "lbs": lbs, "lb_model": "marllb", "reward_type": "var", "hidden": 16}
    torch.save({"policies": [a.policy.state_dict() for a in agents], "settings": settings,
                "done": {"episodes": 1, "steps": 10, "wall_s": 1.0}}, os.path.join(folder, "policies.pt"))


def test_rows_pair_every_policy_on_the_same_workloads_and_the_agents_drive_every_lb(tmp_path):
    runs = [str(tmp_path / "one"), str(tmp_path / "two")]
    write_run(runs[0], 1)
    write_run(runs[1], 2)
    rows_csv, summary_csv = tmp_path / "rows.csv", tmp_path / "summary.csv"
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "evaluate.py"), "--runs", *runs, "--seeds", "2",
                        "--steps", "12", "--workloads", "poisson-0.85,trace-350", "--csv", str(rows_csv),
                        "--summary", str(summary_csv)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    rows = list(csv.DictReader(open(rows_csv)))
    keys = {(x["policy"], x["lbs"], x["seed"], x["workload"]) for x in rows}
    assert len(rows) == len(keys) == 6 * 2 * 2 * 2  # policies x LBs x seeds x workloads, no duplicate
    for lbs in ("1", "2"):
        for wl in ("poisson-0.85", "trace-350"):
            cell = [x for x in rows if x["lbs"] == lbs and x["workload"] == wl]
            for seed in {x["seed"] for x in cell}:
                same = [x for x in cell if x["seed"] == seed]
                assert len({x["sim_seed"] for x in same}) == 1, same  # paired: one workload per seed
            for x in cell:
                agent_path = x["policy"] in ("sac-gru", "agent-weights-1")
                # 12 answers per LB through the regions; the heuristics run without an agent
                assert int(x["actions_applied"]) == (12 * int(lbs) if agent_path else 0), x
    starts = sorted({float(x["trace_start_s"]) for x in rows if x["workload"] == "trace-350"})
    assert len(starts) == 2 and starts[1] - starts[0] >= (12 + 1.5) * 0.2 - 1e-9  # windows do not overlap
    summary = list(csv.DictReader(open(summary_csv)))
    assert len(summary) == 6 * 2 * 2
    mine = [x for x in summary if x["policy"] == "sac-gru"]
    assert {x["aim"] for x in mine if x["lbs"] == "1"} == {"match SED at least"}
    assert {x["aim"] for x in mine if x["lbs"] == "2"} == {"beat the best heuristic"}
    assert all(x["aim_met"] in ("yes", "no") for x in mine)
    # The same summary again from the rows alone (--rows-from: rows of several invocations)
    again = tmp_path / "again.csv"
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "evaluate.py"), "--rows-from", str(rows_csv),
                        "--summary", str(again)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert again.read_text() == summary_csv.read_text()


def test_a_run_without_policies_says_how_to_make_one(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(HERE, "..", "evaluate.py"), "--runs", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "no policies.pt" in r.stderr and "scripts/train.sh" in r.stderr
