"""marllb.sweep without running anything: bad sweep files name their file:line and exit 2, cell
ids are stable (order-free, changed by any option, not by seeds), plan prints every run's
command and estimate, collect merges rows with their metadata and never pools two CPU models."""
import csv
import json
import os
import subprocess
import sys

import pytest

from marllb import stats
from marllb.sweep import cli, spec

GOOD = """[sweep]
kind = "sim"
program = "/bin/true"
out = "{out}"
seeds = [1, 2, 3]

[options]
lockstep = true
duration = 5

[grid]
policy = ["ecmp", "sed"]

[zip]
servers = ["marllb7", "marllb24"]
load = [0.85, 0.95]
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text.format(out=tmp_path / "out"))
    return str(p)


def sweep_cli(*args):
    return subprocess.run([sys.executable, "-m", "marllb.sweep", *args], capture_output=True, text=True)


@pytest.mark.parametrize("edit, line, words", [
    (lambda t: t.replace('seeds = [1, 2, 3]', 'seeds = [1, 2, 3'), 7, "Unclosed array"),  # tomllib's line
    (lambda t: t.replace('kind = "sim"', 'kind = "simulation"'), 2, "kind must be one of"),
    (lambda t: t.replace('seeds = [1, 2, 3]', 'seeds = [1, 1]'), 5, "distinct whole numbers"),
    (lambda t: t.replace('seeds = [1, 2, 3]\n', ''), 1, "[sweep] has no seeds"),
    (lambda t: t.replace('seeds = [1, 2, 3]\n', 'sedes = [1]\n'), 5, "unknown key 'sedes' in [sweep]"),
    (lambda t: t.replace('load = [0.85, 0.95]', 'load = [0.85, 0.9, 0.95]'), 16, "'load' has 3"),
    (lambda t: t.replace('duration = 5', 'duration = 5\ncsv = "x.csv"'), 10, "'csv' is set by the sweep"),
    (lambda t: t.replace('duration = 5', 'duration = 5\nseed = 3'), 10, "'seed' is set by the sweep"),
    (lambda t: t.replace('policy = ["ecmp", "sed"]', 'policy = []'), 12, "non-empty list"),
    (lambda t: t.replace('policy = ["ecmp", "sed"]', 'policy = ["ecmp"]\nload = [1]'), 17, "is in [grid] and [zip]"),
    (lambda t: t + '\n[extra]\nx = 1\n', 18, "unknown table [extra]"),
    (lambda t: t.replace('[sweep]\n', '[sweep]\nestimate_s = -1\n'), 2, "estimate_s must be"),
])
def test_a_bad_file_exits_2_with_its_file_and_line(tmp_path, edit, line, words):
    path = write(tmp_path, edit(GOOD))
    r = sweep_cli("plan", path)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sweep: error: {path}:{line}:"), lines
    assert words in lines[0], lines


def test_command_line_errors_exit_2_with_one_line(tmp_path):
    path = write(tmp_path, GOOD)
    for args, words in ((["run", path], "--engine"), (["run", path, "--engine", "ssh"], "invalid choice"),
                        (["run", path, "--engine", "local", "--jobs", "0"], "--jobs must be 1 or more"),
                        (["run", path, "--engine", "local", "--exclusive"], "for --engine slurm"),
                        (["plan", str(tmp_path / "none.toml")], "cannot read the sweep file"),
                        (["frobnicate", path], "invalid choice")):
        r = sweep_cli(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and words in r.stderr, (args, r.stderr)


def test_run_refuses_a_missing_program_and_an_unwritable_out_before_starting(tmp_path):
    path = write(tmp_path, GOOD.replace('program = "/bin/true"', 'program = "/nonexistent/marllb-sim"'))
    r = sweep_cli("run", path, "--engine", "local")
    assert r.returncode == 2 and "build it first" in r.stderr, r.stderr
    (tmp_path / "file").write_text("")
    r = sweep_cli("run", write(tmp_path, GOOD), "--engine", "local", "--out", str(tmp_path / "file" / "sub"))
    assert r.returncode == 2 and "is not a folder" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()


def test_cells_grid_times_zip_and_seeds(tmp_path):
    s = spec.load(write(tmp_path, GOOD))
    assert len(s.cells) == 4 and len(s.runs) == 12
    assert [c.varying for c in s.cells][:2] == [{"policy": "ecmp", "servers": "marllb7", "load": 0.85},
                                                {"policy": "ecmp", "servers": "marllb24", "load": 0.95}]
    argv = s.runs[0].command(s, "/o")
    assert argv == ["/bin/true", "--lockstep", "--duration", "5", "--policy", "ecmp", "--servers", "marllb7",
                    "--load", "0.85", "--seed", "1", "--csv", "/o/rows.csv"]


def test_cell_ids_are_stable_and_change_with_the_cell(tmp_path):
    ids = [c.id for c in spec.load(write(tmp_path, GOOD)).cells]
    reordered = GOOD.replace("lockstep = true\nduration = 5", "duration = 5\nlockstep = true")
    assert [c.id for c in spec.load(write(tmp_path, reordered, "r.toml")).cells] == ids
    more_seeds = GOOD.replace("seeds = [1, 2, 3]", "seeds = [1, 2, 3, 4]")
    assert [c.id for c in spec.load(write(tmp_path, more_seeds, "m.toml")).cells] == ids
    changed = GOOD.replace("duration = 5", "duration = 6")
    assert not set(c.id for c in spec.load(write(tmp_path, changed, "c.toml")).cells) & set(ids)
    assert len(set(ids)) == 4


def test_plan_prints_count_commands_and_estimates(tmp_path, capsys):
    s = spec.load(write(tmp_path, GOOD.replace("lockstep = true\n", "")))
    cli.plan(s)
    out = capsys.readouterr().out
    assert "4 cells x 3 seeds = 12 runs" in out and "to run 12" in out
    assert out.count("/bin/true --duration 5") == 12 and out.count("~6 s (duration + 1 s)") == 12
    assert "~72 s of runs left" in out


def fake_done(s, run, cpu, value):
    folder = run.folder(s.out)
    os.makedirs(folder)
    with open(os.path.join(folder, "rows.csv"), "w") as f:
        f.write(f"run_id,cpu_model,fct_p90_s,policy\nx,{cpu},{value},{run.cell.options['policy']}\n")
    with open(os.path.join(folder, "done.json"), "w") as f:
        json.dump({"host": "node1", "cpu_model": cpu, "commit": "abc", "wall_s": 1.0}, f)


def test_collect_merges_rows_summarises_over_seeds_and_never_pools_cpu_models(tmp_path, capsys):
    s = spec.load(write(tmp_path, GOOD.replace("[sweep]\n", '[sweep]\nmetrics = ["fct_p90_s"]\n')))
    values = {1: 1.0, 2: 2.0, 3: 4.0}
    for run in s.runs[:3]:                        # cell 0: three seeds on one CPU model
        fake_done(s, run, "CPU A", values[run.seed])
    for run in s.runs[3:6]:                       # cell 1: seed 3 ran on another model
        fake_done(s, run, "CPU A" if run.seed < 3 else "CPU B", values[run.seed])
    (tmp_path / "out" / "runs" / s.runs[6].cell.id).mkdir()
    failed = s.runs[6].failed_folder(s.out)
    os.makedirs(failed)
    with open(os.path.join(failed, "failed.json"), "w") as f:
        json.dump({"reason": "exit code 2", "log": failed + "/log.txt"}, f)
    assert cli.main(["collect", s.path]) == 0
    out = capsys.readouterr().out
    assert "6 of 12 runs have rows" in out
    assert out.count("failed: ") == 1 and "exit code 2" in out and out.count("missing: ") == 5
    assert f"cell {s.cells[1].id} ran on 2 CPU models" in out
    with open(tmp_path / "out" / "sweep.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and rows[0]["sweep_cell"] == s.cells[0].id and rows[0]["param_policy"] == "ecmp"
    assert (rows[0]["sweep_host"], rows[0]["sweep_cpu_model"], rows[0]["sweep_commit"]) == ("node1", "CPU A", "abc")
    with open(tmp_path / "out" / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    first = [r for r in summary if r["sweep_cell"] == s.cells[0].id]
    mean, half = stats.mean_ci([1.0, 2.0, 4.0])
    assert len(first) == 1 and first[0]["n_seeds"] == "3"
    assert float(first[0]["mean"]) == pytest.approx(mean) and float(first[0]["ci95_half"]) == pytest.approx(half)
    second = sorted((r for r in summary if r["sweep_cell"] == s.cells[1].id), key=lambda r: r["cpu_model"])
    assert [(r["cpu_model"], r["n_seeds"]) for r in second] == [("CPU A", "2"), ("CPU B", "1")]
    assert all("not pooled" in r["note"] for r in second)


def test_a_stopped_training_resumes_from_its_folder(tmp_path):
    """kind train keeps a failed run's folder (its checkpoint) for the next attempt; the fake
    trainer fails the first time and writes its rows only when it finds its checkpoint."""
    trainer = tmp_path / "train.sh"
    trainer.write_text('#!/bin/sh\nwhile [ "$1" != --out ]; do shift; done\n'
                       'if [ -f "$2/checkpoint" ]; then printf "episode\\n1\\n" > "$2/progress.csv"; exit 0; fi\n'
                       'touch "$2/checkpoint"; exit 1\n')
    trainer.chmod(0o755)
    path = write(tmp_path, f'[sweep]\nkind = "train"\nprogram = "{trainer}"\nout = "{{out}}"\nseeds = [1]\n')
    s = spec.load(path)
    assert cli.main(["exec", path, s.runs[0].id]) == 1 and s.runs[0].state(s.out) == "failed"
    assert cli.main(["exec", path, s.runs[0].id]) == 0 and s.runs[0].state(s.out) == "done"


def test_the_shell_entry_point_answers_help_version_and_user_errors():
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), "scripts", "sweep")
    r = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "scripts/sweep plan" in r.stdout
    r = subprocess.run([script, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("sweep "), r.stdout
    r = subprocess.run([script, "plan"], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_engines_and_exec_refuse_what_they_cannot_do(tmp_path):
    path = write(tmp_path, GOOD)
    env = dict(os.environ, PATH=str(tmp_path))      # neither parallel nor sbatch
    for engine, words in (("local", "GNU parallel is not installed"), ("slurm", "sbatch is not on PATH")):
        r = subprocess.run([sys.executable, "-m", "marllb.sweep", "run", path, "--engine", engine], capture_output=True,
                           text=True, env=env)
        assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = sweep_cli("exec", path, "0123456789ab-s1")
    assert r.returncode == 2 and "is no run of" in r.stderr, r.stderr


def test_a_scenario_run_gets_out_no_seed_and_its_csvs_are_its_rows(tmp_path):
    """kind scenario: the binary gets --out <run folder> and no seed option; every CSV it writes
    there is the run's rows; a scenario run is a timing run (one at a time, --exclusive)."""
    scenario = tmp_path / "marllb-scenario-fake"
    scenario.write_text('#!/bin/sh\necho "$@" > /dev/stderr\ncase "$*" in *--seed*) exit 3;; esac\n'
                        'while [ "$1" != --out ]; do shift; done\nprintf "regime,p50\\nreactive,1.5\\n" > "$2/fake.csv"\n')
    scenario.chmod(0o755)
    path = write(tmp_path, f'[sweep]\nkind = "scenario"\nprogram = "{scenario}"\nout = "{{out}}"\nseeds = [1, 2]\n'
                           '[options]\nseconds = 2\n')
    s = spec.load(path)
    assert all(s.is_timing(c) for c in s.cells) and s.estimate(s.cells[0], s.out) == (3.0, "seconds + 1 s")
    for run in s.runs:
        assert cli.main(["exec", path, run.id]) == 0 and run.state(s.out) == "done"
    assert cli.main(["collect", path]) == 0
    with open(os.path.join(s.out, "summary.csv"), newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert (row["column"], row["n_seeds"], float(row["mean"])) == ("p50", "2", 1.5)
