"""The Python module: the seed's agent-side API on a real region, its numpy fast path, and
errors as exceptions with the core's messages."""
import os
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import marllb_shm as m


def features(n):
    return np.arange(n * 10, dtype=np.float32).reshape(n, 10) / 100


def test_observation_round_trips_as_the_seeds_dict(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        assert agent.read_observation() is None  # nothing published yet
        seq = lb.write_observation([3, 0, 7], features(3))
        obs = agent.read_observation()
        assert obs["sequence_id"] == seq == 1
        assert obs["active_servers"] == [0, 1, 2]
        assert obs["server_stats"][2]["n_flow_on"] == 7
        assert obs["server_stats"][1]["fct_p90"] == pytest.approx(0.11)
        assert obs["server_stats"][2]["duration_p90_decay"] == pytest.approx(0.29)
        assert set(obs["server_stats"][0]) == {"n_flow_on", *m.FEATURE_NAMES}
        assert obs["timestamp"] == pytest.approx(time.time(), abs=5)


def test_numpy_fast_path_equals_the_dict(name):
    # Each read returns an observation once: publish the same values twice, read each form once.
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        lb.write_observation(list(range(64)), features(64))
        a = agent.read_observation_arrays()
        lb.write_observation(list(range(64)), features(64))
        d = agent.read_observation()
        assert a["n_flow_on"].dtype == np.uint32 and a["features"].shape == (64, 10)
        assert a["active"].all()
        np.testing.assert_array_equal(a["n_flow_on"], np.arange(64))
        np.testing.assert_array_equal(a["features"], features(64))
        for s in (0, 17, 63):
            assert [d["server_stats"][s][k] for k in m.FEATURE_NAMES] == pytest.approx(list(a["features"][s]))


def test_write_action_builds_the_alias_and_the_lb_applies_it(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        assert lb.read_action() is None
        seq = lb.write_observation([1, 1, 1, 1])
        agent.write_action(sequence_id=seq, weights=[1.0, 2.0, 0.0, 1.0])
        act = lb.read_action()
        assert act["status"] == "applied" and act["sequence_id"] == seq
        assert act["weights"] == [1.0, 2.0, 0.0, 1.0]
        assert lb.read_action()["status"] == "unchanged"


@pytest.mark.parametrize("weights,num,why", [
    ([float("nan"), 1.0], None, "finite"),
    ([-1.0, 1.0], None, ">= 0"),
    ([0.0, 0.0], None, "all 0"),
    ([1.0] * 65, None, "at most 64"),
    ([1.0, 1.0], 3, "num_servers 3"),
])
def test_a_malformed_action_raises_with_the_reason(name, weights, num, why):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        seq = lb.write_observation([0, 0])
        with pytest.raises(m.ActionRejected, match=why):
            agent.write_action(seq, weights, num)
        assert lb.read_action() is None  # nothing reached the LB


def test_an_action_for_an_unpublished_observation_is_refused(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        lb.write_observation([0, 0])
        with pytest.raises(m.ActionRejected, match="refused"):
            agent.write_action(99, [1.0, 1.0])


def test_attaching_before_the_lb_raises_no_region_with_advice(name):
    with pytest.raises(m.NoRegionError, match="start the LB first"):
        m.SharedMemoryRegion(name)


def test_a_region_of_another_abi_version_is_refused_with_a_message(name):
    lb = m.SharedMemoryRegion(name, create=True)
    with open(f"/dev/shm/{name}", "r+b") as f:  # the header's abi_version (u32 after the 8-byte magic)
        f.seek(8)
        f.write(struct.pack("<I", m.ABI_VERSION + 1))
    with pytest.raises(m.RegionError, match="version") as e:
        m.SharedMemoryRegion(name)
    assert not isinstance(e.value, m.NoRegionError)
    lb.close()


def test_wait_observation_releases_the_gil(name):
    # A Python thread publishes while the main thread waits: it can only run if the wait
    # released the GIL.
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        def publish():
            time.sleep(0.05)
            lb.write_observation([5])
        t = threading.Thread(target=publish)
        t.start()
        obs = agent.wait_observation(after=0, timeout=5.0)
        t.join()
        assert obs is not None and obs["server_stats"][0]["n_flow_on"] == 5
        assert agent.wait_observation(timeout=0.05) is None


def test_heartbeats_make_each_side_see_the_other_alive(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        assert not lb.peer_alive(1.0)
        agent.heartbeat()
        lb.heartbeat()
        assert lb.peer_alive(1.0) and agent.peer_alive(1.0)


def test_the_wrong_side_is_told_which_side_it_is(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        with pytest.raises(m.RegionError, match="LB side"):
            lb.read_observation()
        with pytest.raises(m.RegionError, match="agent side"):
            agent.write_observation([1])


def test_producer_consumer_example_runs():
    ex = os.path.join(os.environ["MARLLB_PYTHON_EXAMPLES"], "producer_consumer.py")
    r = subprocess.run([sys.executable, ex, "--count", "50"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "consumer: 50 answered" in r.stdout


def test_python_agent_example_answers_each_observation_in_lockstep(name):
    # The example's --lockstep loop waits for each observation and answers it once.
    import signal
    lb = m.SharedMemoryRegion(name, create=True)
    ex = os.path.join(os.environ["MARLLB_PYTHON_EXAMPLES"], "python_agent.py")
    agent = subprocess.Popen([sys.executable, ex, "--region", name, "--lockstep"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(5):
            seq = lb.write_observation([1, 2, 3])
            deadline = time.monotonic() + 10
            act = lb.read_action()
            while (act is None or act["sequence_id"] != seq) and time.monotonic() < deadline:
                time.sleep(0.001)
                act = lb.read_action()
            assert act is not None and act["sequence_id"] == seq
    finally:
        agent.send_signal(signal.SIGTERM)
        out, err = agent.communicate(timeout=20)
        lb.close()
    assert agent.returncode == 0, err
    assert "5 decisions, 0 rejected" in out


def test_a_fork_child_cannot_write_and_keeps_no_agent_role(name):
    """A worker forked after attach (a fork-mode multiprocessing pool): its write_action is
    refused with a message naming the agent's pid, and while it lives the parent's close frees
    the agent role, so the parent attaches again."""
    with m.SharedMemoryRegion(name, create=True) as lb:
        seq = lb.write_observation([0, 0])
        agent = m.SharedMemoryRegion(name)
        said_r, said_w = os.pipe()
        hold_r, hold_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report what its write gave, then wait for the parent
            try:
                os.close(hold_w)
                try:
                    agent.write_action(seq, [1.0, 1.0])
                    verdict = b"written"
                except m.RegionError as e:
                    verdict = f"{e.code}:{e}".encode()
                os.write(said_w, verdict)
                os.read(hold_r, 1)
            finally:
                os._exit(0)
        os.close(hold_r)
        said = os.read(said_r, 4096).decode()
        try:
            assert said.startswith("busy:") and f"agent process {os.getpid()}" in said, said
            agent.close()
            with m.SharedMemoryRegion(name) as again:  # the role is free while the child lives
                again.write_action(seq, [1.0, 1.0])
            assert lb.read_action()["status"] == "applied"
        finally:
            os.close(hold_w)
            assert os.waitpid(pid, 0)[1] == 0
            os.close(said_r)
            os.close(said_w)
