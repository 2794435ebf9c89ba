"""The seed's dict as built for every read: each key and value equal to what the LB published
and to the numpy path's view of the same observation, with the types the seed uses, and results a
caller keeps (the last 3, as the benchmark's `read_observation_kept`) never changed by later
reads, nor sharing a mutable part with one another."""
import collections
import copy
import math
import os
import struct

import numpy as np
import pytest

import marllb_shm as m

FEATURES = list(m.FEATURE_NAMES)
TOP_KEYS = ["sequence_id", "timestamp", "active_servers", "server_stats", "num_active_servers", "generation",
            "skipped", "publish_mono_ns"]
# n_flow_on values around the small-int cache and up to u32; features with signed zeros,
# subnormals and the float32 extremes, beside ordinary fractions.
COUNTS = [0, 1, 255, 256, 257, 2**31 - 1, 2**31, 2**32 - 1]
EDGES = [0.0, -0.0, 1e-45, -1e-45, 1.17549435e-38, 3.4028235e38, -3.4028235e38, 0.1, -2.5, 1.0]


def payload(seq, servers):
    rng = np.random.default_rng(seq)
    flows = [COUNTS[(seq + s) % len(COUNTS)] if s % 3 == 0 else int(rng.integers(0, 10**6)) for s in range(servers)]
    feats = rng.standard_normal((servers, 10)).astype(np.float32) * np.float32(1000)
    for s in range(0, servers, 2):  # every other server carries the edge values, rotated
        feats[s] = np.array([EDGES[(s + f) % len(EDGES)] for f in range(10)], dtype=np.float32)
    return flows, feats


def same_float(a, b):
    """Equal to the bit (tells -0.0 from 0.0)."""
    return struct.pack("<d", a) == struct.pack("<d", b)


def check_against_published(obs, seq, flows, feats):
    servers = len(flows)
    assert type(obs) is dict and list(obs) == TOP_KEYS
    assert obs["sequence_id"] == seq and type(obs["sequence_id"]) is int
    assert obs["active_servers"] == list(range(servers)) and type(obs["active_servers"]) is list
    assert obs["num_active_servers"] == servers
    stats = obs["server_stats"]
    assert type(stats) is dict and list(stats) == list(range(servers))
    for s in range(servers):
        d = stats[s]
        assert type(d) is dict and list(d) == ["n_flow_on", *FEATURES], s
        assert type(d["n_flow_on"]) is int and d["n_flow_on"] == flows[s], s
        for f, key in enumerate(FEATURES):
            v = d[key]
            assert type(v) is float, (s, key)
            assert same_float(v, float(feats[s, f])), (s, key, v, float(feats[s, f]))


def check_against_arrays(obs, arr):
    """`arr` is the numpy path's read of the same payload published in a second region (one
    agent per region): the same sequence, servers, counts and features; its own clock."""
    assert obs["sequence_id"] == arr["sequence_id"] and obs["skipped"] == arr["skipped"] == 0
    assert type(obs["timestamp"]) is float and obs["timestamp"] > 0
    assert obs["active_servers"] == [int(i) for i in np.flatnonzero(arr["active"])]
    for s, d in obs["server_stats"].items():
        assert d["n_flow_on"] == int(arr["n_flow_on"][s])
        assert all(same_float(d[k], float(arr["features"][s, f])) for f, k in enumerate(FEATURES)), s


@pytest.mark.parametrize("servers", [1, 7, 64])
def test_every_key_and_value_is_what_was_published_and_what_the_numpy_path_reads(name, servers):
    other = name + "_np"
    try:
        with m.SharedMemoryRegion(name, create=True) as lb, m.SharedMemoryRegion(name) as agent, \
                m.SharedMemoryRegion(other, create=True) as numpy_lb, m.SharedMemoryRegion(other) as numpy_agent:
            kept = collections.deque(maxlen=3)
            for seq in range(1, 30):
                flows, feats = payload(seq, servers)
                assert lb.write_observation(flows, feats) == seq
                assert numpy_lb.write_observation(flows, feats) == seq
                obs = agent.read_observation()
                kept.append(obs)
                check_against_published(obs, seq, flows, feats)
                check_against_arrays(obs, numpy_agent.read_observation_arrays())
    finally:
        if os.path.exists(f"/dev/shm/{other}"):
            os.unlink(f"/dev/shm/{other}")


def test_results_kept_are_not_altered_by_later_reads(pair):
    """Each result is compared, after 40 more reads, with a deep copy taken when it was returned;
    the kept results' dicts and numbers are never the same objects as another result's."""
    lb, agent = pair
    kept = collections.deque(maxlen=3)
    snapshots = {}
    everything = []
    for seq in range(1, 50):
        flows, feats = payload(seq, 64)
        lb.write_observation(flows, feats)
        obs = agent.read_observation()
        kept.append(obs)
        snapshots[seq] = copy.deepcopy(obs)
        if seq <= 6:
            everything.append(obs)  # kept for the whole test, beside the rolling 3
        for old in kept:
            assert old == snapshots[old["sequence_id"]]
    for obs in everything:
        seq = obs["sequence_id"]
        assert obs == snapshots[seq]
        check_against_published(obs, seq, *payload(seq, 64))
    ids = collections.Counter()
    for obs in [*everything, *kept]:
        ids.update(id(x) for x in (obs, obs["active_servers"], obs["server_stats"]))
        ids.update(id(d) for d in obs["server_stats"].values())
    assert max(ids.values()) == 1, "two results share a dict or a list"
    feats0 = [obs["server_stats"][1]["fct_mean"] for obs in everything]
    assert len({id(x) for x in feats0}) == len(feats0) and not any(math.isnan(x) for x in feats0)
