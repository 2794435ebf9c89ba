"""rl/train.py's resume rule (needs PyTorch; no simulator runs: the checkpoint is already at
--episodes): a checkpoint resumes only under its own settings, and one written before a setting
was recorded counts as having used that setting's default."""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
HERE = os.path.dirname(os.path.abspath(__file__))
import sac_gru

SETTINGS = {"steps": 100, "servers": "marllb7", "load": "0.85", "trace": None, "lb_model": "marllb",
            "reward_type": "var", "seed": 1, "hidden": 16, "batch": 64, "buffer": 1000, "lbs": 1}


def checkpoint(folder, **settings):
    os.makedirs(folder, exist_ok=True)
    agent = sac_gru.Agent(7, hidden=16, buffer=1000)
    torch.save({"agents": [agent.state()], "done": {"episodes": 2, "steps": 200, "wall_s": 1.0},
                "settings": {**SETTINGS, **settings}}, os.path.join(folder, "checkpoint.pt"))


def train(folder, *args):
    return subprocess.run([sys.executable, os.path.join(HERE, "..", "train.py"), "--out", str(folder), "--episodes", "2",
                           "--hidden", "16", "--buffer", "1000", *args], capture_output=True, text=True, timeout=120)


def test_an_older_checkpoint_resumes_at_the_defaults_of_settings_it_did_not_record(tmp_path):
    checkpoint(tmp_path)  # no warmup, no updates_per_step: written before they were recorded
    r = train(tmp_path)
    assert r.returncode == 0 and "resumed" in r.stdout, r.stdout + r.stderr
    r = train(tmp_path, "--warmup", "300")
    assert r.returncode != 0 and "'warmup': (200, 300)" in r.stderr, r.stderr


def test_a_checkpoint_refuses_other_settings_and_names_them(tmp_path):
    checkpoint(tmp_path, warmup=200, updates_per_step=1)
    r = train(tmp_path, "--lbs", "2")
    assert r.returncode != 0 and "'lbs': (1, 2)" in r.stderr, r.stderr
    r = train(tmp_path, "--updates-per-step", "2")
    assert r.returncode != 0 and "'updates_per_step': (1, 2)" in r.stderr, r.stderr
    assert train(tmp_path).returncode == 0


def test_results_without_a_checkpoint_are_refused_not_replaced(tmp_path):
    """A clone has a run's progress.csv and policies.pt but not its checkpoint: training there
    would start over and overwrite them, so it is refused (exit 2) and both files stay as they were."""
    (tmp_path / "progress.csv").write_text("episode\n0\n")
    (tmp_path / "policies.pt").write_bytes(b"kept")
    r = train(tmp_path)
    assert r.returncode == 2 and "no checkpoint.pt to resume from" in r.stderr, r.stderr
    assert (tmp_path / "progress.csv").read_text() == "episode\n0\n"
    assert (tmp_path / "policies.pt").read_bytes() == b"kept"


def test_other_settings_are_a_user_error_exit_2(tmp_path):
    checkpoint(tmp_path, warmup=200, updates_per_step=1)
    assert train(tmp_path, "--lbs", "2").returncode == 2


def test_an_out_that_cannot_be_written_is_refused_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = train(blocker / "run")
    assert r.returncode == 2 and "is not a folder this user can write" in r.stderr, r.stderr
