"""The package as a user installs it: a fresh venv of Debian's python3 (--system-site-packages
for numpy), `pip install` of the checkout with no package index and no build isolation, then,
from a folder outside the checkout and with no PYTHONPATH: the module's tests, the seed's
example, the environment finding marllb-sim by itself; and the wheel `python3 -m build` makes,
installed into another venv; the console scripts of pyproject.toml on the venv's bin/. MARLLB_SOURCE
is the checkout (ctest sets it)."""
import glob
import os
import subprocess
import sys
import textwrap
import tomllib

import pytest

SOURCE = os.environ.get("MARLLB_SOURCE") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SIM = os.path.join(SOURCE, "build", "release", "sim", "apps", "marllb-sim")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MARLLB_SIM")}
    env.update(extra)
    return env


def make_venv(path):
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(path)], check=True)
    return str(path / "bin" / "python")


def run(python, args, cwd, **kw):
    return subprocess.run([python, *args], cwd=cwd, env=clean_env(**kw.pop("env", {})), capture_output=True,
                          text=True, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with the checkout pip-installed, and a folder outside the checkout to work in."""
    root = tmp_path_factory.mktemp("pip")
    python = make_venv(root / "venv")
    r = run(python, ["-m", "pip", "install", "--no-build-isolation", "--no-index", SOURCE], root, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    work = root / "work"
    work.mkdir()
    return python, work


def test_the_installed_package_is_imported_from_the_venv(installed):
    python, work = installed
    names = ["marllb", "marllb.shm", "marllb.env", "marllb.reward", "marllb.result_rows", "marllb.stats",
             "marllb.sweep.cli", "shm_layout", "marllb_shm", "marllb_env", "marllb_reward"]
    r = run(python, ["-c", f"import importlib; print(importlib.import_module('marllb').__version__)\n"
                           f"for n in {names!r}: print(importlib.import_module(n).__file__)"], work)
    assert r.returncode == 0, r.stderr
    version, *paths = r.stdout.split()
    venv = os.path.dirname(os.path.dirname(python))
    # Each from the venv: not from the checkout, nor a copy left in the system's site-packages.
    assert len(paths) == len(names) and all(p.startswith(venv + os.sep) for p in paths), paths
    r = run(python, ["-m", "pip", "show", "marllb"], work)
    assert r.returncode == 0 and f"Version: {version}" in r.stdout  # pip knows what it installed


def test_the_sweep_command_is_installed(installed):
    python, work = installed
    r = subprocess.run([os.path.join(os.path.dirname(python), "marllb-sweep"), "--version"], cwd=work, env=clean_env(),
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("sweep "), r.stdout + r.stderr


def test_the_modules_tests_pass_against_the_installed_package(installed):
    python, work = installed
    r = run(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(SOURCE, "core", "python", "tests")],
            work, env={"MARLLB_PYTHON_EXAMPLES": os.path.join(SOURCE, "core", "python", "examples"),
                       "MARLLB_SOURCE": SOURCE}, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout.splitlines()[-1]


def test_the_console_scripts_run_from_outside_the_checkout(installed):
    python, work = installed
    with open(os.path.join(SOURCE, "pyproject.toml"), "rb") as f:
        scripts = tomllib.load(f)["project"]["scripts"]
    bin_dir = os.path.dirname(python)
    assert "marllb-bench-compare" in scripts
    for name in scripts:  # by the path pip put it at: a name pip did not install is no file there
        r = run(os.path.join(bin_dir, name), ["--help"], work, env={"PATH": "/usr/bin:/bin"}, timeout=60)
        assert r.returncode == 0 and name in r.stdout, (name, r.stderr[-2000:])
    r = run(os.path.join(bin_dir, "marllb-bench-compare"), ["--no-baseline", "nowhere.csv", "--gate",
                                                           os.path.join(SOURCE, "bench", "gate.toml")], work)
    assert r.returncode == 2 and "nowhere.csv" in r.stderr, r.stderr  # the gate itself ran: a user error, exit 2


SEED_EXAMPLE = textwrap.dedent("""
    # The seed's agent loop, as the seed writes it (shm_layout's names), against an LB in Python.
    import sys
    import numpy as np
    from marllb.shm import LbRegion
    from shm_layout import SharedMemoryRegion

    name = sys.argv[1]
    lb = LbRegion(name, num_servers=4)
    region = SharedMemoryRegion(name)
    for _ in range(3):
        lb.write_observation([4, 3, 2, 1])
        obs = region.read_observation()
        loads = [obs["server_stats"][s]["n_flow_on"] for s in obs["active_servers"]]
        region.write_action(obs["sequence_id"], [1.0 / (1 + n) for n in loads])
        assert lb.read_action()["status"] == "applied"
    region.close()
    lb.unlink()
    print("seed example: 3 actions applied")
""")


def test_the_seeds_example_runs_outside_the_checkout(installed):
    python, work = installed
    (work / "seed_agent.py").write_text(SEED_EXAMPLE)
    r = run(python, ["seed_agent.py", f"marllb_pip_{os.getpid()}"], work, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "3 actions applied" in r.stdout


def test_the_installed_environment_finds_marllb_sim_without_environment_variables(installed):
    python, work = installed
    code = "from marllb.env import find_sim; print(find_sim())"
    r = run(python, ["-c", code], work, env={"PATH": "/usr/bin:/bin"})
    if os.access(SIM, os.X_OK):
        assert r.returncode == 0 and r.stdout.strip() == SIM, r.stderr
        # docs/rl.md's snippet, from the venv, with no MARLLB_SIM
        r = run(python, ["-c", "from marllb.env import LoadBalanceEnv\n"
                               "with LoadBalanceEnv(episode_steps=2) as env:\n"
                               "    env.reset(seed=1)\n"
                               "    print(env.step([1.0] * env.num_servers)[1])"], work, timeout=120)
        assert r.returncode == 0, r.stderr
    else:  # no build of marllb-sim in the checkout: the error says how to make one
        assert r.returncode != 0 and "scripts/setup.sh --targets marllb-sim release" in r.stderr, r.stderr


def test_the_wheel_installs_into_a_fresh_venv(tmp_path):
    out = tmp_path / "wheel"
    r = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--wheel", "--outdir", str(out), SOURCE],
                       cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    wheels = glob.glob(str(out / "marllb-*.whl"))
    assert len(wheels) == 1, wheels
    python = make_venv(tmp_path / "venv")
    r = run(python, ["-m", "pip", "install", "--no-index", wheels[0]], tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    r = run(python, ["-c", "import marllb.shm, shm_layout, os; d = os.path.dirname(marllb.shm.__file__); "
                           "print(os.path.isfile(os.path.join(d, 'py.typed')), os.path.isfile(os.path.join(d, 'shm.pyi')))"],
            tmp_path)
    assert r.returncode == 0 and r.stdout.split() == ["True", "True"], r.stderr
