"""Python code that runs while read_observation refills a kept server_stats dict (a finalizer
of a value the refill replaces) must not be able to see that dict change: a re-entrant read
must not be handed the dict being refilled, and close() must not free it under the refill."""
import os
import subprocess
import sys
import textwrap

import numpy as np

SERVERS = 4


def publish(lb, seq):
    feats = np.full((SERVERS, 10), float(seq), dtype=np.float32)
    lb.write_observation([seq] * SERVERS, feats)


class OnDel:
    """Runs `fn` when the refill drops it (it sits in a server dict as a value)."""

    def __init__(self, fn):
        self.fn = fn

    def __del__(self):
        self.fn()


def test_a_read_from_a_finalizer_during_a_refill_gets_a_dict_nobody_else_changes(pair):
    lb, agent = pair
    publish(lb, 1)
    obs = agent.read_observation()
    inner = {}

    def reenter():
        publish(lb, 2)
        inner["obs"] = agent.read_observation()  # runs inside the outer read's refill
        inner["snapshot"] = {s: dict(d) for s, d in inner["obs"]["server_stats"].items()}

    # A value the refill replaces; its finalizer runs between two servers of the refill.
    obs["server_stats"][0]["fct_mean"] = OnDel(reenter)
    del obs
    publish(lb, 3)
    outer = agent.read_observation()
    assert "obs" in inner, "the finalizer did not run during the read"
    assert outer["sequence_id"] != inner["obs"]["sequence_id"]
    # The inner result must still hold observation 2, as it did when it was returned.
    got = {s: dict(d) for s, d in inner["obs"]["server_stats"].items()}
    assert got == inner["snapshot"], "a result held by Python code changed after it was returned"
    assert inner["obs"]["server_stats"] is not outer["server_stats"]


def test_close_from_a_finalizer_during_a_refill_does_not_crash(name):
    # In a child, with the debug allocator (freed memory poisoned): a use after free kills it.
    code = textwrap.dedent(f"""
        import numpy as np, marllb_shm as m
        lb = m.SharedMemoryRegion({name!r}, create=True)
        agent = m.SharedMemoryRegion({name!r})
        def publish(seq):
            lb.write_observation([seq] * 64, np.full((64, 10), float(seq), dtype=np.float32))
        class OnDel:
            def __del__(self):
                try:
                    agent.close()
                except Exception as e:
                    print("close refused:", e)
        publish(1)
        obs = agent.read_observation()
        obs["server_stats"][0]["fct_mean"] = OnDel()
        del obs
        publish(2)
        try:
            r = agent.read_observation()
            print("read returned", type(r).__name__)
            junk = [dict(x=i) for i in range(100000)]  # reuse the freed memory
            print(r["server_stats"][63]["fct_mean"] if isinstance(r, dict) else r)
        except Exception as e:
            print("read raised", type(e).__name__, e)
        print("alive")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "PYTHONMALLOC": "debug"}, timeout=60)
    assert p.returncode == 0 and "alive" in p.stdout, (p.returncode, p.stdout, p.stderr[-2000:])


def test_a_read_from_a_gc_pass_during_a_refill_gets_a_dict_nobody_else_changes(pair):
    """No planted value: the caller keeps half the server dicts, so the refill allocates new
    ones, and an allocation may run a collection (CPython 3.11 collects on the spot), whose
    callbacks and finalizers are Python code; here a gc callback reads the same region."""
    import gc

    lb, agent = pair

    def pub(v):
        lb.write_observation([1] * 64, np.full((64, 10), float(v), dtype=np.float32))

    changed = []
    for target in range(2, 10):
        state = {"armed": False, "n": 0}
        held = {}

        def cb(phase, info):
            if phase != "start" or not state["armed"]:
                return
            state["n"] += 1
            if state["n"] == target:
                state["armed"] = False
                pub(20.0)
                r = agent.read_observation()
                if r is not None:
                    held["r"] = r
                    held["snap"] = {k: dict(v) for k, v in r["server_stats"].items()}

        pub(1.0)
        obs = agent.read_observation()
        keep = list(obs["server_stats"].values())[32:]
        del obs
        pub(10.0)
        gc.callbacks.append(cb)
        old = gc.get_threshold()
        try:
            gc.set_threshold(1)
            state["armed"] = True
            outer = agent.read_observation()
        finally:
            state["armed"] = False
            gc.set_threshold(*old)
            gc.callbacks.remove(cb)
        del keep
        if "r" in held:
            now = {k: dict(v) for k, v in held["r"]["server_stats"].items()}
            if now != held["snap"] or held["r"]["server_stats"] is outer["server_stats"]:
                changed.append(target)
    assert not changed, f"a result read from a gc pass inside a refill changed afterwards (passes {changed})"
