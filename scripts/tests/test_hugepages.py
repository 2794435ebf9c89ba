"""scripts/hugepages.sh: the command sees a hugetlbfs mount in place of {}, its exit status
comes back, and the machine is put back (nr_hugepages, no mount left) whether it passed or failed.
Root only (it reserves pages and mounts); skipped otherwise."""
import os
import subprocess

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hugepages.sh")
KNOB = "/proc/sys/vm/nr_hugepages"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.access(KNOB, os.W_OK), reason="needs root and huge pages")


def knob():
    with open(KNOB) as f:
        return int(f.read())


def hugetlbfs_mounts():
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if line.split()[2] == "hugetlbfs" and "marllb-huge" in line]


def test_the_command_runs_on_a_hugetlbfs_and_the_machine_is_restored():
    before = knob()
    r = subprocess.run([SCRIPT, "--pages", "2", "--", "sh", "-c", "grep -q \" {} hugetlbfs \" /proc/mounts && test $(cat " + KNOB + ") -ge " + str(before + 2)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert knob() == before
    assert hugetlbfs_mounts() == []


def test_a_failing_command_keeps_its_status_and_the_machine_is_restored():
    before = knob()
    r = subprocess.run([SCRIPT, "--", "sh", "-c", "exit 7"], capture_output=True, text=True)
    assert r.returncode == 7
    assert knob() == before
    assert hugetlbfs_mounts() == []


def test_a_signal_to_the_script_reaches_the_command_and_the_restore_waits_for_it():
    import signal
    import time
    before = knob()
    marker = f"/tmp/marllb-huge-test-{os.getpid()}"
    pidfile = marker + ".pid"
    p = subprocess.Popen([SCRIPT, "--", "sh", "-c",
                          f"echo $$ > {pidfile}; trap 'touch {marker}; exit 3' TERM; while :; do sleep 0.05; done"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while not hugetlbfs_mounts() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    try:
        assert os.path.exists(marker)  # the command got the signal and ended
        assert p.returncode == 3       # its status came back
        assert knob() == before
        assert hugetlbfs_mounts() == []
    finally:
        # A script that failed to pass the signal on leaves the command running: stop it by its pid.
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                pid = int(f.read().strip() or 0)
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.unlink(pidfile)
        if os.path.exists(marker):
            os.unlink(marker)
