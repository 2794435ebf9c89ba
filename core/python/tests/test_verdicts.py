"""The LB's verdicts on the agent's actions, as the agent sees them: applied, rejected with the
reason, stale, or still pending."""
import struct

import pytest

import marllb_shm as m

# Where a raw write lands (marllb_action_section_t in core/include/marllb/shm_layout.h): the
# section's lock word, and weights[0] of its msg_in_t (payload at line 2: 48 reserved bytes,
# 16 bytes of meta, then the message, whose weights start at byte 24).
ACTION_LOCK = 16384
ACTION_WEIGHT0 = 16384 + 128 + 48 + 16 + 24


def test_no_verdict_before_an_action_is_written(pair):
    lb, agent = pair
    with pytest.raises(m.RegionError, match="write_action first"):
        agent.action_verdict()
    v = agent.verdicts()
    assert v["actions_applied"] == v["actions_rejected"] == v["actions_stale"] == 0
    assert v["last_reject_reason"] is None


def test_an_action_is_pending_until_the_lb_polls_then_applied(pair):
    lb, agent = pair
    seq = lb.write_observation([1, 1])
    agent.write_action(seq, [1.0, 3.0])
    assert agent.action_verdict() == {"sequence_id": seq, "status": "pending", "reason": None, "message": None}
    assert lb.read_action()["status"] == "applied"
    assert agent.action_verdict()["status"] == "applied"
    v = agent.verdicts()
    assert v["applied_action_seq"] == seq and v["actions_applied"] == 1 and v["published_seq"] == seq


def test_an_action_answering_an_older_observation_is_stale(pair):
    lb, agent = pair
    first = lb.write_observation([1, 1])
    second = lb.write_observation([1, 1])
    agent.write_action(second, [1.0, 1.0])
    lb.read_action()
    agent.write_action(first, [2.0, 1.0])  # valid, but older than the action in force
    assert lb.read_action()["status"] == "stale"
    assert agent.action_verdict() == {"sequence_id": first, "status": "stale", "reason": None, "message": None}
    assert agent.verdicts()["actions_stale"] == 1


def test_a_rejection_by_the_lb_reaches_the_agent_with_its_reason(pair, name):
    # The agent API refuses bad actions before writing them, so only a slot written some other
    # way (another agent implementation, a bug) is rejected by the LB: emulate one by
    # corrupting the slot after a valid write and before the LB polls.
    lb, agent = pair
    seq = lb.write_observation([1, 1])
    agent.write_action(seq, [1.0, 1.0])
    with open(f"/dev/shm/{name}", "r+b") as f:
        f.seek(ACTION_WEIGHT0)
        f.write(struct.pack("<f", -1.0))
        f.seek(ACTION_LOCK)
        lock = struct.unpack("<Q", f.read(8))[0]
        f.seek(ACTION_LOCK)
        f.write(struct.pack("<Q", lock + 2))  # a new complete write
    assert lb.read_action() is None  # rejected: no action in force
    verdict = agent.action_verdict()
    assert verdict["status"] == "rejected" and verdict["reason"] == "weight_negative"
    assert "negative" in verdict["message"]
    v = agent.verdicts()
    assert v["actions_rejected"] == 1 and v["last_rejected_seq"] == seq
    assert v["last_reject_reason"] == "weight_negative"


def test_action_verdict_waits_for_the_lb_with_the_gil_released(pair):
    import threading
    import time
    lb, agent = pair
    seq = lb.write_observation([1])
    agent.write_action(seq, [1.0])

    def poll_later():
        time.sleep(0.05)
        lb.read_action()
    t = threading.Thread(target=poll_later)
    t.start()
    verdict = agent.action_verdict(timeout=5.0)  # the LB's poll runs in the other thread
    t.join()
    assert verdict["status"] == "applied"


def test_each_new_action_gets_its_own_verdict(pair):
    lb, agent = pair
    statuses = []
    for _ in range(3):
        seq = lb.write_observation([1, 1])
        agent.write_action(seq, [1.0, 1.0])
        statuses.append(agent.action_verdict()["status"])
        lb.read_action()
        statuses.append(agent.action_verdict()["status"])
    assert statuses == ["pending", "applied"] * 3
    assert agent.verdicts()["actions_applied"] == 3
