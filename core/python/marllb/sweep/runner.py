"""One run of a sweep, as an engine starts it (`python3 -m marllb.sweep exec FILE RUN_ID`): the
command writes into <run>.part/, and only a run that exited 0 with rows becomes <run>/ with
done.json (host, CPU model, commit, wall time, the Slurm job). Anything else becomes
<run>.failed/ with failed.json and the log, and is run again by the next `sweep run`. A run
killed on the way leaves only <run>.part/, which the next attempt empties, unless the kind
resumes from it (a training's checkpoint: the next attempt continues there)."""
import csv
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from marllb import result_rows
from marllb.sweep.spec import KINDS, UserError


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def count_rows(files):
    n = 0
    for name in files:
        try:
            with open(name, newline="") as f:
                n += max(0, sum(1 for _ in csv.reader(f)) - 1)
        except (OSError, csv.Error):
            pass
    return n


def execute(sweep, run_id):
    """Runs one run; returns the exit status for the engine (0: done now or before)."""
    run = sweep.by_id.get(run_id)
    if run is None:
        raise UserError(f"{run_id} is no run of {sweep.path} (the file changed since the sweep started? "
                        "run sweep run again)")
    final, failed = run.folder(sweep.out), run.failed_folder(sweep.out)
    if run.state(sweep.out) == "done":
        return 0
    part = final + ".part"
    if not KINDS[sweep.kind].get("resumable"):
        shutil.rmtree(part, ignore_errors=True)
    os.makedirs(part, exist_ok=True)
    argv = run.command(sweep, part)
    env = dict(os.environ, MARLLB_RUN_ID=f"sweep-{run.id}")
    meta = {
        "sweep": sweep.name, "cell": run.cell.id, "seed": run.seed, "params": run.cell.varying,
        "options": run.cell.options, "command": argv, "host": socket.gethostname(),
        "cpu_model": result_rows.cpu_model(), "commit": result_rows.git_commit(sweep.program_path()),
        "started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "slurm_job": os.environ.get("SLURM_ARRAY_JOB_ID", os.environ.get("SLURM_JOB_ID", "")),
        "slurm_task": os.environ.get("SLURM_ARRAY_TASK_ID", ""),
    }
    start = time.monotonic()
    with open(os.path.join(part, "log.txt"), "wb") as log:
        try:
            child = subprocess.Popen(argv, cwd=sweep.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        except OSError as e:
            log.write(f"cannot start {argv[0]}: {e.strerror}\n".encode())
            child = None
        if child is not None:
            # A stop of the engine (parallel's TERM, Slurm's scancel) stops the program too: it
            # must not write into a folder the next attempt empties.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda s, _f: child.send_signal(s))
            rc = child.wait()
        else:
            rc = 127
    meta["wall_s"] = round(time.monotonic() - start, 3)
    meta["exit_code"] = rc
    rows = count_rows(sweep.rows_files(part))
    meta["rows"] = rows
    if rc == 0 and rows > 0:
        _write_json(os.path.join(part, "done.json"), meta)
        shutil.rmtree(failed, ignore_errors=True)
        os.replace(part, final)
        return 0
    meta["reason"] = f"exit code {rc}" if rc != 0 else "exit code 0 but no rows"
    meta["log"] = os.path.join(failed, "log.txt")
    shutil.rmtree(failed, ignore_errors=True)
    if KINDS[sweep.kind].get("resumable"):  # the folder stays for the next attempt; the log and verdict go aside
        os.makedirs(failed)
        shutil.copy(os.path.join(part, "log.txt"), meta["log"])
        _write_json(os.path.join(failed, "failed.json"), meta)
    else:
        _write_json(os.path.join(part, "failed.json"), meta)
        os.replace(part, failed)
    return rc if rc != 0 else 1
