"""The LB's server count: declared at open, read by the agent, enforced before anything is
written (Python) and by the LB's poll (raw bytes); a new server set refuses the old one's
actions. And RegionError's .code, and messages in Python's terms."""
import mmap
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import marllb_shm as m

ACTION_OFFSET = 16384
ACTION_MSG = ACTION_OFFSET + 192  # marllb_action_section_t.msg
ACTIONS_WRITTEN = ACTION_OFFSET + 64 + 24  # agent line: heartbeat, pid + pad, attach_count, actions_written


def raw_action(seq, weights):
    """msg_in_t bytes for `weights`, with a valid alias table for them (built as Vose's
    method would: here the simplest valid one, each entry kept with probability
    w_i * n / sum and otherwise aliased to the heaviest server)."""
    n = len(weights)
    w = np.asarray(weights, dtype=np.float64)
    p = w * n / w.sum()
    heavy = int(np.argmax(w))
    # share of heavy = p_heavy_kept + sum over others of (1 - p_i): solve for heavy's prob
    probs = np.minimum(p, 1.0)
    probs[heavy] = 0.0
    probs[heavy] = p[heavy] - (n - 1 - (probs.sum()))  # what heavy keeps of its own entry
    assert 0 <= probs[heavy] <= 1
    body = struct.pack("<QQII", seq, 0, n, 0)
    body += struct.pack("<64f", *(list(weights) + [0.0] * (64 - n)))
    for i in range(64):
        body += struct.pack("<fI", float(probs[i]), heavy) if i < n else struct.pack("<fI", 0.0, 0)
    assert len(body) == 792
    return body


def write_raw(name, body):
    """Writes an action as raw bytes, bypassing the module (a buggy or hostile agent)."""
    with open(f"/dev/shm/{name}", "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
        lock = struct.unpack_from("<Q", mm, ACTION_OFFSET)[0]
        mm[ACTION_MSG:ACTION_MSG + len(body)] = body
        struct.pack_into("<Q", mm, ACTION_OFFSET, (lock | 1) + 1)


def actions_written(name):
    with open(f"/dev/shm/{name}", "rb") as f:
        f.seek(ACTIONS_WRITTEN)
        return struct.unpack("<Q", f.read(8))[0]


@pytest.mark.parametrize("count", [8, 3])
def test_weights_for_another_server_count_are_refused_before_writing(name, count):
    with m.SharedMemoryRegion(name, create=True, num_servers=7) as lb, m.SharedMemoryRegion(name) as agent:
        assert agent.num_servers == 7 and lb.num_servers == 7
        seq = lb.write_observation([0] * 7)
        before = actions_written(name)
        weights = [1.0] * count
        with pytest.raises(m.ActionRejected, match="declared 7 servers") as e:
            agent.write_action(seq, weights)  # num_servers defaults to len(weights): no longer enough
        assert e.value.reason == "server_count"
        with pytest.raises(m.ActionRejected) as e:
            agent.write_action(seq, weights, num_servers=count)
        assert e.value.reason == "server_count"
        assert actions_written(name) == before  # nothing reached the region
        assert lb.read_action() is None


@pytest.mark.parametrize("count", [8, 3])
def test_raw_bytes_for_another_server_count_are_rejected_by_the_lb_and_the_action_in_force_stays(name, count):
    with m.SharedMemoryRegion(name, create=True, num_servers=7) as lb, m.SharedMemoryRegion(name) as agent:
        seq = lb.write_observation([0] * 7)
        agent.write_action(seq, [1, 1, 1, 1, 2, 2, 2])
        assert lb.read_action()["status"] == "applied"
        seq2 = lb.write_observation([0] * 7)
        weights = [1.0] * (count - 1) + [1000.0]  # the heavy weight on the last index
        write_raw(name, raw_action(seq2, weights))
        a = lb.read_action()
        assert a["status"] == "rejected" and "server count" in a["reason"]
        assert a["sequence_id"] == seq and a["num_servers"] == 7  # the previous action stays
        v = agent.verdicts()
        assert v["last_reject_reason"] == "server_count" and v["last_rejected_seq"] == seq2


def test_the_raw_writer_itself_is_sound(name):
    # The helper above writes an action the LB applies when its count is right: the rejections
    # are about the count, not the bytes.
    with m.SharedMemoryRegion(name, create=True, num_servers=7) as lb, m.SharedMemoryRegion(name):
        seq = lb.write_observation([0] * 7)
        write_raw(name, raw_action(seq, [1.0] * 6 + [1000.0]))
        assert lb.read_action()["status"] == "applied"


def test_a_new_server_set_refuses_actions_for_the_old_one(name):
    with m.SharedMemoryRegion(name, create=True, num_servers=7) as lb, m.SharedMemoryRegion(name) as agent:
        seq = lb.write_observation([0] * 7)
        agent.write_action(seq, [1.0] * 7)
        assert lb.read_action()["status"] == "applied"
        lb.set_servers(8)  # a server added
        assert lb.read_action() is None  # the old set's action is no longer in force
        assert agent.num_servers == 8 and agent.server_set_seq == seq + 1
        with pytest.raises(m.ActionRejected) as e:
            agent.write_action(seq, [1.0] * 8)  # answers an observation of the old set
        assert e.value.reason == "server_set"
        with pytest.raises(ValueError, match="declared 8 servers"):
            lb.write_observation([0] * 7)  # the LB publishes for its declared set
        seq = lb.write_observation([0] * 8)
        agent.write_action(seq, [1.0] * 8)
        assert lb.read_action()["status"] == "applied"
        with pytest.raises(ValueError, match="1..64"):
            lb.set_servers(0)
        with pytest.raises(TypeError):
            lb.set_servers(True)


def test_an_agent_built_for_another_count_is_told_at_attach(name):
    with m.SharedMemoryRegion(name, create=True, num_servers=7):
        with pytest.raises(m.RegionError, match="LB of 7 servers") as e:
            m.SharedMemoryRegion(name, num_servers=8)
        assert e.value.code == "server_count"
        with m.SharedMemoryRegion(name, num_servers=7) as agent:  # and the right one attaches
            assert agent.num_servers == 7


def test_an_lb_that_declares_nothing_accepts_any_count_as_before(name):
    with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent:
        assert agent.num_servers == 0
        seq = lb.write_observation([0] * 3)
        agent.write_action(seq, [1.0] * 3)
        assert lb.read_action()["status"] == "applied"


def test_region_errors_carry_a_code_a_program_can_test(name):
    with pytest.raises(m.NoRegionError) as e:
        m.SharedMemoryRegion(name)
    assert e.value.code == "no_region"
    with m.SharedMemoryRegion(name, create=True):
        with pytest.raises(m.RegionError) as e:
            m.SharedMemoryRegion(name, create=True)  # a second LB
        assert e.value.code == "busy"
    agent = None
    with pytest.raises(m.RegionError) as e:
        agent = m.SharedMemoryRegion(name)  # the LB closed: stale
    assert e.value.code == "stale" and agent is None
    assert "SharedMemoryRegion(name, create=True)" in str(e.value) or "start the LB" in str(e.value)
    with open(f"/dev/shm/{name}", "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<I", m.ABI_VERSION + 1))
    with pytest.raises(m.RegionError) as e:
        m.SharedMemoryRegion(name)
    assert e.value.code in ("version", "stale")


