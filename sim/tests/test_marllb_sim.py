"""marllb-sim end to end on the embedded DPDK default (two net_ring vdevs, no hugepages).

Each test starts the binary (path in MARLLB_SIM) and checks what a user relies on: lockstep
runs are reproducible, observations arrive at the cadence, bad input stops with a message that
says what was wrong. ctest runs these one at a time (two busy lcores fill both cores).
"""
import csv
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

SIM = os.environ.get("MARLLB_SIM")
TRACES = os.path.join(os.path.dirname(__file__), "..", "traces")
pytestmark = pytest.mark.skipif(not SIM, reason="MARLLB_SIM (the marllb-sim binary) is not set")


def run(*args, timeout=120):
    return subprocess.run([SIM, *args], capture_output=True, text=True, timeout=timeout)


def region_prefix():
    return f"marllb_test_{uuid.uuid4().hex[:8]}_"


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_help_names_the_modes_and_the_eal_default():
    r = run("--help")
    assert r.returncode == 0
    for word in ("--lockstep", "--flood", "--policy", "--trace", "net_ring"):
        assert word in r.stdout


def test_lockstep_runs_with_one_seed_are_identical(tmp_path):
    out = tmp_path / "sim.csv"
    for _ in range(2):
        r = run("--lockstep", "--duration", "20", "--seed", "7", "--quiet", "--csv", str(out),
                "--region-prefix", region_prefix())
        assert r.returncode == 0, r.stderr
    a, b = rows(out)
    same = ("packets", "flows", "observations", "flows_completed", "fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util")
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert int(a["observations"]) == 100  # 20 s at 200 ms
    assert int(a["drops"]) == 0


def test_lockstep_runs_with_dynamics_are_identical_for_a_seed_and_name_them(tmp_path):
    events = tmp_path / "throttle.csv"
    events.write_text("time_s,event,server,value\n5,capacity,4,0.5\n8,drain,6,\n12,restore,6,\n15,capacity,4,2\n")
    out = tmp_path / "sim.csv"
    for _ in range(2):
        r = run("--lockstep", "--duration", "20", "--seed", "7", "--quiet", "--csv", str(out), "--events", str(events),
                "--work", "pareto:1.2", "--provisioned", "1,1,1,1,1,1,1", "--region-prefix", region_prefix())
        assert r.returncode == 0, r.stderr
    a, b = rows(out)
    same = ("packets", "flows", "observations", "flows_completed", "fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util")
    assert {k: a[k] for k in same} == {k: b[k] for k in same}
    assert (a["work"], a["provisioned"], a["events"], a["event_count"]) == ("pareto:1.2", "1,1,1,1,1,1,1", "throttle.csv", "4")
    # Each kind of event changes the run: the capacity events alone (the world's), and the
    # drain on top of them (the LB's), against the same seed without them.
    capacity_only = tmp_path / "capacity.csv"
    capacity_only.write_text("time_s,event,server,value\n5,capacity,4,0.5\n15,capacity,4,2\n")
    p90 = {}
    for name, extra in (("plain", []), ("capacity", ["--events", str(capacity_only)])):
        r = run("--lockstep", "--duration", "20", "--seed", "7", "--quiet", "--csv", str(tmp_path / f"{name}-row.csv"),
                "--work", "pareto:1.2", "--provisioned", "1,1,1,1,1,1,1", "--region-prefix", region_prefix(), *extra)
        assert r.returncode == 0, r.stderr
        p90[name] = rows(tmp_path / f"{name}-row.csv")[0]["fct_p90_s"]
    assert len({p90["plain"], p90["capacity"], a["fct_p90_s"]}) == 3, (p90, a["fct_p90_s"])


def test_dynamics_errors_exit_2_naming_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,event,server,value\n5,capacity,4,0.5\n3,capacity,4,2\n")
    for args, word in ((["--events", str(bad)], "bad.csv:3: time 3 goes back"),
                       (["--events", str(tmp_path / "none.csv")], "cannot read"),
                       (["--work", "pareto:9"], "ALPHA"),
                       (["--provisioned", "1,1"], "give one per server"),
                       (["--provisioned", "1,x,1,1,1,1,1"], "--provisioned"),
                       (["--work", "lognormal:1", "--trace", os.path.join(TRACES, "poisson_for_loop_rate_350.csv")], "--trace")):
        r = run(*args, "--quiet", "--lockstep", "--duration", "1")
        assert r.returncode == 2, (args, r.stderr)
        assert word in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def publish_gaps_ms(stdout):
    """(min, mean, max) from the summary line 'gaps between publishes  min A ms, mean B ms, max C ms'."""
    line = next(l for l in stdout.splitlines() if "gaps between publishes" in l)
    nums = [float(w) for w in line.replace(",", " ").split() if w.replace(".", "", 1).isdigit()]
    return nums[0], nums[1], nums[2]


