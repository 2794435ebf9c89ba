"""marllb-sim as two processes (--role world, --role lb) over net_memif, and --pcap captures.

What a user relies on: the two rows account for every frame; the C++ agent drives the LB
process's region; either process dying is seen by the other within a second and neither hangs;
a restarted LB carries on with the world; a capture holds the run's flows. Every name (socket,
region) is unique per test; sockets, regions and DPDK runtime directories are removed by path
in a finally (also when a process was killed), processes stopped by pid.
"""
import csv
import glob
import os
import random
import shutil
import signal
import struct
import subprocess
import threading
import time
import uuid

import pytest

SIM = os.environ.get("MARLLB_SIM")
AGENT = os.environ.get("MARLLB_AGENT")
pytestmark = pytest.mark.skipif(not SIM, reason="MARLLB_SIM (the marllb-sim binary) is not set")
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="DPDK's net_memif with --no-huge needs root here")


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


class Proc:
    """A marllb-sim (or agent) process whose stderr lines are kept with the time they came."""

    def __init__(self, args):
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_line(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, line in self.lines:
                if text in line:
                    return t
            time.sleep(0.01)
        return None

    def stderr(self):
        return "\n".join(l for _, l in self.lines)

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


class Setup:
    """Unique names for one test, and their removal."""

    def __init__(self, tmp_path):
        self.tag = uuid.uuid4().hex[:8]
        self.sock = f"/tmp/marllb_t{self.tag}.sock"  # short: a socket path has at most 107 bytes
        self.prefix = f"marllb_test_{self.tag}_"
        self.tmp = tmp_path
        self.procs = []

    def start(self, *args):
        p = Proc(list(args))
        self.procs.append(p)
        return p

    def world(self, *args):
        return self.start(SIM, "--role", "world", "--memif", self.sock, "--quiet", *args)

    def lb(self, *args):
        return self.start(SIM, "--role", "lb", "--memif", self.sock, "--quiet", "--region-prefix", self.prefix, *args)

    def cleanup(self):
        for p in self.procs:
            p.stop()
        for path in [self.sock, *glob.glob(f"/dev/shm/{self.prefix}*")]:
            if os.path.exists(path):
                os.unlink(path)
        for d in glob.glob(f"/var/run/dpdk/marllb_*_marllb_t{self.tag}_sock_*"):
            shutil.rmtree(d, ignore_errors=True)


def cleaned_up(s):
    """Yields s (a Setup) to the test, then removes what it made, also when the test failed."""
    try:
        yield s
    finally:
        s.cleanup()


@pytest.fixture
def setup(tmp_path):
    yield from cleaned_up(Setup(tmp_path))


def region_up(name, timeout=120):
    deadline = time.monotonic() + timeout
    while not os.path.exists(f"/dev/shm/{name}") and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(f"/dev/shm/{name}")


@root_only
@pytest.mark.skipif(not AGENT, reason="MARLLB_AGENT (the marllb-agent binary) is not set")
def test_two_processes_account_for_every_frame_with_the_agent_on_the_lb(setup):
    wcsv, lcsv = setup.tmp / "world.csv", setup.tmp / "lb.csv"
    world = setup.world("--duration", "5", "--csv", str(wcsv), "--connect-timeout-s", "60")
    lb = setup.lb("--policy", "agent", "--publish-us", "100000", "--csv", str(lcsv), "--connect-timeout-s", "60")
    assert region_up(setup.prefix + "0"), "the LB never created its region:\n" + lb.stderr()
    agent = setup.start(AGENT, "--region", setup.prefix + "0", "--servers", "marllb7", "--interval-ms", "100", "--quiet")
    assert world.p.wait(timeout=600) == 0, world.stderr()
    assert lb.p.wait(timeout=30) == 0, lb.stderr()
    agent.stop()
    w, l = rows(wcsv)[0], rows(lcsv)[0]
    assert (w["role"], w["status"], w["lb_reported"]) == ("world", "ok", "1")
    assert (l["role"], l["status"]) == ("lb", "ok")
    sent, packets = int(w["world_sent"]), int(w["packets"])
    assert sent > 1000
    # Every frame the world sent reached the LB, which forwarded or dropped it (by reason) ...
    assert packets == sent == int(l["world_sent"]) == int(l["packets"])
    drops = sum(int(v) for k, v in l.items() if k.startswith("drop_"))
    assert int(l["drops"]) == drops
    assert packets == int(l["forwarded"]) + drops
    # ... and every frame it forwarded came back to the world (nothing in flight at the end).
    assert int(w["world_received"]) == int(l["forwarded"]) - int(l["tx_full"])
    # The world's row carries the LB's counters as the LB wrote them in its own row.
    for k in ("packets", "forwarded", "tx_full", "flows", "drops", "untracked", "observations", "actions_applied"):
        assert w[k] == l[k], k
    # The agent drove the LB process's region.
    assert int(l["observations"]) >= 30  # 5 s at 100 ms
    assert int(l["actions_applied"]) > 0
    assert not os.path.exists(setup.sock), "the world left its socket"
    assert not glob.glob(f"/dev/shm/{setup.prefix}*"), "the LB left its region"


@root_only
@pytest.mark.skipif(not AGENT, reason="MARLLB_AGENT (the marllb-agent binary) is not set")
def test_across_processes_a_killed_agent_falls_back_and_a_restarted_one_is_applied(setup):
    wcsv, lcsv, acsv = setup.tmp / "world.csv", setup.tmp / "lb.csv", setup.tmp / "agent2.csv"
    world = setup.world("--duration", "8", "--csv", str(wcsv), "--connect-timeout-s", "60")
    lb = setup.lb("--policy", "agent", "--publish-us", "100000", "--csv", str(lcsv), "--connect-timeout-s", "60")
    assert region_up(setup.prefix + "0"), lb.stderr()
    agent_args = (AGENT, "--region", setup.prefix + "0", "--servers", "marllb7", "--interval-ms", "100", "--quiet")
    agent = setup.start(*agent_args)
    time.sleep(1.5)
    agent.p.send_signal(signal.SIGKILL)
    agent.p.wait()
    time.sleep(1.5)  # past the LB's agent timeout (1 s): it falls back
    agent2 = setup.start(*agent_args, "--csv", str(acsv))
    assert world.p.wait(timeout=600) == 0, world.stderr()
    assert lb.p.wait(timeout=30) == 0, lb.stderr()
    agent2.p.send_signal(signal.SIGTERM)
    assert agent2.p.wait(timeout=30) == 0, agent2.stderr()
    l, a2 = rows(lcsv)[0], rows(acsv)[0]
    assert int(l["fallbacks"]) >= 1, "the LB did not fall back when its agent was killed"
    # The LB reads actions only at its publishes (every 100 ms): the first agent, killed 1.5 s
    # after the region appeared, could have had at most ~16 applied; the rest are the second's.
    assert int(l["actions_applied"]) > 20, l["actions_applied"]
    assert int(a2["decisions"]) > 0 and int(a2["rejected"]) == 0, a2


def kill_and_see_it_seen(victim, watcher, line):
    """SIGKILLs victim (by its pid) and asserts that watcher prints `line` within a second."""
    victim.p.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    seen = watcher.wait_line(line, timeout=5)
    assert seen is not None, watcher.stderr()
    assert seen - killed < 1.0, f"'{line}' came {seen - killed:.2f} s after the kill"


def lb_killed_and_restarted_then_world_killed(s):
    """Over s's link (memif or af_packet): a killed LB is seen by the world within a second, a
    restarted one carries on with it, and a killed world is seen by that LB within a second."""
    wcsv, lcsv = s.tmp / "world.csv", s.tmp / "lb.csv"
    world = s.world("--duration", "120", "--csv", str(wcsv), "--connect-timeout-s", "300")
    lb = s.lb("--connect-timeout-s", "60")
    assert region_up(s.prefix + "0"), lb.stderr()
    time.sleep(1.5)
    kill_and_see_it_seen(lb, world, "the LB process is gone")
    assert world.p.poll() is None, "the world must go on without its LB"
    # A restarted LB reopens the region the killed one left and carries on with the world.
    lb2 = s.lb("--connect-timeout-s", "300", "--csv", str(lcsv))
    back = world.wait_line("an LB is back", timeout=300)
    assert back is not None, world.stderr() + "\n" + lb2.stderr()
    time.sleep(1.0)
    # Now the world dies: the LB sees it within a second, writes its row and exits (status 1).
    kill_and_see_it_seen(world, lb2, "the world process is gone")
    assert lb2.p.wait(timeout=10) == 1
    row = rows(lcsv)[0]
    assert (row["role"], row["status"]) == ("lb", "world_lost")
    assert int(row["packets"]) > 0
    assert not glob.glob(f"/dev/shm/{s.prefix}*"), "the restarted LB left its region"


@root_only
def test_a_killed_lb_is_seen_within_a_second_and_a_restarted_one_carries_on(setup):
    lb_killed_and_restarted_then_world_killed(setup)


@root_only
def test_a_world_whose_lb_came_back_says_so_in_its_row(setup):
    wcsv = setup.tmp / "world.csv"
    world = setup.world("--duration", "20", "--csv", str(wcsv), "--connect-timeout-s", "60")
    lb = setup.lb("--connect-timeout-s", "60")
    assert region_up(setup.prefix + "0"), lb.stderr()
    time.sleep(1.0)
    lb.p.send_signal(signal.SIGKILL)
    lb.p.wait()
    lb2 = setup.lb("--connect-timeout-s", "60")
    assert world.p.wait(timeout=600) == 0, world.stderr()
    assert lb2.p.wait(timeout=30) == 0, lb2.stderr()
    w = rows(wcsv)[0]
    assert (w["status"], w["lb_losses"], w["lb_reported"]) == ("lb_restarted", "1", "1"), world.stderr()
    # The frames the killed LB took are in world_sent, not in the restarted LB's packets.
    assert int(w["world_sent"]) > int(w["packets"]) > 0


def count_lines(proc, text):
    return sum(text in line for _, line in proc.lines)


@root_only
def test_a_world_outlives_many_lb_kills_mid_burst(setup):
    """Each SIGKILL of the LB makes DPDK's memif PMD unmap the shared rings in the world's
    interrupt thread while its lcore may be inside a burst on them (sim/apps/marllb_sim/
    link_burst.hpp). The world must outlive every kill (MARLLB_LB_KILLS of them, 30 by
    default) and count each loss in its row."""
    kills = int(os.environ.get("MARLLB_LB_KILLS", "30"))
    wcsv = setup.tmp / "world.csv"
    world = setup.world("--duration", "3600", "--csv", str(wcsv), "--connect-timeout-s", "60")
    rng = random.Random(kills)
    for i in range(kills):
        lb = setup.lb("--connect-timeout-s", "60")
        if i == 0:
            assert region_up(setup.prefix + "0"), lb.stderr()
            time.sleep(1.0)  # the world's run starts once the LB's memif links are up
        deadline = time.monotonic() + 60
        while (i and count_lines(world, "an LB is back") < i) and world.p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not i or count_lines(world, "an LB is back") == i, f"LB {i + 1} never joined:\n{world.stderr()}\n{lb.stderr()}"
        time.sleep(rng.uniform(0.05, 0.5))  # kill it at a random point of its traffic
        lb.p.send_signal(signal.SIGKILL)
        lb.p.wait()
        deadline = time.monotonic() + 10
        while count_lines(world, "the LB process is gone") <= i and world.p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert world.p.poll() is not None or count_lines(world, "the LB process is gone") == i + 1, world.stderr()
        assert world.p.poll() is None, f"the world died (exit {world.p.returncode}) at LB kill {i + 1} of {kills}:\n" + world.stderr()
        setup.procs.remove(lb)
    world.p.send_signal(signal.SIGTERM)
    assert world.p.wait(timeout=60) >= 0, world.stderr()
    w = rows(wcsv)[0]
    assert (w["status"], w["lb_losses"]) == ("stopped", str(kills)), world.stderr()


# ---- af_packet: the same two roles over veth pairs in network namespaces ----

VETH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "veth.sh")
need_ip = pytest.mark.skipif(shutil.which("ip") is None, reason="ip(8) (iproute2) is not installed")


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


