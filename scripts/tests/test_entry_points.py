"""The shell scripts users type (scripts/*.sh) answer --help and --version and nothing else (no
build, no install, no other script's text), refuse a bad option with exit 2 and one line, and
check where their rows go before they start (soak.sh, fuzz.sh, mutants.sh: a run never writes
into the checkout unless --out names a folder in it); the README names each entry point. The
Python tools' own checks are core/python/tests/tools/test_commands.py."""
import os
import re
import subprocess
import time
import tomllib

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = sorted(f for f in os.listdir(os.path.join(ROOT, "scripts"))
                 if f.endswith(".sh") and f not in ("lib.sh", "rl_env.sh"))


def run(name, *args, timeout=30):
    t0 = time.monotonic()
    r = subprocess.run([os.path.join(ROOT, "scripts", name), *args], capture_output=True, text=True, timeout=timeout)
    r.seconds = time.monotonic() - t0
    return r


def leading_comment(name):
    lines = []
    with open(os.path.join(ROOT, "scripts", name)) as f:
        for i, line in enumerate(f):
            if i == 0 and line.startswith("#!"):
                continue
            if not line.startswith("#"):
                break
            lines.append(re.sub(r"^# ?", "", line.rstrip("\n")))
    return "\n".join(lines) + "\n"


# Every shell file of the project, the sourced ones too: bash reads a compound command (a loop,
# an if) whole before running it, so a quote left open deep in a script stops it midway, after
# the work before it (gate_series.sh did so after building its plant).
def shell_files():
    found = [os.path.join(".ci", "run")]
    for d, dirs, files in os.walk(ROOT):
        dirs[:] = [x for x in dirs if x not in ("build", ".git")]
        found += [os.path.relpath(os.path.join(d, f), ROOT) for f in files if f.endswith(".sh")]
    return sorted(found)


SHELL_FILES = shell_files()


@pytest.mark.parametrize("path", SHELL_FILES)
def test_every_shell_file_parses(path):
    r = subprocess.run(["bash", "-n", os.path.join(ROOT, path)], capture_output=True, text=True)
    assert r.returncode == 0, f"{path} does not parse: {r.stderr.strip()}"


@pytest.mark.parametrize("name", [s for s in SCRIPTS if s != "run.sh"])
def test_help_prints_the_scripts_own_comment_and_does_nothing_else(name):
    r = run(name, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout == leading_comment(name)
    assert "lib.sh\"" not in r.stdout and "sed -n" not in r.stdout
    assert r.stderr == ""  # no "[marllb] ..." of a build or install
    assert r.seconds < 5


def test_run_sh_help_comes_from_the_pipelines_parser():
    r = run("run.sh", "--help")
    assert r.returncode == 0 and "--kill-agent-at" in r.stdout and r.stderr == ""


def test_bench_gate_help_is_its_own_not_bench_sh():
    r = run("bench_gate.sh", "--help")
    assert "regression gate" in r.stdout and "Runs the benchmark suite, 9 repetitions" not in r.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_version_names_the_script_the_version_and_the_commit(name):
    r = run(name, "--version")
    assert r.returncode == 0, r.stderr
    assert re.fullmatch(rf"{re.escape(name)} \d+\.\d+\.\d+ \(git ([0-9a-f]{{12}}(-dirty)?|unknown)\)\n", r.stdout), r.stdout
    assert r.stderr == ""


@pytest.mark.parametrize("name", ["scenarios.sh", "fuzz.sh", "mutants.sh", "sim_runs.sh", "test.sh", "bench.sh", "profile_lb.sh"])
def test_an_unknown_option_is_a_user_error(name):
    r = run(name, "--no-such-option")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--no-such-option" in r.stderr
    assert r.seconds < 5  # refused before any build


@pytest.mark.parametrize("name, extra", [("soak.sh", []), ("fuzz.sh", ["1", "fuzz_action"]), ("mutants.sh", []),
                                         ("profile_lb.sh", [])])
def test_an_out_that_cannot_be_written_is_refused_before_the_run(tmp_path, name, extra):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run(name, "--out", str(blocker / "out"), *extra)
    assert r.returncode == 2
    assert f"'{blocker}' is not a directory" in r.stderr and r.stderr.count("\n") == 1
    assert r.seconds < 5  # nothing was built or run


@pytest.mark.parametrize("name, extra, header", [
    ("fuzz.sh", ["1", "fuzz_action"], "date,git_commit,cpu_model,kernel,target"),
    ("mutants.sh", [], "date,git_commit,mutant,file,check,caught,by,seconds"),
])
def test_a_csv_of_another_column_set_is_refused_before_the_run(tmp_path, name, extra, header):
    csv = tmp_path / ("fuzz.csv" if name == "fuzz.sh" else "mutants.csv")
    csv.write_text(header + "\n1,2\n")
    r = run(name, "--out", str(tmp_path), *extra)
    assert r.returncode == 2
    assert "another column set" in r.stderr and "nothing was run" in r.stderr
    assert csv.read_text() == header + "\n1,2\n"
    assert r.seconds < 5


def test_fuzz_refuses_an_unknown_target_and_bad_seconds():
    assert "no fuzz target 'fuzz_nothing'" in run("fuzz.sh", "1", "fuzz_nothing").stderr
    r = run("fuzz.sh", "ten")
    assert r.returncode == 2 and "SECONDS must be a positive whole number" in r.stderr


def test_soak_takes_out_not_csv():
    r = run("soak.sh", "--csv", "/tmp/x.csv")
    assert r.returncode == 2 and "pass --out DIR" in r.stderr


def test_the_readme_names_every_entry_point_once():
    """README's "Entry points" table: every scripts/*.sh but lib.sh, and every console script of
    pyproject.toml, one row each, and no name that is neither."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        console = set(tomllib.load(f)["project"]["scripts"])
    here = os.path.join(ROOT, "scripts")
    shell = {f"scripts/{s}" for s in os.listdir(here)  # the .sh scripts and executables such as sweep
             if s != "lib.sh" and os.path.isfile(os.path.join(here, s))
             and (s.endswith(".sh") or os.access(os.path.join(here, s), os.X_OK))}
    with open(os.path.join(ROOT, "README.md")) as f:
        section = f.read().split("### Entry points\n", 1)[1].split("\n#", 1)[0]
    named = [m.group(1) for m in re.finditer(r"^\| `([^`]+)`", section, re.M)]
    assert sorted(named) == sorted(shell | console)