def test_realtime_clean_publishes_on_its_timer_and_forwards_every_flow(tmp_path):
    # The clean model's timer keeps the count (30 boundaries in 3 s at 100 ms; a late publish
    # does not move the next boundary).
    out = tmp_path / "sim.csv"
    r = run("--duration", "3", "--publish-us", "100000", "--lb-model", "clean", "--quiet", "--csv", str(out),
            "--region-prefix", region_prefix())
    assert r.returncode == 0, r.stderr
    row = rows(out)[0]
    assert 28 <= int(row["observations"]) <= 30  # 3 s at 100 ms; the first one at 100 ms
    assert int(row["flows"]) > 0
    assert int(row["drops"]) == 0
    assert float(row["jain_util"]) > 0.9


def test_realtime_marllb_never_publishes_within_an_interval_of_the_last(tmp_path):
    # MARLLB's rule (node.c:509-517): a publish on the first packet at least one interval after
    # the last. Every gap is >= 100 ms, so at most 30 in 3 s; the count itself drifts below 30
    # by the wait for a packet and for the LB lcore to run (a loaded machine gives 27).
    out = tmp_path / "sim.csv"
    r = run("--duration", "3", "--publish-us", "100000", "--lb-model", "marllb", "--quiet", "--csv", str(out),
            "--region-prefix", region_prefix())
    assert r.returncode == 0, r.stderr
    row = rows(out)[0]
    gmin, gmean, gmax = publish_gaps_ms(r.stdout)
    assert gmin >= 100.0, r.stdout
    assert 1 <= int(row["observations"]) <= 30
    assert int(row["drops"]) == 0


def test_trace_replay_runs_and_a_broken_trace_names_file_and_line(tmp_path):
    r = run("--lockstep", "--duration", "5", "--quiet", "--no-region",
            "--trace", os.path.join(TRACES, "poisson_for_loop_rate_350.csv"))
    assert r.returncode == 0, r.stderr
    assert "client flows" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("time\tquery\n0.1\t/dummy.php/?n=5\n0.2\t/dummy.php/?n=oops\n")
    r = run("--trace", str(bad), "--no-region")
    assert r.returncode != 0
    assert f"{bad}:3:" in r.stderr and "whole number" in r.stderr


def test_bad_eal_arguments_say_what_to_check():
    r = run("--no-region", "--", "--no-such-eal-flag")
    assert r.returncode != 0
    assert "EAL" in r.stderr and "--vdev=net_ring0" in r.stderr


def test_bad_options_are_refused_with_the_accepted_values():
    r = run("--servers", "1,x", "--no-region")
    assert r.returncode != 0 and "marllb7" in r.stderr
    r = run("--policy", "random", "--no-region")
    assert r.returncode != 0 and "ecmp" in r.stderr


def test_flood_reports_the_lb_rate_against_the_bare_handoff(tmp_path):
    out = tmp_path / "sim.csv"
    r = run("--flood", "--flood-seconds", "0.5", "--no-region", "--csv", str(out))
    assert r.returncode == 0, r.stderr
    row = rows(out)[0]
    assert float(row["bare_mpps"]) > 0 and float(row["mpps"]) > 0
    assert 0 < float(row["ratio_to_bare"]) <= 1.5
    # Only the flows whose SYN went by during the bare phase are unknown to the LB.
    assert int(row["drops"]) == 0  # flows the LB never saw open go untracked, by the hash
    assert int(row["untracked"]) > 0