def test_a_restarting_python_lb_reopens_its_own_region(name):
    lb = m.SharedMemoryRegion(name, create=True, num_servers=2)
    assert lb.write_observation([1, 2]) == 1
    lb.close()  # the LB process "dies": the region stays
    with m.SharedMemoryRegion(name, create=True, num_servers=2) as lb2:
        assert lb2.write_observation([1, 2]) == 2  # sequence ids continue


def test_messages_name_the_python_way_not_the_c_calls(name):
    path = f"/dev/shm/{name}"
    with open(path, "wb"):
        pass  # an empty file: what a creator killed mid-create of an older build left
    with pytest.raises(m.RegionError) as e:
        m.SharedMemoryRegion(name)
    assert "marllb_lb_open" not in str(e.value)
    assert "SharedMemoryRegion(name, create=True)" in str(e.value)
    assert e.value.code == "stale"


def test_a_fifo_at_the_name_is_refused_and_left_alone(name):
    path = f"/dev/shm/{name}"
    os.mkfifo(path)
    with pytest.raises(m.RegionError, match="FIFO") as e:
        m.SharedMemoryRegion(name, create=True)
    assert e.value.code == "not_a_region"
    import stat
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def test_agent_options_that_belong_to_the_lb_are_refused(name):
    with m.SharedMemoryRegion(name, create=True):
        with pytest.raises(ValueError, match="LB's choices"):
            m.SharedMemoryRegion(name, raw_reservoirs=True)


def test_a_reopen_that_asks_for_raw_reservoirs_never_publishes_nothing_silently(name):
    # create=True reopens a region its previous LB left. If that region was made without raw
    # reservoirs, an LB asking raw_reservoirs=True must be told (at open or at publish), not
    # have every write_observation(reservoirs=...) return 0 and publish nothing.
    with m.SharedMemoryRegion(name, create=True, num_servers=2) as lb:
        lb.write_observation([1, 1])
    raw = np.zeros(1, dtype=m.RESERVOIR_DTYPE)
    with pytest.raises((m.RegionError, ValueError)):  # refused at open, or at the publish
        with m.SharedMemoryRegion(name, create=True, num_servers=2, raw_reservoirs=True) as lb:
            seq = lb.write_observation([1, 1], reservoirs=raw)
            assert seq != 0, "write_observation returned 0: nothing was published, and nothing said so"


def test_a_server_count_beyond_64_bits_is_a_value_error_naming_the_range(name):
    with pytest.raises(ValueError, match="1..64"):
        m.SharedMemoryRegion(name, create=True, num_servers=2**70)


def _time_namespace_ahead_works():
    if shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-T", "--fork", "--monotonic=100000", sys.executable, "-c",
                        "import time; print(time.monotonic())"], capture_output=True, text=True)
    return r.returncode == 0 and float(r.stdout) > 100000


@pytest.mark.skipif(not _time_namespace_ahead_works(), reason="needs unshare -T (time namespaces)")
def test_an_agent_whose_monotonic_clock_is_ahead_has_its_valid_actions_applied(name):
    # An agent in a time namespace (a container with its own CLOCK_MONOTONIC offset, a process
    # restored by CRIU) stamps write_mono_ns on its clock. write_action accepts its action; the
    # LB must not then reject every one as junk META because the stamp is ahead of its clock.
    agent = (
        "import marllb_shm as m\n"
        f"a = m.SharedMemoryRegion({name!r})\n"
        "o = a.read_observation()\n"
        "a.write_action(o['sequence_id'], [1.0, 2.0])\n"
    )
    with m.SharedMemoryRegion(name, create=True, num_servers=2) as lb:
        lb.write_observation([1, 1])
        env = dict(os.environ)
        subprocess.run(["unshare", "-T", "--fork", "--monotonic=100000", sys.executable, "-c", agent],
                       check=True, env=env)
        act = lb.read_action()
        assert act is not None, "the agent's valid action was rejected (META: write time ahead of the LB's clock)"
        assert act["weights"] == [1.0, 2.0]
