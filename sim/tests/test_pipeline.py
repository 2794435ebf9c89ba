"""The full pipeline end to end (marllb-sim, agents, faults), as marllb.tools.pipeline (scripts/run.sh) runs it.

Each test is a short real run on the embedded DPDK default: the C++ agent with a kill and a
restart (fallback and recovery), the Python agent driving the LB, an LB killed under a live
agent, and the agent's messages when there is no LB or the region is of another ABI version.
"""
import os
import signal
import struct
import subprocess
import sys
import time
import uuid

import pytest

BUILD = os.environ.get("MARLLB_BUILD")
pytestmark = pytest.mark.skipif(not BUILD, reason="MARLLB_BUILD (the build directory) is not set")


def tool(name):
    return os.path.join(BUILD, "sim", "apps", name)


def pipeline(tmp_path, *args, timeout=120):
    r = subprocess.run([sys.executable, "-m", "marllb.tools.pipeline", "--build", BUILD,
                        "--out", str(tmp_path), "--check", *args], capture_output=True, text=True, timeout=timeout)
    return r


def test_cpp_agent_fallback_on_death_and_recovery_on_restart(tmp_path):
    r = pipeline(tmp_path, "--duration", "10", "--kill-agent-at", "3", "--restart-agent-at", "6")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "fallback and recovery: ok" in r.stdout
    runs = [d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d)]
    assert os.path.exists(tmp_path / runs[0] / "pipeline.png")


def test_python_agent_drives_the_lb(tmp_path):
    r = pipeline(tmp_path, "--duration", "5", "--agent", "python", "--no-plot")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "python-agent" in r.stdout and "0 rejected" in r.stdout


def test_bad_servers_shows_the_sims_error_and_nothing_of_an_earlier_run(tmp_path):
    # An earlier run's row in the same pipeline.csv must not be shown as this run's.
    (tmp_path / "pipeline.csv").write_text("observations,actions_applied,actions_rejected\n4242,4242,0\n")
    r = pipeline(tmp_path, "--duration", "2", "--servers", "1,x", "--no-plot", timeout=60)
    assert r.returncode == 2  # a user error: the simulator refused its options
    assert "marllb-sim: server set '1,x'" in r.stderr  # the simulator's own message reaches the user
    assert "marllb-sim exited with 2" in r.stderr
    assert [d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d)] == []  # no run folder left behind
    assert "pipeline summary" not in r.stdout and "4242" not in r.stdout
    assert "agent 0" not in r.stderr  # no agent was started for a sim that never ran


def test_two_lbs_each_with_its_agent(tmp_path):
    r = pipeline(tmp_path, "--duration", "4", "--lbs", "2", "--no-plot")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]


def test_agent_waits_through_an_lb_restart_and_carries_on(tmp_path):
    prefix = f"marllb_t{uuid.uuid4().hex[:8]}_"
    log = tmp_path / "agent.csv"
    agent = subprocess.Popen([tool("marllb-agent"), "--region", prefix + "0", "--interval-ms", "100", "--log", str(log),
                              "--lb-timeout-ms", "300", "--wait-s", "20"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sim_args = [tool("marllb-sim"), "--policy", "agent", "--region-prefix", prefix, "--quiet", "--keep-region"]
        first = subprocess.Popen(sim_args + ["--duration", "30"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.5)
        first.send_signal(signal.SIGKILL)  # the LB dies; its region stays
        first.wait()
        time.sleep(1.0)
        second = subprocess.run(sim_args + ["--duration", "3"], capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
        assert "reopened (generation 2)" in second.stdout
        applied = int(second.stdout.split("actions applied")[0].split(",")[-1].split()[-1])
        assert applied > 0  # the same agent's actions reach the restarted LB
    finally:
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=20)
        try:
            os.unlink(f"/dev/shm/{prefix}0")
        except FileNotFoundError:
            pass
    assert "LB of" in err and "stopped; waiting" in err
    assert "1 LB restarts, 0 sequence regressions" in out


def test_agent_without_an_lb_says_to_start_the_lb_first():
    r = subprocess.run([tool("marllb-agent"), "--region", f"marllb_none_{uuid.uuid4().hex[:8]}", "--wait-s", "0.3"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "Start the LB first" in r.stderr


def test_agent_refuses_a_region_of_another_abi_version(tmp_path):
    prefix = f"marllb_v{uuid.uuid4().hex[:8]}_"
    sim = subprocess.Popen([tool("marllb-sim"), "--region-prefix", prefix, "--duration", "10", "--quiet"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        path = f"/dev/shm/{prefix}0"
        deadline = time.monotonic() + 10
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        with open(path, "r+b") as f:  # abi_version, the u32 after the 8-byte magic
            f.seek(8)
            f.write(struct.pack("<I", 99))
        r = subprocess.run([tool("marllb-agent"), "--region", prefix + "0", "--wait-s", "1"], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 2
        assert "version" in r.stderr
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.kill()
        sim.wait()
        try:
            os.unlink(f"/dev/shm/{prefix}0")
        except FileNotFoundError:
            pass


@pytest.mark.parametrize("args", [["--interval-ms", "-1"], ["--interval-ms", "x"], ["--no-such-option"],
                                  ["--region", "a", "--region", "b"]])
def test_agent_user_errors_exit_2_with_one_line(args):
    r = subprocess.run([tool("marllb-agent"), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert r.stderr.startswith("marllb-agent: ") and r.stderr.count("\n") == 1, r.stderr


@pytest.mark.parametrize("flag", ["--csv", "--log"])
def test_agent_checks_its_outputs_before_it_waits_for_an_lb(tmp_path, flag):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = subprocess.run([tool("marllb-agent"), "--region", f"marllb_none_{uuid.uuid4().hex[:8]}", "--wait-s", "30",
                        flag, str(blocker / "a.csv")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert f"cannot write '{blocker}/a.csv': Not a directory" in r.stderr and flag in r.stderr
    assert "waiting for the LB" not in r.stderr


def test_agent_version_names_the_commit():
    r = subprocess.run([tool("marllb-agent"), "--version"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and r.stdout.startswith("marllb-agent ") and "(git " in r.stdout
