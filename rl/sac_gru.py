"""Soft actor-critic with discrete weight levels and a GRU over recent observations, for
marllb_env (docs/rl.md, "The agent").

What it takes from MARLLB's single-agent SAC (src/lb/sac_gru_discrete.py of ZhiyuanYaoJ/MARLLB
at 0d6f15a, read, not copied):
  - one head per server, each choosing a weight among discrete levels, 1, 1.5 and 2
    (env.py:45, sac_gru_discrete.py:176-195);
  - inputs: n_flow_on and the five flow-duration features of every server, with the previous
    action (sac_gru_discrete.py:508-509 feature_idx, :176-185 last_action), through two dense
    layers, a GRU and dense layers again (sac_gru_discrete.py:128-197);
  - twin critics with soft-updated targets (tau 0.01), Adam at 3e-4, gamma 0.99, automatic
    entropy temperature, rewards standardised within each batch (sac_gru_discrete.py:272-330).
What differs, and why:
  - the GRU reads a window of the last SEQ_LEN observations (8, env.py:27) from a zero state
    at every decision, instead of carrying a hidden state across a whole episode and storing
    it with the episode: a stored state goes stale as the network learns, a window does not;
  - the critics give one value per head and level, and the joint value is their mean over
    heads (a factorised critic): MARLLB's critic takes the sampled levels as input, so its
    policy loss has no gradient through the critic (the levels are sampled, not
    reparameterised); with per-level values the policy loss is an exact expectation over
    each head's levels, as in discrete SAC (Christodoulou 2019);
  - the target entropy is a fraction of each head's maximum, log(levels), per head.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LEVELS = (1.0, 1.5, 2.0)  # env.py:45
SEQ_LEN = 8               # env.py:27
# n_flow_on and the flow-duration features, by marllb_env.OBS_COLUMNS index (as MARLLB's feature_idx)
INPUT_COLUMNS = (0, 6, 7, 8, 9, 10)


def encode(obs):
    """One observation (servers, 11) as the network's per-server inputs: log1p of n_flow_on,
    and the flow-duration features in 10 ms units through log1p (they span 1 ms to seconds)."""
    x = np.asarray(obs, dtype=np.float32)[:, INPUT_COLUMNS].copy()
    x[:, 0] = np.log1p(x[:, 0])
    x[:, 1:] = np.log1p(x[:, 1:] * 100.0)
    return x


class Window:
    """The last SEQ_LEN encoded observations with the action taken before each, oldest first."""

    def __init__(self, servers):
        self.frames = np.zeros((SEQ_LEN, servers * (len(INPUT_COLUMNS) + 1)), dtype=np.float32)

    def push(self, obs, last_levels):
        frame = np.concatenate([encode(obs), (np.asarray(last_levels, np.float32)[:, None] - 1.0)], axis=1).ravel()
        self.frames = np.concatenate([self.frames[1:], frame[None]], axis=0)
        return self.frames.copy()


class Net(nn.Module):
    """dense, dense, GRU, dense, then one output per (head, level)."""

    def __init__(self, inputs, heads, hidden):
        super().__init__()
        self.heads = heads
        self.inp = nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, heads * len(LEVELS)))

    def forward(self, window):  # (batch, SEQ_LEN, inputs) -> (batch, heads, levels)
        h, _ = self.gru(self.inp(window))
        return self.out(h[:, -1]).view(-1, self.heads, len(LEVELS))


class Replay:
    """A ring of transitions (window, levels, reward, next window), in numpy arrays."""

    def __init__(self, capacity, inputs, heads):
        self.win = np.zeros((capacity, SEQ_LEN, inputs), np.float32)
        self.next = np.zeros_like(self.win)
        self.act = np.zeros((capacity, heads), np.int64)
        self.rew = np.zeros(capacity, np.float32)
        self.size = self.pos = 0

    def add(self, win, act, rew, nxt):
        i = self.pos
        self.win[i], self.act[i], self.rew[i], self.next[i] = win, act, rew, nxt
        self.pos = (i + 1) % len(self.rew)
        self.size = min(self.size + 1, len(self.rew))

    def sample(self, n, rng):
        idx = rng.integers(0, self.size, n)
        t = torch.from_numpy
        return t(self.win[idx]), t(self.act[idx]), t(self.rew[idx]), t(self.next[idx])

    def state(self):  # the filled part only
        return {"size": self.size, "pos": self.pos,
                **{k: getattr(self, k)[:self.size].copy() for k in ("win", "next", "act", "rew")}}

    def load(self, s):
        if s["size"] > len(self.rew):
            raise ValueError(f"the checkpoint's replay holds {s['size']} transitions, more than --buffer {len(self.rew)}")
        for k in ("win", "next", "act", "rew"):
            getattr(self, k)[:s["size"]] = s[k]
        self.size, self.pos = s["size"], s["pos"] % len(self.rew)


class Agent:
    def __init__(self, servers, hidden=64, lr=3e-4, gamma=0.99, tau=0.01, buffer=20000, batch=64,
                 entropy_fraction=0.5, seed=0):
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.servers, self.gamma, self.tau, self.batch = servers, gamma, tau, batch
        self.inputs = servers * (len(INPUT_COLUMNS) + 1)
        self.policy = Net(self.inputs, servers, hidden)
        self.q1, self.q2 = Net(self.inputs, servers, hidden), Net(self.inputs, servers, hidden)
        self.t1, self.t2 = Net(self.inputs, servers, hidden), Net(self.inputs, servers, hidden)
        self.t1.load_state_dict(self.q1.state_dict())
        self.t2.load_state_dict(self.q2.state_dict())
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.target_entropy = entropy_fraction * math.log(len(LEVELS))  # per head
        self.opt_pi = torch.optim.Adam(self.policy.parameters(), lr=lr)
        self.opt_q = torch.optim.Adam(list(self.q1.parameters()) + list(self.q2.parameters()), lr=lr)
        self.opt_alpha = torch.optim.Adam([self.log_alpha], lr=lr)
        self.replay = Replay(buffer, self.inputs, servers)
        self.updates = 0

    def act(self, window, deterministic=False):
        """Level indices (one per server) for a window (SEQ_LEN, inputs)."""
        with torch.no_grad():
            logits = self.policy(torch.from_numpy(window)[None])[0]
        if deterministic:
            return logits.argmax(-1).numpy()
        return torch.distributions.Categorical(logits=logits).sample().numpy()

    @staticmethod
    def weights(levels):
        return np.asarray(LEVELS)[levels]

    def update(self):
        """One gradient step of the critics, the policy and the temperature; their losses."""
        win, act, rew, nxt = self.replay.sample(self.batch, self.rng)
        rew = (rew - rew.mean()) / (rew.std() + 1e-6)  # sac_gru_discrete.py:301-302, scale 1 (:453)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            logp_n = F.log_softmax(self.policy(nxt), -1)
            q_n = torch.min(self.t1(nxt), self.t2(nxt))
            v_n = (logp_n.exp() * (q_n - alpha * logp_n)).sum(-1).mean(-1)  # mean over heads
            target = rew + self.gamma * v_n  # no terminal state: episodes end by time only
        pick = act[..., None]
        q1 = self.q1(win).gather(-1, pick).squeeze(-1).mean(-1)
        q2 = self.q2(win).gather(-1, pick).squeeze(-1).mean(-1)
        loss_q = F.mse_loss(q1, target) + F.mse_loss(q2, target)
        self.opt_q.zero_grad()
        loss_q.backward()
        self.opt_q.step()

        logp = F.log_softmax(self.policy(win), -1)
        with torch.no_grad():
            q = torch.min(self.q1(win), self.q2(win))
        p = logp.exp()
        loss_pi = (p * (alpha * logp - q)).sum(-1).mean()
        self.opt_pi.zero_grad()
        loss_pi.backward()
        self.opt_pi.step()

        entropy = -(p * logp).sum(-1).mean().detach()  # per head
        loss_alpha = self.log_alpha * (entropy - self.target_entropy)
        self.opt_alpha.zero_grad()
        loss_alpha.backward()
        self.opt_alpha.step()

        with torch.no_grad():
            for t, s in ((self.t1, self.q1), (self.t2, self.q2)):
                for tp, sp in zip(t.parameters(), s.parameters()):
                    tp.mul_(1 - self.tau).add_(sp, alpha=self.tau)
        self.updates += 1
        return float(loss_q), float(loss_pi), float(entropy)

    @property
    def alpha(self):
        return float(self.log_alpha.exp())

    def state(self):
        nets = ("policy", "q1", "q2", "t1", "t2", "opt_pi", "opt_q", "opt_alpha")
        return {**{k: getattr(self, k).state_dict() for k in nets}, "log_alpha": self.log_alpha.detach().clone(),
                "replay": self.replay.state(), "updates": self.updates, "rng": self.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state()}

    def load(self, s):
        for k in ("policy", "q1", "q2", "t1", "t2", "opt_pi", "opt_q", "opt_alpha"):
            getattr(self, k).load_state_dict(s[k])
        with torch.no_grad():
            self.log_alpha.copy_(s["log_alpha"])
        self.replay.load(s["replay"])
        self.updates = s["updates"]
        self.rng.bit_generator.state = s["rng"]
        torch.set_rng_state(s["torch_rng"])
