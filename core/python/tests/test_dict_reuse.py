"""The seed's dict is refilled from earlier results only where no Python code can see it: every
value a caller still holds (a whole result, its server_stats, one server's dict, one number)
keeps the value it was returned with, whatever later reads bring, and a dict a caller changed
before dropping it is rebuilt, not refilled."""
import gc

import numpy as np

SERVERS = 64


def features_for(seq):
    """Distinct float32 features per (observation, server, feature): a stale value is visible."""
    s = np.arange(SERVERS, dtype=np.float32)[:, None] * 10 + np.arange(10, dtype=np.float32)
    return s + np.float32(seq) * 1000


def publish(lb, seq, servers=SERVERS):
    flows = [seq * 100 + s for s in range(servers)]
    assert lb.write_observation(flows, features_for(seq)[:servers]) == seq
    return flows


def expect(obs, seq, servers=SERVERS):
    """obs holds observation `seq` exactly: every server's count and ten features."""
    assert obs["sequence_id"] == seq
    assert obs["active_servers"] == list(range(servers))
    stats = obs["server_stats"]
    assert sorted(stats) == list(range(servers))
    want = features_for(seq)
    for s in range(servers):
        d = stats[s]
        assert list(d) == ["n_flow_on", *FEATURES]
        assert d["n_flow_on"] == seq * 100 + s
        assert [d[k] for k in FEATURES] == [float(x) for x in want[s]], (seq, s)


FEATURES = None


def setup_module():
    import marllb_shm as m
    global FEATURES
    FEATURES = list(m.FEATURE_NAMES)


def test_a_loop_that_drops_each_result_gets_correct_values_every_time(pair):
    lb, agent = pair
    obs = None
    for seq in range(1, 40):
        publish(lb, seq)
        obs = agent.read_observation()  # the previous result is still bound while this runs
        expect(obs, seq)


def test_results_a_caller_keeps_never_change(pair):
    lb, agent = pair
    kept = []
    for seq in range(1, 12):
        publish(lb, seq)
        kept.append(agent.read_observation())
    for seq, obs in enumerate(kept, start=1):
        expect(obs, seq)


def test_parts_a_caller_keeps_never_change(pair):
    lb, agent = pair
    publish(lb, 1)
    obs = agent.read_observation()
    stats = obs["server_stats"]
    publish(lb, 2)
    obs = agent.read_observation()
    server5 = obs["server_stats"][5]
    publish(lb, 3)
    obs = agent.read_observation()
    number = obs["server_stats"][7]["fct_p90"]
    want_number = float(features_for(3)[7][1])
    del obs
    gc.collect()
    for seq in range(4, 12):  # results dropped at once, and kept through the next read
        publish(lb, seq)
        obs = agent.read_observation()
        expect(obs, seq)
        if seq % 4 == 0:
            del obs
    expect({"sequence_id": 1, "active_servers": list(range(SERVERS)), "server_stats": stats}, 1)
    assert server5["n_flow_on"] == 205
    assert [server5[k] for k in FEATURES] == [float(x) for x in features_for(2)[5]]
    assert number == want_number


def test_a_dict_changed_by_its_caller_is_rebuilt_not_refilled(pair):
    lb, agent = pair
    for seq in range(1, 20):
        publish(lb, seq)
        obs = agent.read_observation()
        expect(obs, seq)
        stats = obs["server_stats"]
        if seq % 3 == 0:
            stats[0]["extra"] = 1.0            # one key more
        elif seq % 3 == 1:
            del stats[9]["fct_std"]            # one key fewer
            stats[9]["fct_std"] = "moved"      # ... and back, now last and not a float
        else:
            del stats[63]
            stats[10 ** 30] = {}               # a server id no long holds
        del stats


def test_the_active_set_can_change_between_reads(pair):
    lb, agent = pair
    for seq, servers in enumerate([64, 3, 64, 64, 1, 7, 64, 2, 64], start=1):
        publish(lb, seq, servers)
        obs = agent.read_observation()
        expect(obs, seq, servers)


def test_in_order_reads_refill_the_same_way(pair):
    lb, agent = pair
    for seq in range(1, 4):
        publish(lb, seq)
    got = [agent.read_next_observation() for _ in range(3)]
    for seq in range(4, 10):
        publish(lb, seq)
        obs = agent.read_next_observation()
        expect(obs, seq)
        assert obs["lost"] == 0
    for seq, obs in enumerate(got, start=1):
        expect(obs, seq)
