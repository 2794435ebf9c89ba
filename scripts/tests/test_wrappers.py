"""Wrappers pass their child's failure through: each test runs a wrapper on a fake child that
fails (a fuzzer that crashes, a simulator that writes no row, an agent that errors) and
requires a non-zero exit; and on a fake child that succeeds, requires zero."""
import os
import stat
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN_FUZZER = os.path.join(ROOT, "core", "fuzz", "run_fuzzer.sh")
PIPELINE = os.path.join(ROOT, "scripts", "pipeline.py")


def script(path, body):
    path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.fixture
def seeds(tmp_path):
    d = tmp_path / "seeds"
    d.mkdir()
    (d / "one").write_bytes(b"x")
    return str(d)


def run_fuzzer(fuzzer, seeds, tmp_path):
    return subprocess.run([RUN_FUZZER, fuzzer, seeds, "1", str(tmp_path / "artifacts")],
                          capture_output=True, text=True, timeout=60)


def test_run_fuzzer_fails_when_the_fuzzer_crashes(tmp_path, seeds):
    # What libFuzzer prints and returns when an input crashes the target.
    fuzzer = script(tmp_path / "crashing_fuzzer", """\
        echo "==1234==ERROR: AddressSanitizer: heap-buffer-overflow"
        echo "SUMMARY: AddressSanitizer: heap-buffer-overflow"
        exit 77
        """)
    r = run_fuzzer(fuzzer, seeds, tmp_path)
    assert r.returncode == 77, r.stderr
    assert "exited 77" in r.stderr


def test_run_fuzzer_fails_when_the_fuzzer_prints_nothing_the_filter_keeps(tmp_path, seeds):
    # The filter on the log matches nothing here: the status must still be the fuzzer's.
    fuzzer = script(tmp_path / "silent_crash", "exit 1\n")
    assert run_fuzzer(fuzzer, seeds, tmp_path).returncode == 1


