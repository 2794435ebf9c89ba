"""The engines: GNU parallel on this machine, a Slurm job array on a cluster. Neither schedules
anything itself: each gets the runs that have no rows yet, and every run goes through
`python3 -m marllb.sweep exec` (marllb.sweep.runner)."""
import hashlib
import os
import shlex
import shutil
import signal
import subprocess
import sys

from marllb.sweep.spec import UserError

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def exec_argv(sweep):
    """The command an engine gives each run id (appended)."""
    return [sys.executable, "-m", "marllb.sweep", "exec", "--out", sweep.out, os.path.abspath(sweep.path)]


def child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_PARENT + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def check_writable(folder):
    up = folder
    while not os.path.exists(up):
        up = os.path.dirname(up)
    if not os.path.isdir(up):
        raise UserError(f"cannot write into '{folder}': '{up}' is not a folder (set out or pass --out)")
    if not os.access(up, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into '{folder}': '{up}' is not writable (set out or pass --out)")


def check_engine(sweep, engine):
    """What the engine needs, before anything is made or started."""
    if engine == "local" and shutil.which("parallel") is None:
        raise UserError("GNU parallel is not installed: apt-get install parallel (scripts/setup.sh installs it)")
    if engine == "slurm":
        if shutil.which("sbatch") is None:
            raise UserError("sbatch is not on PATH: run --engine slurm on a Slurm login node (or use --engine local)")
        active = active_jobs(recorded_jobs(sweep))
        if active:
            raise UserError(f"job arrays {', '.join(sorted(active))} of this sweep are still queued or running: "
                            f"wait for them (sweep status {sweep.path}) or scancel them, then run again")


def groups(sweep, runs):
    """The runs to start, split into (timing runs, the others)."""
    timing = [r for r in runs if sweep.is_timing(r.cell)]
    return timing, [r for r in runs if not sweep.is_timing(r.cell)]


def write_list(path, runs):
    with open(path, "w") as f:
        f.writelines(r.id + "\n" for r in runs)


def list_hash(runs):
    return hashlib.sha256("".join(r.id + "\n" for r in runs).encode()).hexdigest()[:10]


def run_local(sweep, runs, jobs, retries):
    """GNU parallel, one invocation per group: timing runs one at a time, the others `jobs` at a
    time. Its job log (<out>/local/joblog-<list>.txt) is kept: the same list run again resumes
    from it (--resume-failed: only failed or unstarted jobs run), a changed list starts a new log.
    A TERM or INT to this process is passed on to parallel (one: no new runs start, the running
    ones finish; two: they are stopped too) and nothing more is started."""
    folder = os.path.join(sweep.out, "local")
    os.makedirs(folder, exist_ok=True)
    timing, others = groups(sweep, runs)
    stopping = {"proc": None, "signalled": False}

    def forward(sig, _frame):
        stopping["signalled"] = True
        if stopping["proc"] is not None and stopping["proc"].poll() is None:
            stopping["proc"].send_signal(sig)
    old = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    status = 0
    try:
        for group, n in ((others, jobs), (timing, 1)):
            if not group or stopping["signalled"]:
                continue
            h = list_hash(group)
            listfile = os.path.join(folder, f"runs-{h}.txt")
            write_list(listfile, group)
            argv = ["parallel", "--joblog", os.path.join(folder, f"joblog-{h}.txt"), "--resume-failed",
                    "--retries", str(retries), "--jobs", str(n), "--arg-file", listfile, "--halt", "never",
                    shlex.join(exec_argv(sweep)) + " {}"]
            print(f"[sweep] {len(group)} run{'s' * (len(group) > 1)}, {n} at a time: {shlex.join(argv)}",
                  file=sys.stderr, flush=True)
            stopping["proc"] = subprocess.Popen(argv, env=child_env(), stdin=subprocess.DEVNULL)
            rc = stopping["proc"].wait()
            status = status or rc
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    if stopping["signalled"]:
        return 143
    return 0 if status == 0 else 1


def slurm_jobs_file(sweep):
    return os.path.join(sweep.out, "slurm", "jobs.txt")


def recorded_jobs(sweep):
    try:
        with open(slurm_jobs_file(sweep)) as f:
            return [line.split()[0] for line in f if line.strip()]
    except OSError:
        return []


def active_jobs(job_ids):
    """{job id: [state of each queued or running task]} from squeue."""
    if not job_ids:
        return {}
    r = subprocess.run(["squeue", "-h", "-r", "-j", ",".join(job_ids), "-o", "%F %i %T"],
                       capture_output=True, text=True)
    active = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            active.setdefault(parts[0], []).append(parts[2])
    return active


def sbatch_script(sweep, listfile, count, partition, exclusive):
    slurm = os.path.join(sweep.out, "slurm")
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name=sweep-{sweep.name}",
             f"#SBATCH --array=0-{count - 1}",
             f"#SBATCH --output={slurm}/%A_%a.out",
             "#SBATCH --ntasks=1"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if exclusive:
        lines.append("#SBATCH --exclusive")
    lines += ["# One run of the sweep per array task (marllb.sweep exec); written by `sweep run --engine slurm`.",
              "set -euo pipefail",
              f"run=$(sed -n \"$((SLURM_ARRAY_TASK_ID + 1))p\" {shlex.quote(listfile)})",
              f"export PYTHONPATH={shlex.quote(PACKAGE_PARENT)}${{PYTHONPATH:+:$PYTHONPATH}}",
              "exec " + shlex.join(exec_argv(sweep)) + " \"$run\"", ""]
    return "\n".join(lines)


def run_slurm(sweep, runs, partition, exclusive):
    """One job array per group (timing runs always --exclusive: a benchmark never shares its
    node). The sbatch scripts and run lists are written into <out>/slurm/, each task's output
    is <out>/slurm/<job>_<task>.out, the job ids go to <out>/slurm/jobs.txt for `sweep status`."""
    folder = os.path.join(sweep.out, "slurm")
    os.makedirs(folder, exist_ok=True)
    timing, others = groups(sweep, runs)
    for group, excl in ((others, exclusive), (timing, True)):
        if not group:
            continue
        h = list_hash(group)
        listfile = os.path.join(folder, f"runs-{h}.txt")
        write_list(listfile, group)
        script = os.path.join(folder, f"sweep-{h}.sbatch")
        with open(script, "w") as f:
            f.write(sbatch_script(sweep, listfile, len(group), partition, excl))
        r = subprocess.run(["sbatch", "--parsable", script], capture_output=True, text=True, env=child_env())
        if r.returncode != 0:
            raise SystemExit(f"[sweep] error: sbatch {script} failed: {r.stderr.strip() or r.stdout.strip()}")
        job = r.stdout.strip().split(";")[0]
        with open(slurm_jobs_file(sweep), "a") as f:
            f.write(f"{job} {listfile}\n")
        print(f"[sweep] submitted job array {job}: {len(group)} run{'s' * (len(group) > 1)}"
              f"{' (exclusive)' if excl else ''}, script {script}; `sweep status {sweep.path}` follows it")
    return 0


def slurm_report(sweep):
    """Lines about the recorded job arrays: squeue's queued/running tasks, sacct's states."""
    jobs = recorded_jobs(sweep)
    if not jobs:
        return []
    lines = []
    if shutil.which("squeue") is None:
        return [f"job arrays {', '.join(jobs)}: squeue is not on PATH here"]
    active = active_jobs(jobs)
    for job in jobs:
        if job in active:
            states = {}
            for s in active[job]:
                states[s] = states.get(s, 0) + 1
            lines.append(f"job array {job}: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())))
        else:
            lines.append(f"job array {job}: no task queued or running")
    if shutil.which("sacct"):
        r = subprocess.run(["sacct", "-n", "-X", "-P", "-j", ",".join(jobs), "-o", "JobID,State,ExitCode,NodeList"],
                           capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            lines.append("sacct (task | state | exit code | node):")
            lines += ["  " + line for line in r.stdout.strip().splitlines()]
        else:
            why = (r.stderr.strip().splitlines() or ["no rows"])[0]
            lines.append(f"sacct: no accounting on this cluster ({why})")
    return lines
