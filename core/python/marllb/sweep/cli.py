"""sweep: run a grid described in a TOML file on this machine or on a Slurm cluster, resume it,
merge its rows (docs/sweeps.md).

  sweep plan FILE [--out DIR]        the runs: count, status, estimated time, the command of each
  sweep run FILE --engine local [--jobs N] [--retries N] [--out DIR]
                                     the runs without rows, through GNU parallel (timing runs
                                     one at a time)
  sweep run FILE --engine slurm [--partition P] [--exclusive] [--out DIR]
                                     the runs without rows as one Slurm job array (sbatch script
                                     in <out>/slurm/)
  sweep status FILE [--out DIR]      done / failed / to run, failed runs' logs, squeue and sacct
  sweep collect FILE [--out DIR] [--csv F] [--summary F]
                                     <out>/sweep.csv (every row, with cell id, parameters, host,
                                     CPU model, commit) and <out>/summary.csv (mean and 95 % t
                                     interval over seeds per cell and CPU model)

A run whose rows are in (<out>/runs/<cell>/seed-<n>/done.json) is never run again; a failed one
is run again by the next `sweep run`. Exit status: 0 done, 1 a run failed, 2 a user error
(a bad file or option: one line, with file:line for the file), 143 stopped by a signal.
"""
import argparse
import os
import sys

from marllb import __version__, result_rows
from marllb.sweep import collect as collect_mod
from marllb.sweep import engines, runner, spec
from marllb.sweep.spec import UserError


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UserError(f"{message} (see sweep --help)")


def parser():
    p = Parser(prog=os.path.basename(sys.argv[0]) if os.path.basename(sys.argv[0]) == "marllb-sweep" else "sweep", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="cmd", parser_class=Parser)
    for name, helptext in (("plan", "print the runs, their status, time and command"),
                           ("run", "run the runs that have no rows yet"),
                           ("status", "done, failed and pending runs; the Slurm jobs"),
                           ("collect", "merge the rows into one CSV and a summary per cell"),
                           ("exec", "run one run (what the engines start)")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("file", help="the sweep file (TOML)")
        s.add_argument("--out", help="the output folder (default: out in the file)")
        if name == "run":
            s.add_argument("--engine", choices=["local", "slurm"], required=True)
            s.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                           help="local: runs at a time (not timing runs: those go one at a time)")
            s.add_argument("--retries", type=int, default=1,
                           help="local: attempts per run in this call (parallel --retries)")
            s.add_argument("--partition", help="slurm: the partition")
            s.add_argument("--exclusive", action="store_true", help="slurm: every run alone on its node "
                           "(timing runs always are)")
        if name == "collect":
            s.add_argument("--csv", help="the merged rows (default <out>/sweep.csv)")
            s.add_argument("--summary", help="the summary (default <out>/summary.csv)")
        if name == "exec":
            s.add_argument("run_id")
    return p


def tally(sweep):
    """({run id: state}, {state: how many runs})."""
    states = {r.id: r.state(sweep.out) for r in sweep.runs}
    return states, {s: sum(1 for v in states.values() if v == s) for s in ("done", "failed", "to run")}


def plan(sweep, out=None):
    out = out or sys.stdout
    states, counts = tally(sweep)
    print(f"sweep {sweep.name} ({sweep.path}): kind {sweep.kind}, {len(sweep.cells)} cells x "
          f"{len(sweep.seeds)} seeds = {len(sweep.runs)} runs; out {sweep.out}", file=out)
    print(f"done {counts['done']}, failed {counts['failed']} (run again), to run {counts['to run']}", file=out)
    total, unknown = 0.0, 0
    estimates = {c.id: sweep.estimate(c, sweep.out) for c in sweep.cells}
    for run in sweep.runs:
        secs, how = estimates[run.cell.id]
        est = f"{secs:.0f} s ({how})" if secs is not None else how
        if states[run.id] != "done":
            if secs is None:
                unknown += 1
            else:
                total += secs
        timing = " timing" if sweep.is_timing(run.cell) else ""
        print(f"{run.id}  {states[run.id]:<6}{timing}  ~{est}  {sweep.shell_command(run)}", file=out)
    left = f"~{total:.0f} s of runs left" + (f" (+{unknown} of unknown time)" if unknown else "")
    print(f"estimate: {left}; with --engine local, divide the non-timing part by --jobs", file=out)
    return 0


def status(sweep, out=None):
    out = out or sys.stdout
    states, counts = tally(sweep)
    print(f"sweep {sweep.name}: {len(sweep.runs)} runs: done {counts['done']}, failed {counts['failed']}, "
          f"to run {counts['to run']}", file=out)
    for run in sweep.runs:
        if states[run.id] == "failed":
            m = run.meta(sweep.out) or {}
            print(f"failed: {run.id} {collect_mod.describe(run)}: {m.get('reason', '?')} on {m.get('host', '?')}, "
                  f"log {m.get('log', '?')}", file=out)
    for line in engines.slurm_report(sweep):
        print(line, file=out)
    if counts["failed"] or counts["to run"]:
        print(f"`sweep run {sweep.path} --engine ...` runs the failed and the remaining runs", file=out)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        if "--version" in argv and "--" not in argv:
            print(result_rows.version(f"sweep {__version__}", __file__))
            return 0
        a = parser().parse_args(argv)
        if not a.cmd:
            raise UserError("no command: plan, run, status or collect (see sweep --help)")
        sweep = spec.load(a.file, a.out)
        if a.cmd == "plan":
            return plan(sweep)
        if a.cmd == "status":
            return status(sweep)
        if a.cmd == "exec":
            return runner.execute(sweep, a.run_id)
        if a.cmd == "collect":
            engines.check_writable(sweep.out)
            os.makedirs(sweep.out, exist_ok=True)
            merged = a.csv or os.path.join(sweep.out, "sweep.csv")
            summary = a.summary or os.path.join(sweep.out, "summary.csv")
            for f in (merged, summary):
                engines.check_writable(os.path.dirname(os.path.abspath(f)))
            return collect_mod.collect(sweep, merged, summary)
        # run
        if a.jobs < 1:
            raise UserError(f"--jobs must be 1 or more, not {a.jobs}")
        if a.retries < 1:
            raise UserError(f"--retries must be 1 or more, not {a.retries}")
        if a.engine == "local" and (a.partition or a.exclusive):
            raise UserError("--partition and --exclusive are for --engine slurm")
        sweep.check_program()
        engines.check_engine(sweep, a.engine)
        engines.check_writable(sweep.out)
        os.makedirs(sweep.out, exist_ok=True)
        todo = [r for r in sweep.runs if r.state(sweep.out) != "done"]
        done = len(sweep.runs) - len(todo)
        print(f"[sweep] {sweep.name}: {len(sweep.runs)} runs, {done} with rows already, {len(todo)} to run",
              file=sys.stderr, flush=True)
        if not todo:
            return 0
        if a.engine == "local":
            return engines.run_local(sweep, todo, a.jobs, a.retries)
        return engines.run_slurm(sweep, todo, a.partition, a.exclusive)
    except UserError as e:
        print(f"sweep: error: {e}", file=sys.stderr)
        return 2
