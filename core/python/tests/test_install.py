"""The install step: after core/python/install.py, a fresh interpreter imports marllb_shm, the
seed's shm_layout and the RL environment marllb_env with no PYTHONPATH, and keeps doing so when the build tree is rebuilt or
removed. Shown on a venv of the same interpreter (what install.py does for /usr/bin/python3 is
the same with its own site-packages)."""
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

INSTALL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "install.py")


def fresh_env():
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def make_venv(d, system_site=True):
    # --system-site-packages for numpy; the venv's own site-packages comes first on sys.path.
    extra = ["--system-site-packages"] if system_site else []
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", *extra, str(d)], check=True)
    return d / "bin" / "python"


@pytest.fixture
def venv(tmp_path):
    return make_venv(tmp_path / "venv")


@pytest.fixture
def build_tree(tmp_path):
    # A copy of the module's build output laid out as a build tree, so the test can remove it.
    tree = tmp_path / "build"
    (tree / "core" / "python").mkdir(parents=True)
    built = os.path.join(os.environ["MARLLB_PYTHON_BUILD"], "marllb_shm" + sysconfig.get_config_var("EXT_SUFFIX"))
    shutil.copy(built, tree / "core" / "python")
    return tree


def run(python, code, cwd):
    return subprocess.run([str(python), "-c", code], env=fresh_env(), cwd=cwd, capture_output=True, text=True)


def test_without_the_install_step_there_is_no_module(tmp_path):
    bare = make_venv(tmp_path / "bare", system_site=False)
    r = run(bare, "import marllb_shm", tmp_path)
    assert "No module named 'marllb_shm'" in r.stderr


def test_after_the_install_step_every_name_imports_without_pythonpath(venv, build_tree, tmp_path):
    r = subprocess.run([str(venv), INSTALL, "--build", str(build_tree)], env=fresh_env(), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    site = run(venv, "import sysconfig; print(sysconfig.get_path('platlib'))", tmp_path).stdout.strip()
    assert site in r.stdout
    r = run(venv, "import marllb_shm, shm_layout; print(marllb_shm.__file__); "
                  "assert shm_layout.SharedMemoryRegion is marllb_shm.SharedMemoryRegion", tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().startswith(site)
    r = run(venv, "import marllb_env, marllb_reward; print(marllb_env.__file__); print(marllb_reward.__file__)", tmp_path)
    assert r.returncode == 0, r.stderr
    assert all(line.startswith(site) for line in r.stdout.split()), r.stdout
    shutil.rmtree(build_tree)  # a rebuild (or a clean) of the build tree
    assert run(venv, "from shm_layout import SharedMemoryRegion; import marllb_env", tmp_path).returncode == 0


def test_the_install_step_says_what_to_build_when_nothing_is_built(venv, tmp_path):
    r = subprocess.run([str(venv), INSTALL, "--build", str(tmp_path / "nothing")], env=fresh_env(),
                       capture_output=True, text=True)
    assert r.returncode != 0 and "build it first" in r.stderr
