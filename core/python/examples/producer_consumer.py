#!/usr/bin/env python3
"""A producer (the LB side) and a consumer (an agent) in two processes through one region.

The producer publishes an observation every 10 ms and counts the actions it applies; the
consumer waits for each observation (GIL released), answers it with inverse-load weights.

    python3 core/python/examples/producer_consumer.py
(with the package installed: scripts/setup.sh --venv .venv release, then .venv/bin/python; or
PYTHONPATH=build/release/core/python /usr/bin/python3)
"""
import argparse
import multiprocessing as mp
import os
import time

import numpy as np

import marllb_shm


def producer(name, count, ready):
    lb = marllb_shm.SharedMemoryRegion(name, create=True)
    ready.set()
    rng = np.random.default_rng(1)
    applied = 0
    for _ in range(count):
        lb.heartbeat()
        lb.write_observation(list(rng.integers(0, 50, 8)), rng.random((8, 10), dtype=np.float32))
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            a = lb.read_action()
            if a and a["status"] == "applied":
                applied += 1
                break
            time.sleep(0.0005)
        time.sleep(0.01)
    print(f"producer: {count} published, {applied} actions applied", flush=True)
    lb.unlink()


def consumer(name, count):
    agent = marllb_shm.SharedMemoryRegion(name)
    answered = 0
    while answered < count:
        obs = agent.wait_observation(timeout=2.0)
        if obs is None:
            break
        load = np.array([obs["server_stats"][s]["n_flow_on"] for s in obs["active_servers"]], dtype=np.float64)
        agent.write_action(obs["sequence_id"], list(1.0 / (1.0 + load)))
        answered += 1
    print(f"consumer: {answered} answered", flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count", type=int, default=100)
    args = p.parse_args()
    name = f"marllb_example_{os.getpid()}"
    ready = mp.Event()
    prod = mp.Process(target=producer, args=(name, args.count, ready))
    prod.start()
    ready.wait(10)
    consumer(name, args.count)
    prod.join(30)
    raise SystemExit(prod.exitcode or 0)


if __name__ == "__main__":
    main()
