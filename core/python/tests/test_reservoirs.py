"""Raw reservoirs as numpy arrays: one copy out of the region, checked against the LB's writes,
never another observation's samples."""
import multiprocessing as mp
import os
import uuid

import numpy as np
import pytest

import marllb_shm as m


def record(seq):
    """A record whose every value says which observation it belongs to."""
    r = np.zeros((), m.RESERVOIR_DTYPE)
    servers = np.arange(64)[:, None]
    slots = np.arange(m.RESERVOIR_CAPACITY)[None, :]
    r["fct"]["values"] = seq + servers * 0.001 + slots * 1e-6
    r["fct"]["timestamps"] = seq * 1_000_000 + servers * 1000 + slots
    r["flow_duration"]["values"] = -r["fct"]["values"]
    r["flow_duration"]["timestamps"] = r["fct"]["timestamps"] + 7
    return r


@pytest.fixture
def raw_pair(name):
    with m.SharedMemoryRegion(name, create=True, raw_reservoirs=True) as lb, m.SharedMemoryRegion(name) as agent:
        yield lb, agent


def test_reservoirs_come_back_as_arrays_of_the_observation_read(raw_pair):
    lb, agent = raw_pair
    seq = lb.write_observation([1, 2], reservoirs=record(1))
    assert agent.read_observation()["sequence_id"] == seq
    r = agent.read_reservoirs()
    assert r["sequence_id"] == seq
    assert r["fct_values"].dtype == np.float32 and r["fct_values"].shape == (64, 128)
    assert r["fct_timestamps"].dtype == np.uint64 and r["duration_timestamps"].shape == (64, 128)
    want = record(1)
    np.testing.assert_array_equal(r["fct_values"], want["fct"]["values"])
    np.testing.assert_array_equal(r["duration_values"], want["flow_duration"]["values"])
    np.testing.assert_array_equal(r["duration_timestamps"], want["flow_duration"]["timestamps"])
    # one copy: the four arrays are views of one record the caller owns
    assert all(np.shares_memory(r[k], r["data"]) for k in ("fct_values", "fct_timestamps", "duration_values"))


def test_a_reused_out_record_is_filled_in_place(raw_pair):
    lb, agent = raw_pair
    out = np.zeros((), m.RESERVOIR_DTYPE)
    lb.write_observation([1], reservoirs=record(1))
    seq = lb.write_observation([1], reservoirs=record(2))
    r = agent.read_reservoirs(seq, out=out)
    assert np.shares_memory(r["fct_values"], out)
    np.testing.assert_array_equal(out["fct"]["timestamps"], record(2)["fct"]["timestamps"])
    with pytest.raises(ValueError, match="RESERVOIR_DTYPE"):
        agent.read_reservoirs(seq, out=np.zeros(10))
    with pytest.raises(ValueError, match="RESERVOIR_DTYPE"):
        agent.read_reservoirs(seq, out=np.zeros(2, m.RESERVOIR_DTYPE))


def test_overwritten_reservoirs_raise_gone_not_newer_samples(raw_pair):
    lb, agent = raw_pair
    first = lb.write_observation([1], reservoirs=record(1))
    lb.write_observation([1], reservoirs=record(2))
    assert agent.read_reservoirs(first)["sequence_id"] == first  # the LB keeps the last 2
    lb.write_observation([1], reservoirs=record(3))
    with pytest.raises(m.ReservoirsGone, match=f"observation {first} are not in the region: overwritten"):
        agent.read_reservoirs(first)


def test_reservoirs_of_no_observation_or_an_unpublished_one_are_refused(raw_pair):
    lb, agent = raw_pair
    with pytest.raises(ValueError, match="no observation read yet"):
        agent.read_reservoirs()
    lb.write_observation([1], reservoirs=record(1))
    with pytest.raises(ValueError, match="observation 5 is not published yet"):
        agent.read_reservoirs(5)
    with pytest.raises(TypeError, match="sequence_id is a bool"):
        agent.read_reservoirs(True)
    with pytest.raises(ValueError, match="sequence_id is -1"):
        agent.read_reservoirs(-1)


def test_an_observation_published_without_reservoirs_is_gone_for_good(raw_pair):
    # The region cannot tell "never had any" from "overwritten": both never change back.
    lb, agent = raw_pair
    seq = lb.write_observation([1])
    with pytest.raises(m.ReservoirsGone, match="published without them"):
        agent.read_reservoirs(seq)


def test_a_region_without_reservoirs_says_how_to_get_them(pair):
    lb, agent = pair
    lb.write_observation([1])
    agent.read_observation()
    with pytest.raises(m.RegionError, match="raw_reservoirs=True"):
        agent.read_reservoirs()


def _publish_flat_out(name, count, ready):
    lb = m.SharedMemoryRegion(name, create=True, raw_reservoirs=True)
    ready.set()
    for seq in range(1, count + 1):
        assert lb.write_observation([seq % 7], reservoirs=record(seq)) == seq
    lb.close()


def test_two_processes_reservoirs_always_match_their_observation():
    # An LB process publishes as fast as it can while this process reads each newest
    # observation and then its reservoirs: every record returned must be exactly the one
    # written for that sequence id (a torn or mismatched copy would mix two seqs' values).
    # What it cannot show: interleavings the scheduler did not produce in this run.
    name = f"marllb_py_{uuid.uuid4().hex[:10]}"
    ready = mp.Event()
    lb = mp.Process(target=_publish_flat_out, args=(name, 3000, ready))
    lb.start()
    try:
        assert ready.wait(10)
        agent = m.SharedMemoryRegion(name)
        out = np.zeros((), m.RESERVOIR_DTYPE)
        checked = gone = 0
        while lb.is_alive() or agent.published_sequence > agent.last_sequence:
            obs = agent.read_observation()
            if obs is None:
                continue
            try:
                r = agent.read_reservoirs(obs["sequence_id"], out=out)
            except m.ReservoirsGone:
                gone += 1
                continue
            if r is None:
                continue
            seq = obs["sequence_id"]
            assert np.array_equal(out["fct"]["timestamps"], record(seq)["fct"]["timestamps"]), seq
            assert np.array_equal(out["flow_duration"]["values"], record(seq)["flow_duration"]["values"]), seq
            checked += 1
        lb.join(30)
        assert lb.exitcode == 0
        print(f"checked {checked}, gone {gone}")
        assert checked > 10, (checked, gone)
    finally:
        if lb.is_alive():
            lb.kill()
        try:
            os.unlink(f"/dev/shm/{name}")
        except FileNotFoundError:
            pass
