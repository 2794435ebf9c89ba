"""A sweep through a real one-node Slurm cluster: munged, slurmctld and slurmd started here with
their own key, config, state, spool and logs in a temporary folder (nothing in /etc or /var is
used), a small marllb-sim sweep submitted as one job array with `sweep run --engine slurm
--exclusive`, every run's row checked with its node name and CPU model; one run fails on its
first submission (its trace file is not there yet), `sweep status` lists it with its log, and
`sweep run` again resubmits only that one. The daemons are stopped by their pids.

    slurm_cluster.py MARLLB_SIM        (as root; exits 77, a ctest skip, when not root)
"""
import csv
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SKIP = 77


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Cluster:
    def __init__(self, tmp):
        self.tmp, self.procs = tmp, []
        self.host = socket.gethostname().split(".")[0]
        for d in ("state", "spool", "munge", "log"):
            os.makedirs(os.path.join(tmp, d), mode=0o700)
        os.chmod(tmp, 0o700)
        self.socket = os.path.join(tmp, "munge", "munge.socket")
        self.conf = os.path.join(tmp, "slurm.conf")
        self.env = dict(os.environ, SLURM_CONF=self.conf)

    def start(self):
        key = os.path.join(self.tmp, "munge", "munge.key")
        subprocess.run(["mungekey", "--create", "--keyfile", key], check=True)
        os.chmod(key, 0o400)
        self.spawn("munged", ["munged", "--foreground", "--force", "--socket", self.socket, "--key-file", key,
                              "--pid-file", os.path.join(self.tmp, "munge", "munged.pid"),
                              "--seed-file", os.path.join(self.tmp, "munge", "seed"),
                              "--log-file", os.path.join(self.tmp, "log", "munged.log")])
        wait_for("munged's socket", lambda: os.path.exists(self.socket), 10)
        cpus = os.cpu_count() or 1
        with open(self.conf, "w") as f:
            f.write(f"""ClusterName=sweeptest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
AuthType=auth/munge
AuthInfo=socket={self.socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={self.tmp}/state
SlurmdSpoolDir={self.tmp}/spool
SlurmctldPidFile={self.tmp}/slurmctld.pid
SlurmdPidFile={self.tmp}/slurmd.pid
SlurmctldLogFile={self.tmp}/log/slurmctld.log
SlurmdLogFile={self.tmp}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
PlugStackConfig={self.tmp}/plugstack.conf
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={cpus} State=UNKNOWN
PartitionName=sweep Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        open(os.path.join(self.tmp, "plugstack.conf"), "w").close()
        self.spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", self.conf])
        self.spawn("slurmd", ["slurmd", "-D", "-f", self.conf, "-N", self.host])
        wait_for("the node to be idle", lambda: "idle" in self.run(["sinfo", "-h", "-o", "%t"]).stdout, 60)

    def spawn(self, name, argv):
        log = open(os.path.join(self.tmp, "log", name + ".out"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=dict(os.environ, SLURM_CONF=self.conf))
        self.procs.append((name, p))
        time.sleep(0.3)
        if p.poll() is not None:
            raise AssertionError(f"{name} exited at once ({p.returncode}): {self.logs()}")
        return p

    def run(self, argv):
        return subprocess.run(argv, capture_output=True, text=True, env=self.env)

    def logs(self):
        out = []
        for n in sorted(os.listdir(os.path.join(self.tmp, "log"))):
            with open(os.path.join(self.tmp, "log", n), errors="replace") as f:
                out.append(f"--- {n}\n" + f.read()[-3000:])
        return "\n".join(out)

    def stop(self):
        """Each daemon by its pid: TERM, then KILL after 10 s."""
        for name, p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def sweep(args, env):
    return subprocess.run([sys.executable, "-m", "marllb.sweep", *args], capture_output=True, text=True, env=env)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if os.geteuid() != 0:
        print("SKIP: a Slurm cluster's daemons (slurmd, munged) run as root: run this test as root (CI does)")
        return SKIP
    for tool in ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} is not installed: apt-get install slurm-wlm munge (scripts/debian-packages.txt)")
            return 1
    sim = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="marllb-slurm-")
    cluster = Cluster(os.path.join(tmp, "cluster"))
    trace = os.path.join(tmp, "late-trace.csv")
    out = os.path.join(tmp, "out")
    sweep_file = os.path.join(tmp, "slurm.toml")
    with open(sweep_file, "w") as f:
        f.write(f"""[sweep]
kind = "sim"
program = "{sim}"
out = "{out}"
seeds = [1, 2]
metrics = ["flows_completed"]

[options]
lockstep = true
duration = 1
quiet = true
no_region = true

[zip]
policy = ["sed", "lsq"]
trace = ["{SOURCE}/sim/traces/poisson_for_loop_rate_350.csv", "{trace}"]
""")
    env = dict(cluster.env, PYTHONPATH=os.path.join(SOURCE, "core", "python"))
    ok = False
    try:
        cluster.start()
        t0 = time.monotonic()
        r = sweep(["run", sweep_file, "--engine", "slurm", "--exclusive", "--partition", "sweep"], env)
        assert r.returncode == 0 and "submitted job array" in r.stdout, r.stdout + r.stderr
        job = r.stdout.split("submitted job array ")[1].split(":")[0]
        script = [n for n in os.listdir(os.path.join(out, "slurm")) if n.endswith(".sbatch")]
        assert len(script) == 1, script
        with open(os.path.join(out, "slurm", script[0])) as f:
            text = f.read()
        assert "#SBATCH --array=0-3" in text and "#SBATCH --exclusive" in text, text

        def finished():
            return cluster.run(["squeue", "-h", "-j", job]).stdout.strip() == ""
        wait_for("the job array to finish", finished, 90)
        r = sweep(["status", sweep_file], env)
        assert r.returncode == 0 and "done 2, failed 2" in r.stdout, r.stdout + r.stderr
        assert r.stdout.count("failed: ") == 2 and "log " in r.stdout, r.stdout
        assert f"job array {job}: no task queued or running" in r.stdout, r.stdout

        # The trace appears: running the sweep again resubmits the two failed runs, nothing else.
        shutil.copy(os.path.join(SOURCE, "sim", "traces", "poisson_for_loop_rate_350.csv"), trace)
        r = sweep(["run", sweep_file, "--engine", "slurm", "--exclusive"], env)
        assert r.returncode == 0 and "2 to run" in r.stderr and "2 runs (exclusive)" in r.stdout, r.stdout + r.stderr
        job2 = r.stdout.split("submitted job array ")[1].split(":")[0]
        wait_for("the second job array to finish",
                 lambda: cluster.run(["squeue", "-h", "-j", job2]).stdout.strip() == "", 90)

        r = sweep(["collect", sweep_file], env)
        assert r.returncode == 0 and "4 of 4 runs have rows" in r.stdout, r.stdout + r.stderr
        assert "missing" not in r.stdout and "failed" not in r.stdout, r.stdout
        with open(os.path.join(out, "sweep.csv"), newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 4, rows
        for row in rows:
            assert row["sweep_host"] == socket.gethostname() and row["sweep_cpu_model"] not in ("", "unknown"), row
            assert row["sweep_commit"] not in ("", "unknown"), row
            assert row["sweep_slurm_job"].split("_")[0] in (job, job2), row
            assert int(row["flows_completed"]) > 0, row
        print(f"PASS: 4 runs through Slurm job arrays {job} and {job2} ({time.monotonic() - t0:.1f} s), "
              "the 2 failed runs resubmitted alone")
        ok = True
    except AssertionError as e:
        print(f"FAIL: {e}")
        print(cluster.logs())
    finally:
        cluster.stop()
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"(left for a look: {tmp})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
