"""A 12-cell sweep of short lockstep marllb-sim runs through `scripts/sweep run --engine local`
(GNU parallel), stopped half way by a TERM to its pid, run again: only the remaining cells run
(the cells done before keep their done.json untouched, the second job log holds only the rest),
and a third call runs nothing.

    local_resume.py MARLLB_SIM
"""
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def done_files(out):
    return sorted(glob.glob(os.path.join(out, "runs", "*", "seed-*", "done.json")))


def main():
    sim = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="marllb-sweep-local-")
    out = os.path.join(tmp, "out")
    sweep_file = os.path.join(tmp, "twelve.toml")
    with open(sweep_file, "w") as f:
        f.write(f"""[sweep]
kind = "sim"
program = "{sim}"
out = "{out}"
seeds = [7]

[options]
lockstep = true
duration = 1
quiet = true
no_region = true
servers = "marllb7"

[grid]
policy = ["ecmp", "wcmp", "lsq", "sed"]
load = [0.5, 0.85, 0.95]
""")
    cmd = [os.path.join(SOURCE, "scripts", "sweep"), "run", sweep_file, "--engine", "local", "--jobs", "1"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    end = time.monotonic() + 120
    while len(done_files(out)) < 5 and first.poll() is None and time.monotonic() < end:
        time.sleep(0.05)
    assert first.poll() is None, "the sweep ended before it could be stopped half way:\n" + first.stdout.read()
    first.send_signal(signal.SIGTERM)  # by its pid: parallel starts nothing more, the running cell finishes
    text, _ = first.communicate(timeout=60)
    assert first.returncode == 143, f"a stopped sweep exits 143, not {first.returncode}:\n{text}"
    before = {f: os.stat(f).st_mtime_ns for f in done_files(out)}
    k = len(before)
    assert 5 <= k < 12, f"{k} cells done when stopped half way"
    assert not glob.glob(os.path.join(out, "runs", "*", "*.failed")), "a stopped run was counted as failed"

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{k} with rows already, {12 - k} to run" in again.stderr, again.stderr
    assert len(done_files(out)) == 12, done_files(out)
    for f, mtime in before.items():
        assert os.stat(f).st_mtime_ns == mtime, f"{f} was run again"
    logs = sorted(glob.glob(os.path.join(out, "local", "joblog-*.txt")), key=os.path.getmtime)
    with open(logs[-1]) as f:
        jobs = [line for line in f.read().splitlines()[1:] if line.strip()]
    assert len(jobs) == 12 - k and all(line.split("\t")[6] == "0" for line in jobs), jobs

    third = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert third.returncode == 0 and "12 with rows already, 0 to run" in third.stderr, third.stderr
    assert "parallel" not in third.stderr, third.stderr
    print(f"PASS: stopped after {k} of 12 cells; the second run ran the {12 - k} others only")
    subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}")
        sys.exit(1)
