"""The SAC agent without the simulator (needs PyTorch: scripts/train.sh installs it; ctest
registers this only where torch imports). What it shows: the policy learns through the critic
on a task whose answer is known, and a checkpoint restores the agent exactly."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import sac_gru

SERVERS = 3


def fill_bandit(agent, n, rng):
    """Random windows and levels; reward = the fraction of heads at the top level, whatever the
    window: the best policy puts every head on level 2 (weight 2.0)."""
    for _ in range(n):
        win = rng.normal(size=(sac_gru.SEQ_LEN, agent.inputs)).astype(np.float32)
        levels = rng.integers(0, len(sac_gru.LEVELS), SERVERS)
        agent.replay.add(win, levels, float(np.mean(levels == 2)), win)


def test_the_policy_learns_the_best_levels_through_the_critic():
    torch.set_num_threads(1)
    agent = sac_gru.Agent(SERVERS, hidden=32, batch=64, buffer=2000, seed=3, gamma=0.0)
    fill_bandit(agent, 2000, np.random.default_rng(0))
    for _ in range(400):
        agent.update()
    probe = np.random.default_rng(1).normal(size=(sac_gru.SEQ_LEN, agent.inputs)).astype(np.float32)
    with torch.no_grad():
        p = torch.softmax(agent.policy(torch.from_numpy(probe)[None])[0], -1).numpy()
    assert (agent.act(probe, deterministic=True) == 2).all(), p
    assert p[:, 2].min() > 0.5, p


def test_a_checkpoint_restores_the_agent_exactly():
    torch.set_num_threads(1)
    a = sac_gru.Agent(SERVERS, hidden=16, batch=16, buffer=100, seed=5)
    fill_bandit(a, 50, np.random.default_rng(2))
    for _ in range(5):
        a.update()
    b = sac_gru.Agent(SERVERS, hidden=16, batch=16, buffer=100, seed=99)
    b.load(a.state())
    assert b.replay.size == 50 and b.updates == 5 and b.alpha == a.alpha
    # The same next update from both: same sampled batch (random states restored), same losses.
    assert a.update() == b.update()
    win = np.zeros((sac_gru.SEQ_LEN, a.inputs), np.float32)
    assert (a.act(win, deterministic=True) == b.act(win, deterministic=True)).all()
