#!/usr/bin/env python3
"""Time of one SAC update and one action of rl/sac_gru.py's agent, for 7 and 24 servers, on one
thread: the cost that sets a training run's wall-clock time (docs/rl.md, "Training"). Fills the
replay with random windows, then times --updates updates and 200 actions in this process.
Run it under each BLAS (update-alternatives --display libblas.so.3-x86_64-linux-gnu) to see
what OpenBLAS changes.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 rl/bench_update.py
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

import sac_gru  # rl/, this script's folder


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=int, default=50)
    a = p.parse_args()
    torch.set_num_threads(1)
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    for servers in (7, 24):
        agent = sac_gru.Agent(servers)
        rng = np.random.default_rng(0)
        for i in range(4 * agent.batch):
            win = rng.normal(size=(sac_gru.SEQ_LEN, agent.inputs)).astype(np.float32)
            agent.replay.add(win, rng.integers(0, len(sac_gru.LEVELS), servers), float(i % 7), win)
        t = time.perf_counter()
        for _ in range(a.updates):
            agent.update()
        update_ms = (time.perf_counter() - t) / a.updates * 1e3
        t = time.perf_counter()
        for _ in range(200):
            agent.act(win)
        act_ms = (time.perf_counter() - t) / 200 * 1e3
        print(f"{servers} servers: update {update_ms:.1f} ms, action {act_ms:.2f} ms (BLAS: {blas})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
