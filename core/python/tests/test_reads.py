"""Reading observations: each one is returned at most once (None when nothing is newer),
in-order reads count what the ring of 4 lost exactly, and the dict keeps the seed's shape."""
import random

import numpy as np
import pytest

import marllb_shm as m

RING_SLOTS = 4


def publish(lb, count, servers=3):
    return [lb.write_observation([len(lb.name)] * servers) for _ in range(count)]


def test_read_observation_is_none_when_nothing_is_newer(pair):
    # The contract whatever the core's read_newest answers for "nothing newer" (the same
    # message again, or "again"): the same observation is never handed back twice.
    lb, agent = pair
    publish(lb, 1)
    assert agent.read_observation()["sequence_id"] == 1
    assert agent.read_observation() is None
    assert agent.read_observation_arrays() is None
    publish(lb, 1)
    assert agent.read_observation_arrays()["sequence_id"] == 2
    assert agent.read_observation() is None


def test_newest_read_jumps_ahead_and_counts_what_it_skipped(pair):
    lb, agent = pair
    publish(lb, 6)
    obs = agent.read_observation()
    assert obs["sequence_id"] == 6 and obs["skipped"] == 5 and "lost" not in obs
    publish(lb, 1)
    assert agent.read_observation()["skipped"] == 0


def test_read_next_returns_each_observation_in_order(pair):
    lb, agent = pair
    assert agent.read_next_observation() is None  # nothing published yet
    publish(lb, 3)
    got = [agent.read_next_observation() for _ in range(4)]
    assert [o["sequence_id"] for o in got[:3]] == [1, 2, 3]
    assert [o["lost"] for o in got[:3]] == [0, 0, 0]
    assert got[3] is None
    assert set(got[0]) == {"sequence_id", "timestamp", "active_servers", "server_stats", "num_active_servers",
                           "generation", "lost", "publish_mono_ns"}
    assert got[0]["server_stats"][2]["n_flow_on"] == len(lb.name)


def test_read_next_counts_the_observations_lost_to_wrap_exactly(pair):
    lb, agent = pair
    publish(lb, 10)  # only 7..10 are still in the ring of 4
    first = agent.read_next_observation()
    assert (first["sequence_id"], first["lost"]) == (7, 6)
    assert [agent.read_next_observation()["lost"] for _ in range(3)] == [0, 0, 0]
    assert agent.read_next_observation() is None
    assert agent.total_lost == 6 and agent.pending_lost == 0


def test_read_next_arrays_carry_lost_and_the_same_values(pair):
    lb, agent = pair
    feats = np.arange(20, dtype=np.float32).reshape(2, 10)
    for _ in range(5):
        lb.write_observation([4, 9], feats)
    a = agent.read_next_observation_arrays()
    assert (a["sequence_id"], a["lost"]) == (2, 1)
    np.testing.assert_array_equal(a["n_flow_on"], [4, 9])
    np.testing.assert_array_equal(a["features"], feats)


@pytest.mark.parametrize("seed", range(5))
def test_randomized_in_order_reads_account_for_every_published_observation(pair, seed):
    # Ids strictly increase, every id is returned or counted lost, and lost is exactly what a
    # ring of 4 overwrote: after returning r with newest p published, max(0, p - r - 4).
    rng = random.Random(seed)
    lb, agent = pair
    published = returned = lost = 0
    last = 0
    for _ in range(400):
        burst = rng.choice([0, 0, 1, 1, 2, 3, 5, 9])
        published += len(publish(lb, burst, servers=1))
        for _ in range(rng.choice([0, 1, 1, 2, 6])):
            expected_lost = max(0, published - last - RING_SLOTS)
            o = agent.read_next_observation()
            if o is None:
                assert last == published
                continue
            assert o["sequence_id"] > last
            assert o["lost"] == expected_lost == o["sequence_id"] - last - 1
            last = o["sequence_id"]
            returned += 1
            lost += o["lost"]
        # One thread, nothing torn: every id up to the last returned was returned or lost.
        assert returned + lost == last and agent.pending_lost == 0
    assert lost == agent.total_lost


def test_mixing_newest_and_in_order_reads_never_repeats_an_observation(pair):
    lb, agent = pair
    publish(lb, 2)
    assert agent.read_observation()["sequence_id"] == 2
    assert agent.read_next_observation() is None  # 1 is older than what was returned
    publish(lb, 2)
    assert agent.read_next_observation()["sequence_id"] == 3
    assert agent.read_observation()["sequence_id"] == 4
    assert agent.last_sequence == 4


def test_wait_observation_returns_arrays_and_never_the_same_one(pair):
    lb, agent = pair
    publish(lb, 1)
    a = agent.wait_observation(timeout=1.0, arrays=True)
    assert a["sequence_id"] == 1 and isinstance(a["n_flow_on"], np.ndarray)
    assert agent.wait_observation(after=0, timeout=0.02) is None  # 1 was returned already


def test_the_seed_import_name_offers_shared_memory_region(pair):
    import shm_layout
    assert shm_layout.SharedMemoryRegion is m.SharedMemoryRegion
    assert shm_layout.ActionRejected is m.ActionRejected
