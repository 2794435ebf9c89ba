"""marllb.tools.pipeline (scripts/run.sh) passes its children's failures through: each test runs
it on a fake build tree whose marllb-sim and marllb-agent are small scripts that fail (a simulator
that writes no row or exits non-zero, an agent that errors) and requires a non-zero exit; on
children that succeed, zero. Options that cannot make a run are refused before anything starts."""
import re
import stat
import subprocess
import sys
import textwrap

import pytest

PIPELINE = [sys.executable, "-m", "marllb.tools.pipeline"]


def script(path, body):
    path.write_text("#!/usr/bin/env bash\n" + textwrap.dedent(body))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


# marllb-pipeline on a fake build tree: marllb-sim and marllb-agent are small scripts.
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
    return subprocess.run([*PIPELINE, "--build", build, "--out", str(out), "--duration", "0.2",
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
    r = subprocess.run([*PIPELINE, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == ""
    assert re.fullmatch(r"marllb-pipeline \(git ([0-9a-f]{12}(-dirty)?|unknown)\)\n", r.stdout), r.stdout