class Veth(Setup):
    """Namespaces v<pid>-world and v<pid>-lb from scripts/veth.sh, removed at the end; those a
    killed test process left (its pid gone) are removed first."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path)
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        for ns in {line.split()[0] for line in out.splitlines() if line.strip()}:
            head = ns.split("-")[0]
            if head[:1] == "v" and head[1:].isdigit() and not alive(int(head[1:])):
                subprocess.run(["ip", "netns", "del", ns], check=False)
        self.name = f"v{os.getpid()}"
        subprocess.run([VETH, "up", self.name], check=True, capture_output=True)

    def world(self, *args):
        return self.start("ip", "netns", "exec", self.name + "-world", SIM, "--role", "world", "--af-packet", "mw-in,mw-out",
                          "--quiet", *args)

    def lb(self, *args):
        return self.start("ip", "netns", "exec", self.name + "-lb", SIM, "--role", "lb", "--af-packet", "ml-in,ml-out",
                          "--quiet", "--region-prefix", self.prefix, *args)

    def cleanup(self):
        super().cleanup()
        subprocess.run([VETH, "down", self.name], check=False, capture_output=True)
        for d in glob.glob(f"/var/run/dpdk/marllb_*_afp_{self.name}_*"):
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def veth(tmp_path):
    yield from cleaned_up(Veth(tmp_path))


@root_only
@need_ip
@pytest.mark.skipif(not AGENT, reason="MARLLB_AGENT (the marllb-agent binary) is not set")
@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="tcpdump is not installed")
def test_over_af_packet_the_rows_account_for_every_frame_and_tcpdump_sees_the_flows(veth):
    wcsv, lcsv = veth.tmp / "world.csv", veth.tmp / "lb.csv"
    # The kernel's view of the LB's input: the clients' SYNs to the service, on the veth.
    dump = veth.start("ip", "netns", "exec", veth.name + "-lb", "tcpdump", "-lni", "ml-in", "-c", "40",
                      "dst host 192.0.2.1 and tcp[tcpflags] & tcp-syn != 0")
    seen = dump.wait_line("listening on ml-in", timeout=30)
    assert seen is not None, dump.stderr()
    world = veth.world("--duration", "5", "--csv", str(wcsv), "--connect-timeout-s", "60")
    time.sleep(1.0)  # the world waits for its LB: no client frame goes out before the LB is there
    lb = veth.lb("--policy", "agent", "--publish-us", "100000", "--csv", str(lcsv), "--connect-timeout-s", "60")
    assert region_up(veth.prefix + "0"), "the LB never created its region:\n" + lb.stderr()
    agent = veth.start(AGENT, "--region", veth.prefix + "0", "--servers", "marllb7", "--interval-ms", "100", "--quiet")
    assert world.p.wait(timeout=600) == 0, world.stderr()
    assert lb.p.wait(timeout=30) == 0, lb.stderr()
    agent.stop()
    w, l = rows(wcsv)[0], rows(lcsv)[0]
    assert (w["role"], w["status"], w["lb_reported"]) == ("world", "ok", "1"), world.stderr()
    assert (l["role"], l["status"]) == ("lb", "ok"), lb.stderr()
    sent = int(w["world_sent"])
    assert sent > 1000
    drops = sum(int(v) for k, v in l.items() if k.startswith("drop_"))
    assert int(w["packets"]) == sent == int(l["world_sent"]) == int(l["packets"]) == int(l["forwarded"]) + drops
    assert int(w["world_received"]) == int(l["forwarded"]) - int(l["tx_full"])
    assert int(l["actions_applied"]) > 0
    assert dump.p.wait(timeout=30) == 0, dump.stderr()
    assert dump.wait_line("40 packets captured", timeout=5) is not None, dump.stderr()
    assert not glob.glob(f"/dev/shm/{veth.prefix}*"), "the LB left its region"
    assert not glob.glob(f"/var/run/dpdk/marllb_*_afp_{veth.name}_*"), "a role left its DPDK runtime directory"


@root_only
@need_ip
def test_over_af_packet_a_killed_lb_is_seen_within_a_second_and_a_restarted_one_carries_on(veth):
    lb_killed_and_restarted_then_world_killed(veth)


@need_ip
def test_af_packet_errors_exit_2_with_one_line():
    for args, word in ((["--role", "lb", "--af-packet", "nosuch0,nosuch1"], "nosuch0"),
                       (["--role", "lb", "--af-packet", "lo"], "IN,OUT"),
                       (["--role", "lb", "--af-packet", "lo,lo"], "IN,OUT"),
                       (["--role", "world", "--af-packet", "lo,lo", "--memif", "/tmp/x.sock"], "one link"),
                       (["--af-packet", "a,b"], "--role"),
                       (["--role", "world", "--af-packet", "lo,ml-x", "--flood"], "--flood")):
        r = subprocess.run([SIM, *args, "--quiet"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("marllb-sim: ") and word in lines[0], (args, r.stderr)


def test_veth_script_user_errors_exit_2():
    for args in ([], ["up"], ["up", "name with spaces"], ["up", "waytoolongname"], ["sideways", "x"]):
        r = subprocess.run([VETH, *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("[marllb] error: "), (args, r.stderr)


def test_role_errors_exit_2_with_one_line():
    for args, word in ((["--role", "lb"], "--memif"),
                       (["--role", "world", "--memif", "/tmp/x.sock", "--lockstep"], "--lockstep"),
                       (["--memif", "/tmp/x.sock"], "--role"),
                       (["--pcap-seconds", "2"], "--pcap"),
                       # a capture the run would leave empty, a series the LB never writes
                       (["--flood", "--pcap", "/tmp/marllb-never.pcapng"], "--flood"),
                       (["--role", "lb", "--memif", "/tmp/x.sock", "--timeseries", "/tmp/marllb-never.csv"], "--timeseries")):
        r = subprocess.run([SIM, *args, "--quiet"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("marllb-sim: ") and word in lines[0], (args, r.stderr)


# ---- pcapng ----

def read_pcapng(path):
    """(interfaces, packets): interface 'name hardware' by id (DPDK names them dpdk:<port> and
    puts the device in if_hardware); packets as (interface, direction, frame), direction 'in',
    'out' or '?' from the EPB flags option. Little-endian files only."""
    data = open(path, "rb").read()
    names, packets, off = [], [], 0
    assert data[:4] == b"\x0a\x0d\x0d\x0a", "not a pcapng file"
    while off < len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            opts, o = {}, 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from("<HH", body, o)
                if code == 0:
                    break
                opts[code] = body[o + 4:o + 4 + olen].decode(errors="replace")
                o += 4 + (olen + 3) // 4 * 4
            names.append(f"{opts.get(2, '?')} {opts.get(15, '?')}")
        elif btype == 6:  # enhanced packet
            iface, _, _, caplen, _ = struct.unpack_from("<IIIII", body, 0)
            frame = body[20:20 + caplen]
            o, direction = 20 + (caplen + 3) // 4 * 4, "?"
            while o + 4 <= len(body):
                code, olen = struct.unpack_from("<HH", body, o)
                if code == 0:
                    break
                if code == 2:
                    direction = {1: "in", 2: "out"}.get(struct.unpack_from("<I", body, o + 4)[0] & 3, "?")
                o += 4 + (olen + 3) // 4 * 4
            packets.append((iface, direction, frame))
        off += blen
    return names, packets


def syn_flows(packets, iface, direction):
    """The 5-tuples of the TCP SYNs (without ACK) seen on one interface in one direction."""
    flows = []
    for i, d, f in packets:
        if i != iface or d != direction or len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
            continue
        ihl = (f[14] & 15) * 4
        if f[14 + ihl + 13] & 0x12 == 0x02:
            flows.append((f[26:30], f[30:34], f[14 + ihl:14 + ihl + 2], f[14 + ihl + 2:14 + ihl + 4], 6))
    return flows


def test_a_capture_holds_the_flows_of_the_run(tmp_path):
    # One process: the world stops its LB lcore at the end without draining its ring, so frames
    # in flight then are in the capture and not in the row (a few); the two-process capture
    # below is exact.
    out, cap = tmp_path / "sim.csv", tmp_path / "run.pcapng"
    r = subprocess.run([SIM, "--duration", "2", "--quiet", "--no-region", "--csv", str(out), "--pcap", str(cap),
                        "--pcap-count", "1000000"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "frames not sent" not in r.stderr  # else the capture holds frames the LB never saw
    row = rows(out)[0]
    names, packets = read_pcapng(cap)
    assert names[:2] == ["dpdk:0 vdev-net_ring0", "dpdk:1 vdev-net_ring1"], names
    # Port 0 out: the clients' frames to the LB; port 1 in: what the LB forwarded.
    sent = [p for p in packets if p[0] == 0 and p[1] == "out"]
    back = [p for p in packets if p[0] == 1 and p[1] == "in"]
    packets_at_lb = int(row["packets"])
    assert packets_at_lb <= len(sent) <= packets_at_lb + 1024  # at most a ring in flight
    assert packets_at_lb - 1024 <= len(back) <= packets_at_lb
    syns = syn_flows(packets, 0, "out")
    flows = int(row["flows"]) + int(row["untracked_syns"])
    assert len(syns) == len(set(syns)) > 100
    assert flows <= len(syns) <= flows + 1024
    assert set(syn_flows(packets, 1, "in")) <= set(syns)
    if shutil.which("tcpdump"):
        t = subprocess.run(["tcpdump", "-nn", "-r", str(cap), "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn"],
                           capture_output=True, text=True, timeout=60)
        assert t.returncode == 0, t.stderr
        assert len(t.stdout.splitlines()) == len(syns) + len(syn_flows(packets, 1, "in"))


def test_a_capture_window_stops_at_its_count(tmp_path):
    cap = tmp_path / "run.pcapng"
    r = subprocess.run([SIM, "--duration", "1", "--quiet", "--no-region", "--pcap", str(cap), "--pcap-count", "500"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    _, packets = read_pcapng(cap)
    assert len(packets) == 500


@root_only
def test_the_lb_process_captures_what_it_receives_and_forwards(setup):
    lcsv, cap = setup.tmp / "lb.csv", setup.tmp / "lb.pcapng"
    world = setup.world("--duration", "2", "--connect-timeout-s", "60")
    lb = setup.lb("--csv", str(lcsv), "--pcap", str(cap), "--pcap-count", "1000000", "--no-region",
                  "--connect-timeout-s", "60")
    assert world.p.wait(timeout=600) == 0, world.stderr()
    assert lb.p.wait(timeout=30) == 0, lb.stderr()
    row = rows(lcsv)[0]
    names, packets = read_pcapng(cap)
    assert names[:2] == ["dpdk:0 vdev-net_memif0", "dpdk:1 vdev-net_memif1"], names
    # Exact here: the LB drained every frame before the world's bye.
    data_in = [p for p in packets if p[0] == 0 and p[1] == "in" and p[2][12:14] == b"\x08\x00"]
    assert len(data_in) == int(row["packets"]) == int(row["world_sent"])
    syns = syn_flows(packets, 0, "in")
    assert len(syns) == len(set(syns)) == int(row["flows"]) + int(row["untracked_syns"]) > 50
    assert sorted(syn_flows(packets, 1, "out")) == sorted(syns)
    if shutil.which("tcpdump"):
        t = subprocess.run(["tcpdump", "-nn", "-r", str(cap), "-c", "5"], capture_output=True, text=True, timeout=60)
        assert t.returncode == 0 and "192.0.2.1.80" in t.stdout, t.stderr


# ---- scripts/vpp_check.py against our own LB process ----

VPP_CHECK = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "vpp_check.py")


def vpp_check(*args):
    env = dict(os.environ)  # ctest sets PYTHONPATH to the build's core/python (marllb.shm)
    return subprocess.run(["/usr/bin/python3", VPP_CHECK, *args], capture_output=True, text=True, timeout=120, env=env)


@root_only
@pytest.mark.skipif(not AGENT, reason="MARLLB_AGENT (the marllb-agent binary) is not set")
def test_vpp_check_says_whether_the_lb_published_and_applied(setup):
    # The check follows the region during the run (our LB leaves with the world) and reports
    # on the world's row.
    def run(policy, with_agent, csv_name):
        wcsv = setup.tmp / csv_name
        check = subprocess.Popen(["/usr/bin/python3", VPP_CHECK, "--world-csv", str(wcsv), "--region", setup.prefix + "0",
                                  "--wait-s", "600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            world = setup.world("--duration", "3", "--csv", str(wcsv), "--connect-timeout-s", "60")
            lb = setup.lb("--policy", policy, "--publish-us", "100000", "--connect-timeout-s", "60")
            if with_agent:
                assert region_up(setup.prefix + "0"), lb.stderr()
                agent = setup.start(AGENT, "--region", setup.prefix + "0", "--servers", "marllb7", "--interval-ms", "100",
                                    "--quiet")
            assert world.p.wait(timeout=600) == 0, world.stderr()
            assert lb.p.wait(timeout=30) == 0, lb.stderr()
            if with_agent:
                agent.stop()
            out, err = check.communicate(timeout=120)
            return check.returncode, out + err
        finally:
            if check.poll() is None:
                check.kill()
                check.wait()

    rc, out = run("agent", True, "world.csv")
    assert rc == 0, out
    assert "OK: the LB published observations and applied actions" in out
    # Without an agent the LB publishes but applies nothing: exit 1, and the line says why.
    rc, out = run("sed", False, "world2.csv")
    assert rc == 1, out
    assert "fewer than 1 actions applied" in out and "observations published" in out
    # No region of that name: exit 1.
    r = vpp_check("--world-csv", str(setup.tmp / "world2.csv"), "--region", setup.prefix + "none")
    assert r.returncode == 1 and "never created it" in r.stdout, r.stdout + r.stderr


def test_vpp_check_user_errors_exit_2_with_one_line(tmp_path):
    lb_row = tmp_path / "lb.csv"
    lb_row.write_text("role,status,world_sent,world_received\nlb,ok,1,0\n")
    for args in (["--world-csv", str(tmp_path / "missing.csv")], ["--world-csv", str(lb_row)],
                 ["--world-csv", str(lb_row), "--min-actions", "x"], []):
        r = vpp_check(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vpp_check.py: "), (args, r.stderr)
