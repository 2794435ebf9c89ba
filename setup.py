"""Builds the extension marllb.shm for pip and `python3 -m build` (pyproject.toml has the rest).

The extension is compiled from its own sources (core/python/*.cpp) together with the core's
(core/src/*.cpp), linked against hwloc: an installed package or a wheel then needs no CMake build
tree, no static library built with -fPIC beforehand, and nothing from the checkout once it is
installed. The price is compiling the core's few files a second time (CMake builds them for the
C and C++ users). The flags are CMake's: C++23 (g++ 12), the version from marllb/__init__.py.

The build's files go to build/setuptools/, beside CMake's build trees, not into the sources.
"""
import glob
import os
import re
import shutil

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension, build_ext
from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(ROOT, "core", "python", "marllb", "__init__.py")) as f:
    VERSION = re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)
BUILD_BASE = os.path.join("build", "setuptools")


class build_py_with_paths(build_py):
    """Adds marllb/_paths.py: where this checkout's build puts marllb-sim, so that the installed
    environment finds it without MARLLB_SIM (or says how to build it), and the checkout itself."""

    def run(self):
        super().run()
        sim = os.path.join(ROOT, "build", "release", "sim", "apps", "marllb-sim")
        with open(os.path.join(self.build_lib, "marllb", "_paths.py"), "w") as f:
            f.write('"""Where the checkout this package was built from puts marllb-sim (written by setup.py)."""\n'
                    f"SIM_CANDIDATES = ({sim!r},)\n"
                    f"HOW_TO_BUILD_SIM = {'scripts/setup.sh --targets marllb-sim release (in ' + ROOT + ')'!r}\n"
                    f"SOURCE = {ROOT!r}  # the checkout: marllb.tools' default files (marllb.tools.checkout)\n")


ext = Pybind11Extension(
    "marllb.shm",
    sorted(glob.glob("core/python/*.cpp")) + sorted(glob.glob("core/src/*.cpp")),
    include_dirs=["core/include", "core/src"],
    libraries=["hwloc"],
    define_macros=[("MARLLB_VERSION", f'"{VERSION}"')],
    extra_compile_args=["-std=c++23", "-g0", "-Wno-psabi"],  # -Wno-psabi: as core/CMakeLists.txt says for action.cpp
    cxx_std=0,  # the flag above: pybind11 2.10's helper knows no C++23
)

os.makedirs(BUILD_BASE, exist_ok=True)
# A module removed from the package must not ride along from an earlier build: the wheel takes
# all of build_lib, so it starts empty.
for stale in glob.glob(os.path.join(BUILD_BASE, "lib*")):
    shutil.rmtree(stale)
ParallelCompile("MARLLB_BUILD_JOBS", default=0).install()  # default: one job per CPU
setup(ext_modules=[ext], cmdclass={"build_ext": build_ext, "build_py": build_py_with_paths},
      # force: setuptools compares only the .cpp files' times with the objects', not the headers'
      # they include, so a changed header would leave a stale object; every build compiles anew.
      options={"build": {"build_base": BUILD_BASE}, "build_ext": {"force": True}, "egg_info": {"egg_base": BUILD_BASE}})