def process_alive(pid):
    """True while pid exists and is not a zombie (an orphan's zombie waits for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_exit_with_parent_stops_a_waiting_lockstep_run_when_its_driver_is_killed():
    # A lockstep run with an agent policy waits (here up to an hour) for answers that a killed
    # driver will never write; --exit-with-parent must end it within moments of the kill.
    prefix = region_prefix()
    driver = subprocess.Popen(
        [sys.executable, "-c",
         "import subprocess, sys, time\n"
         f"p = subprocess.Popen([{SIM!r}, '--lockstep', '--policy', 'agent', '--duration', '600', '--quiet',\n"
         f"    '--lockstep-wait-ms', '3600000', '--region-prefix', {prefix!r}, '--exit-with-parent'],\n"
         "    stdout=subprocess.DEVNULL, start_new_session=True)\n"
         "print(p.pid, flush=True)\n"
         "time.sleep(600)\n"],
        stdout=subprocess.PIPE, text=True)
    sim_pid = int(driver.stdout.readline())
    try:
        region = f"/dev/shm/{prefix}0"
        deadline = time.monotonic() + 30
        while not os.path.exists(region) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.path.exists(region), "marllb-sim never created its region"
        time.sleep(0.5)  # well into its wait for the first answer
        assert process_alive(sim_pid)
        driver.kill()
        driver.wait()
        deadline = time.monotonic() + 5
        while process_alive(sim_pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_alive(sim_pid), "marllb-sim outlived the process that started it"
    finally:
        if process_alive(sim_pid):
            os.kill(sim_pid, signal.SIGKILL)
        for leftover in (f"/dev/shm/{prefix}0",):  # SIGKILLed: the region is left for its owner to remove
            if os.path.exists(leftover):
                os.unlink(leftover)


def cpu_seconds(pid):
    """User + system CPU time of pid so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_lockstep_run_waiting_for_its_agent_leaves_the_cpus_to_it():
    # Nobody answers the first observation: the run waits at the second publish. Busy-polling,
    # its two lcores would use up to 2 CPU-seconds per second; sleeping between polls, far less.
    prefix = region_prefix()
    sim = subprocess.Popen([SIM, "--lockstep", "--policy", "agent", "--duration", "60", "--quiet",
                            "--lockstep-wait-ms", "60000", "--region-prefix", prefix],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        region = f"/dev/shm/{prefix}0"
        deadline = time.monotonic() + 30
        while not os.path.exists(region) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.path.exists(region), "marllb-sim never created its region"
        time.sleep(0.5)  # past the first interval, into the wait
        before, t0 = cpu_seconds(sim.pid), time.monotonic()
        time.sleep(1.0)
        used = (cpu_seconds(sim.pid) - before) / (time.monotonic() - t0)
        assert sim.poll() is None
        assert used < 0.1, f"{used:.2f} CPU-seconds per second while waiting for the agent"
    finally:
        sim.kill()
        sim.wait()
        if os.path.exists(f"/dev/shm/{prefix}0"):
            os.unlink(f"/dev/shm/{prefix}0")


def test_an_episode_waiting_for_its_agent_leaves_the_cpus_to_it():
    # Episodes on commands (--control-fd) wait for the agent on one thread that gives its CPU
    # away between polls for 2 ms, then sleeps: an agent that thinks for a second (a learner's
    # update) does not find a simulator spinning on a CPU beside it.
    prefix = region_prefix()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sim = subprocess.Popen([SIM, "--lockstep", "--quiet", "--policy", "agent", "--duration", "60", "--lockstep-wait-ms",
                            "60000", "--control-fd", str(theirs.fileno()), "--region-prefix", prefix],
                           pass_fds=(theirs.fileno(),), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    theirs.close()
    try:
        with ours, ours.makefile("rwb", buffering=0) as f:
            f.write(b"episode 1\n")
            assert f.readline().split()[:1] == [b"started"]
            time.sleep(0.5)  # the first observation published, the LB waiting for its answer
            before, t0 = cpu_seconds(sim.pid), time.monotonic()
            time.sleep(1.0)
            used = (cpu_seconds(sim.pid) - before) / (time.monotonic() - t0)
            assert sim.poll() is None
            assert used < 0.1, f"{used:.2f} CPU-seconds per second while waiting for the agent"
        assert sim.wait(timeout=30) == 0  # the socket closed: the process ends, its region removed
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
        if os.path.exists(f"/dev/shm/{prefix}0"):
            os.unlink(f"/dev/shm/{prefix}0")


def test_a_csv_of_another_column_set_is_refused_before_the_run_and_leaves_no_region(tmp_path):
    # Checked before DPDK starts: no run is lost to a bad --csv, and no region is left behind.
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    prefix = region_prefix()
    r = run("--lockstep", "--duration", "60", "--quiet", "--region-prefix", prefix, "--csv", str(out))
    assert r.returncode == 2 and "another column set" in r.stderr, r.stderr
    assert "client flows" not in r.stdout  # refused before the run, not after it
    assert not os.path.exists(f"/dev/shm/{prefix}0")
    assert out.read_text() == "a,b\n1,2\n"


def test_a_run_that_outlasts_its_trace_window_says_so():
    trace = os.path.join(TRACES, "poisson_for_loop_rate_350.csv")
    late = run("--lockstep", "--duration", "5", "--quiet", "--no-region", "--trace", trace, "--trace-start", "226")
    assert late.returncode == 0 and "no arrivals after it" in late.stderr, late.stderr
    inside = run("--lockstep", "--duration", "2", "--quiet", "--no-region", "--trace", trace, "--trace-start", "100")
    assert inside.returncode == 0 and "no arrivals after it" not in inside.stderr, inside.stderr


def raw_action(seq, weights):
    """msg_in_t bytes: the weights and an alias table that draws each server with its share
    (non-heaviest entries kept with p_i = w_i n / sum, else aliased to the heaviest)."""
    import struct
    n, total = len(weights), float(sum(weights))
    heavy = max(range(n), key=lambda i: weights[i])
    probs = [w * n / total for w in weights]
    probs[heavy] = 0.0
    probs[heavy] = weights[heavy] * n / total - (n - 1 - sum(probs))
    body = struct.pack("<QQII", seq, 0, n, 0) + struct.pack("<64f", *(list(weights) + [0.0] * (64 - n)))
    for i in range(64):
        body += struct.pack("<fI", probs[i], heavy) if i < n else struct.pack("<fI", 0.0, 0)
    return body


@pytest.mark.parametrize("count", [8, 3])
def test_raw_actions_for_another_server_count_are_rejected_by_the_lb(tmp_path, count):
    # An agent writing straight into the region (no library checks) answers every observation of
    # a 7-server LB with `count` weights, the heaviest on the last index. The LB declared 7
    # servers: it rejects each (SERVER_COUNT) and never applies one, so no flow goes to a
    # server that does not exist and none is starved by a short table.
    import mmap
    import struct
    prefix, out = region_prefix(), tmp_path / "sim.csv"
    sim = subprocess.Popen([SIM, "--lockstep", "--policy", "agent-alias", "--servers", "1,1,1,1,2,2,2",
                            "--duration", "4", "--lockstep-wait-ms", "20", "--quiet", "--region-prefix", prefix,
                            "--csv", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path, answered, rejected_by_reason = f"/dev/shm/{prefix}0", 0, 0
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(path) and time.monotonic() < deadline and sim.poll() is None:
            time.sleep(0.01)
        with open(path, "r+b") as f, mmap.mmap(f.fileno(), 0) as mm:
            while sim.poll() is None and time.monotonic() < deadline:
                seq = struct.unpack_from("<Q", mm, 4096)[0]  # published_seq
                if seq > answered:
                    weights = [1.0] * (count - 1) + [1000.0]
                    lock = struct.unpack_from("<Q", mm, 16384)[0]
                    mm[16384 + 192:16384 + 192 + 792] = raw_action(seq, weights)
                    struct.pack_into("<Q", mm, 16384, (lock | 1) + 1)
                    answered = seq
                rejected_by_reason = struct.unpack_from("<Q", mm, 320 + 8 * 13)[0]  # SERVER_COUNT
                time.sleep(0.001)
        sim.wait(timeout=60)
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
        if os.path.exists(path):
            os.unlink(path)
    assert sim.returncode == 0, sim.stderr.read()
    row = rows(out)[0]
    assert answered >= 10
    assert int(row["actions_applied"]) == 0, row
    assert int(row["actions_rejected"]) >= 10 and rejected_by_reason >= 10, (row, rejected_by_reason)


@pytest.mark.parametrize("args", [
    ["--load", "5"],             # range (CLI11 used to exit 105)
    ["--duration", "abc"],       # type
    ["--no-such-option"],        # unknown (109)
    ["--seed", "1", "--seed", "2"],  # repeated (114)
    ["--servers", "1,,2"],       # an empty item: not a list of two servers
    ["--servers", "1,2,"],
    ["--fallback", "sometimes"],
    ["--control-fd", "0"],       # episodes on commands need --lockstep ...
    ["--lockstep", "--control-fd", "0"],  # ... and regions (and a socket: below)
])
def test_every_user_error_exits_2_with_one_line_naming_the_program(args):
    r = run(*args, "--no-region", "--quiet")
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("marllb-sim: ") and r.stderr.count("\n") == 1, r.stderr
    assert "client flows" not in r.stdout


def test_version_names_the_commit_built_from():
    r = run("--version")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("marllb-sim ") and "(git " in r.stdout and "(git unknown)" not in r.stdout


def test_the_row_carries_the_build_commit_and_a_run_id_without_the_wrappers(tmp_path):
    out = tmp_path / "sim.csv"
    env = {k: v for k, v in os.environ.items() if k not in ("MARLLB_GIT_COMMIT", "MARLLB_RUN_ID")}
    r = subprocess.run([SIM, "--lockstep", "--duration", "1", "--quiet", "--no-region", "--csv", str(out)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    row = rows(out)[0]
    version = run("--version").stdout.split("(git ")[1].rstrip(")\n")
    assert row["git_commit"] == version != "unknown"
    assert row["run_id"].endswith("Z-" + row["run_id"].split("-")[-1]) and len(row["run_id"]) > 17
    env["MARLLB_RUN_ID"] = "run-42"  # a wrapper names its run folder
    subprocess.run([SIM, "--lockstep", "--duration", "1", "--quiet", "--no-region", "--csv", str(out)], env=env,
                   capture_output=True, timeout=120, check=True)
    assert rows(out)[1]["run_id"] == "run-42"


@pytest.mark.parametrize("flag", ["--csv", "--timeseries"])
def test_an_output_that_cannot_be_written_is_refused_before_the_run(tmp_path, flag):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    prefix = region_prefix()
    r = run("--lockstep", "--duration", "60", "--quiet", "--region-prefix", prefix, flag, str(blocker / "sim.csv"))
    assert r.returncode == 2
    assert f"cannot write '{blocker}/sim.csv': Not a directory" in r.stderr and flag in r.stderr
    assert r.stderr.startswith("marllb-sim: ") and r.stderr.count("\n") == 1
    assert "client flows" not in r.stdout  # refused before the run, not after it
    assert not os.path.exists(f"/dev/shm/{prefix}0")


def test_a_control_fd_that_is_not_a_socket_is_refused_before_the_run(tmp_path):
    with open(tmp_path / "f", "w") as f:
        r = subprocess.run([SIM, "--lockstep", "--quiet", "--control-fd", str(f.fileno()), "--region-prefix", region_prefix()],
                           capture_output=True, text=True, timeout=60, pass_fds=(f.fileno(),))
    assert r.returncode == 2 and "is not an open socket" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_episodes_on_commands_are_answered_in_order_and_repeat_with_their_seed(tmp_path):
    # The protocol of --control-fd (episodes.cpp) without the environment: each command's answers,
    # the sequence ids going on across episodes, one row per episode, the same seed giving the
    # same row; then a bad command: answered, exit 2, the regions removed all the same.
    out = tmp_path / "rows.csv"
    prefix = region_prefix()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sim = subprocess.Popen([SIM, "--lockstep", "--quiet", "--duration", "2", "--control-fd", str(theirs.fileno()),
                            "--region-prefix", prefix, "--csv", str(out)], pass_fds=(theirs.fileno(),),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    theirs.close()
    try:
        with ours, ours.makefile("rwb", buffering=0) as f:
            firsts = []
            for seed in (3, 4, 3):
                f.write(b"episode %d\n" % seed)
                started, done = f.readline().split(), f.readline().strip()
                assert started[0] == b"started" and done == b"done", (started, done)
                firsts.append(int(started[1]))
            assert firsts == [1, 11, 21]  # 10 observations an episode (2 s at 200 ms), ids never go back
            f.write(b"episode three\n")
            assert f.readline().startswith(b"error unknown command")
        assert sim.wait(timeout=60) == 2
    finally:
        if sim.poll() is None:
            sim.kill()
            sim.wait()
    assert sim.stderr.read().count("\n") == 1
    assert not os.path.exists(f"/dev/shm/{prefix}0")
    a, b, c = rows(out)
    same = ("packets", "flows", "observations", "flows_completed", "fct_p50_s", "fct_p90_s", "fct_p99_s", "jain_util")
    assert {k: a[k] for k in same} == {k: c[k] for k in same} != {k: b[k] for k in same}
    assert a["seed"] == c["seed"] == "3" and b["seed"] == "4" and int(a["observations"]) == 10
