#!/usr/bin/env python3
"""Install the built marllb_shm module, the seed's import name shm_layout and the RL environment
(marllb_env, marllb_reward) into the site-packages of the interpreter that runs this script, so
that `import marllb_shm`, `from shm_layout import SharedMemoryRegion` and `import marllb_env`
work without PYTHONPATH.

    /usr/bin/python3 core/python/install.py              # what scripts/setup.sh runs
    .venv/bin/python core/python/install.py              # into a venv instead

The files are copied, each through a temporary file renamed into place: an agent already
running keeps the module it loaded, and rebuilding or deleting the build tree leaves the
installed module working. A rebuilt module is installed by running this again
(scripts/setup.sh does, and scripts/run.sh and scripts/test.sh call it).
"""
import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PURE_PYTHON = ("shm_layout.py", "marllb_env.py", "marllb_reward.py")  # beside the module, as in the build tree


def install_dir():
    return sysconfig.get_path("platlib")


def copy_atomically(src, dest_dir):
    fd, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".marllb-install-")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(dest_dir, os.path.basename(src)))
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build", "release"),
                   help="the CMake build tree holding core/python/marllb_shm*.so (default: build/release)")
    p.add_argument("--print-dir", action="store_true", help="print where the files would go, and stop")
    a = p.parse_args()
    dest = install_dir()
    if a.print_dir:
        print(dest)
        return 0
    module = os.path.join(a.build, "core", "python", "marllb_shm" + sysconfig.get_config_var("EXT_SUFFIX"))
    if not os.path.isfile(module):
        sys.exit(f"install.py: no module at {module}: build it first (cmake --preset release && "
                 f"cmake --build --preset release --target marllb_shm_python), for this interpreter "
                 f"({sys.executable}, Python {sys.version.split()[0]})")
    pure = [os.path.join(ROOT, "core", "python", f) for f in PURE_PYTHON]
    try:
        os.makedirs(dest, exist_ok=True)
        for f in (module, *pure):
            copy_atomically(f, dest)
    except PermissionError as e:
        sys.exit(f"install.py: cannot write {dest} ({e.strerror}): run as root, or install into a venv "
                 f"(python3 -m venv --system-site-packages .venv && .venv/bin/python {sys.argv[0]})")
    # Check what a fresh interpreter imports, with no PYTHONPATH and away from the source tree.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-c", "import marllb_shm, shm_layout, marllb_env; print(marllb_shm.__file__)"],
                       env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True)
    got = r.stdout.strip()
    if r.returncode != 0 or os.path.dirname(os.path.realpath(got)) != os.path.realpath(dest):
        sys.exit(f"install.py: installed into {dest}, but a fresh {sys.executable} imports "
                 f"{got or 'nothing'}: {r.stderr.strip()}")
    print(f"installed marllb_shm, shm_layout and marllb_env into {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