def test_run_fuzzer_passes_a_clean_run(tmp_path, seeds):
    fuzzer = script(tmp_path / "clean_fuzzer", """\
        echo "#2 DONE cov: 10 ft: 12 corp: 1/1b"
        echo "stat::number_of_executed_units: 2"
        exit 0
        """)
    r = run_fuzzer(fuzzer, seeds, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "stat::number_of_executed_units" in r.stderr


def test_run_fuzzer_refuses_a_missing_corpus(tmp_path):
    fuzzer = script(tmp_path / "clean_fuzzer", "exit 0\n")
    r = run_fuzzer(fuzzer, str(tmp_path / "nowhere"), tmp_path)
    assert r.returncode == 2 and "no seed corpus" in r.stderr


# pipeline.py on a fake build tree: marllb-sim and marllb-agent are small scripts.
def fake_build(tmp_path, sim_body, agent_body="trap 'exit 0' TERM; while :; do sleep 0.05; done\n"):
    apps = tmp_path / "build" / "sim" / "apps"
    apps.mkdir(parents=True)
    script(apps / "marllb-sim", sim_body)
    script(apps / "marllb-agent", agent_body)
    return str(tmp_path / "build")


SIM_WRITES_ROW = """\
    csv=""; prev=""
    for a in "$@"; do [ "$prev" = --csv ] && csv="$a"; prev="$a"; done
    [ -s "$csv" ] || echo "observations,actions_applied,actions_rejected" > "$csv"
    echo "5,3,0" >> "$csv"
    """


def pipeline(build, out, *extra):
    return subprocess.run([sys.executable, PIPELINE, "--build", build, "--out", str(out), "--duration", "0.2",
                           "--no-plot", *extra], capture_output=True, text=True, timeout=60)


def test_pipeline_passes_when_sim_and_agent_succeed(tmp_path):
    build = fake_build(tmp_path, SIM_WRITES_ROW)
    r = pipeline(build, tmp_path / "out", "--agent", "none")
    assert r.returncode == 0, r.stderr


def test_pipeline_fails_when_the_sim_writes_no_row_and_never_shows_an_older_one(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "pipeline.csv").write_text("observations,actions_applied,actions_rejected\n4242,4242,0\n")
    build = fake_build(tmp_path, "exit 0\n")
    r = pipeline(build, out, "--agent", "none")
    assert r.returncode == 1
    assert "wrote no result row" in r.stderr
    assert "4242" not in r.stdout


def test_pipeline_fails_when_the_sim_fails(tmp_path):
    build = fake_build(tmp_path, SIM_WRITES_ROW + "exit 3\n")
    r = pipeline(build, tmp_path / "out", "--agent", "none")
    assert r.returncode == 1 and "marllb-sim exited with 3" in r.stderr


def test_pipeline_fails_when_an_agent_fails_even_without_check(tmp_path):
    # The sim waits for its region; the agent reports an inconsistent observation and exits 1.
    sim = """\
        prefix=""; prev=""
        for a in "$@"; do [ "$prev" = --region-prefix ] && prefix="$a"; prev="$a"; done
        touch "/dev/shm/${prefix}0"; trap 'rm -f "/dev/shm/${prefix}0"' EXIT
        sleep 0.5
        """ + SIM_WRITES_ROW
    build = fake_build(tmp_path, sim, agent_body="exit 1\n")
    r = pipeline(build, tmp_path / "out")
    assert r.returncode == 1
    assert "agent 0 exited with 1" in r.stderr


def test_pipeline_fails_when_agent_0_had_already_exited_before_its_kill(tmp_path):
    sim = """\
        prefix=""; prev=""
        for a in "$@"; do [ "$prev" = --region-prefix ] && prefix="$a"; prev="$a"; done
        touch "/dev/shm/${prefix}0"; trap 'rm -f "/dev/shm/${prefix}0"' EXIT
        sleep 1.5
        """ + SIM_WRITES_ROW
    build = fake_build(tmp_path, sim, agent_body="exit 4\n")
    r = pipeline(build, tmp_path / "out", "--duration", "3", "--kill-agent-at", "1")
    assert r.returncode == 1
    assert "agent 0 exited with 4 before it was killed" in r.stderr


def test_pipeline_check_says_so_when_the_kill_never_happened(tmp_path):
    # The sim ends (writing its row) before the second the kill was planned for.
    build = fake_build(tmp_path, SIM_WRITES_ROW)
    r = pipeline(build, tmp_path / "out", "--duration", "50", "--kill-agent-at", "40", "--check")
    assert r.returncode == 1
    assert "never killed" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("args, says", [
    (["--kill-agent-at", "5"], "--kill-agent-at 5 is not within the run"),
    (["--duration", "10", "--kill-agent-at", "3", "--restart-agent-at", "2"], "--restart-agent-at 2 is not after --kill-agent-at 3"),
    (["--duration", "10", "--kill-agent-at", "3", "--restart-agent-at", "3"], "is not after --kill-agent-at 3"),
    (["--duration", "10", "--restart-agent-at", "4"], "--restart-agent-at needs --kill-agent-at"),
    (["--duration", "10", "--kill-agent-at", "3", "--restart-agent-at", "12"], "--restart-agent-at 12 is not within the run"),
    (["--duration", "10", "--agent", "none", "--kill-agent-at", "3"], "no agent to kill"),
    (["--duration", "10", "--kill-agent-at", "-1"], "is not within the run"),
    (["--duration", "0"], "--duration 0"),
    (["--lbs", "two"], "invalid int value"),
])
def test_pipeline_refuses_faults_it_cannot_run_before_anything_starts(tmp_path, args, says):
    # The fake sim would leave a mark if it were started.
    build = fake_build(tmp_path, f"touch {tmp_path}/sim-started\n" + SIM_WRITES_ROW)
    out = tmp_path / "out"
    r = pipeline(build, out, *args)
    assert r.returncode == 2
    assert says in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1  # one line: what and what to do
    assert not (tmp_path / "sim-started").exists()
    assert not out.exists()  # no run folder, no CSV


def test_pipeline_leaves_no_run_folder_when_the_sim_refuses_its_options(tmp_path):
    build = fake_build(tmp_path, "echo 'marllb-sim: server set: bad' >&2; exit 2\n")
    out = tmp_path / "out"
    r = pipeline(build, out, "--agent", "none")
    assert r.returncode == 2
    assert "server set: bad" in r.stderr
    assert [p.name for p in out.iterdir() if p.is_dir()] == []


def test_pipeline_version_names_the_commit():
    r = subprocess.run([sys.executable, PIPELINE, "--version"], capture_output=True, text=True)
    assert r.returncode == 0
    assert r.stdout.startswith("pipeline.py (git ") and r.stderr == ""
