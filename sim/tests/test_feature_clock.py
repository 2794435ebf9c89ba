"""The features marllb-sim publishes can be recomputed from the raw reservoirs published with
them, in real time and in lockstep, using the observation's own clock as "now".

The decayed features weigh each sample by gamma^(now - t_i), with t_i from the reservoirs'
timestamps, so an agent can only recompute them when the observation says what "now" was in the
reservoirs' clock (docs/sim.md, "Time"): in real time that clock is CLOCK_MONOTONIC, the clock
of the observation's `publish_mono_ns`; in lockstep it is simulated time, which marllb-sim
writes into the observation's `timestamp_us`. Each test runs marllb-sim with --raw-reservoirs,
reads every observation with its reservoirs, and compares all ten features of every active
server with a plain numpy recomputation. What it cannot show: that a sample is the one MARLLB
would have taken (test_state_machine.cpp and test_features.cpp do that).
"""
import os
import subprocess
import time
import uuid

import numpy as np
import pytest

SIM = os.environ.get("MARLLB_SIM")
marllb_shm = pytest.importorskip("marllb_shm")
pytestmark = pytest.mark.skipif(not SIM, reason="MARLLB_SIM (the marllb-sim binary) is not set")

GAMMA = 0.9


def recompute(values, stamps, now_ns, zero_slots):
    """The five features of one reservoir, as docs/design/features.md defines them (MARLLB's
    unnormalised decay). zero_slots: the marllb LB model counts all 128 slots, zeros included;
    the clean model only the filled ones (they fill in order, each with a non-zero time)."""
    keep = np.ones(len(values), bool) if zero_slots else stamps != 0
    v = values[keep].astype(np.float64)
    if len(v) == 0:
        return np.zeros(5)
    age_s = (float(now_ns) - stamps[keep].astype(np.float64)) * 1e-9
    u = GAMMA ** age_s * v
    return np.array([v.mean(), np.percentile(v, 90), v.std(), u.sum() / len(v), np.percentile(u, 90)])


def check_observation(obs, res, now_ns, zero_slots, rtol):
    """Every feature of every active server equals its recomputation; returns the decayed
    features' values compared (so a caller can check the run had samples to decay)."""
    compared = []
    for s in np.flatnonzero(obs["active"]):
        want = np.concatenate([
            recompute(res["fct_values"][s], res["fct_timestamps"][s], now_ns, zero_slots),
            recompute(res["duration_values"][s], res["duration_timestamps"][s], now_ns, zero_slots)])
        got = obs["features"][s].astype(np.float64)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6,
                                   err_msg=f"observation {obs['sequence_id']}, server {s}, now {now_ns} ns")
        compared.extend(want[[3, 4, 8, 9]])
    return compared


def start(*args):
    prefix = f"marllb_clock_{uuid.uuid4().hex[:8]}_"
    proc = subprocess.Popen([SIM, "--raw-reservoirs", "--quiet", "--exit-with-parent", "--region-prefix", prefix,
                             *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            return proc, marllb_shm.SharedMemoryRegion(prefix + "0"), prefix + "0"
        except marllb_shm.NoRegionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"marllb-sim made no region: {proc.communicate()[1]}")
            time.sleep(0.02)


def stop(proc, region, name):
    region.close()
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if os.path.exists(f"/dev/shm/{name}"):
        os.unlink(f"/dev/shm/{name}")


@pytest.mark.parametrize("lb_model", ["marllb", "clean"])
def test_lockstep_features_recompute_from_the_reservoirs_at_the_observations_timestamp(lb_model):
    # 40 s of simulated time (200 observations), answered at once so the LB waits for each
    # read: past 30 s the simulated clock is ~30 s ahead of the wall clock, where a wrong "now"
    # moves every decayed feature by far more than the tolerance.
    proc, region, name = start("--lockstep", "--policy", "agent", "--lb-model", lb_model, "--duration", "40",
                               "--seed", "5", "--lockstep-wait-ms", "60000")
    try:
        checked, decayed, first, last = 0, [], None, None
        while True:
            obs = region.wait_observation(timeout=10, arrays=True)
            if obs is None:
                break
            res = region.read_reservoirs()
            now_ns = round(obs["timestamp"] * 1e6) * 1000  # timestamp_us, the simulated time of the publish
            decayed += check_observation(obs, res, now_ns, lb_model == "marllb", rtol=1e-5)
            checked, first, last = checked + 1, first or now_ns, now_ns
            region.write_action(obs["sequence_id"], [1.0] * int(obs["active"].sum()))
        assert checked >= 195, f"only {checked} observations read"
        assert max(decayed) > 0.01, "no decayed feature to compare: the run took no samples"
        assert last - first >= 38e9, "the observations did not span the run's 40 simulated seconds"
    finally:
        stop(proc, region, name)


def test_realtime_features_recompute_from_the_reservoirs_at_the_publish_time():
    # In real time the features are taken at the LB's clock reading before the publish;
    # publish_mono_ns is read at the start of the publish call, after the features were
    # computed (~50 us with 7 servers): each 100 us between the two moves a decayed feature by
    # 1.05e-5, so rtol 1e-3 allows ~10 ms (a descheduled LB lcore) and nothing more.
    proc, region, name = start("--duration", "4", "--seed", "5")
    try:
        checked, decayed = 0, []
        while True:
            obs = region.wait_observation(timeout=2, arrays=True)
            if obs is None:
                break
            res = region.read_reservoirs()
            decayed += check_observation(obs, res, obs["publish_mono_ns"], True, rtol=1e-3)
            checked += 1
        assert checked >= 15, f"only {checked} observations read"
        assert max(decayed) > 0.01, "no decayed feature to compare: the run took no samples"
    finally:
        stop(proc, region, name)
