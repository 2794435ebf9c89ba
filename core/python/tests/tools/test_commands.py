"""The package's commands: every module of marllb.tools and marllb.plots with a main() is a console
script of pyproject.toml and the other way round (so pip installs each under its name), and each,
run as `python3 -m MODULE` from outside the checkout, answers --version with that name and this
checkout's commit (the checkout its defaults name: marllb.tools.checkout()) and --help with its
text, exit 0, writing nothing."""
import importlib
import os
import pkgutil
import re
import subprocess
import sys
import tomllib

import pytest

import marllb.plots
import marllb.tools
from marllb import result_rows

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    SCRIPTS = tomllib.load(f)["project"]["scripts"]
# module -> console script, for the tools and figures (marllb-sweep has its own tests: tests/sweep)
COMMANDS = {target.split(":")[0]: name for name, target in SCRIPTS.items()
            if target.startswith(("marllb.tools.", "marllb.plots."))}


def test_the_tools_defaults_are_this_checkouts_files():
    assert os.path.samefile(marllb.tools.checkout(), ROOT)


def modules_with_main():
    found = []
    for pkg in (marllb.tools, marllb.plots):
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            if callable(getattr(module, "main", None)):
                found.append(module.__name__)
    return sorted(found)


def test_every_tool_is_a_console_script_and_every_console_script_a_tool():
    assert modules_with_main() == sorted(COMMANDS)
    assert all(target.endswith(":main") for target in SCRIPTS.values())
    assert set(SCRIPTS) - set(COMMANDS.values()) == {"marllb-sweep"}  # no other command outside the rule
    assert all(name == "marllb-" + module.rsplit(".", 1)[1].replace("_", "-") + ("-plot" if ".plots." in module else "")
               for module, name in COMMANDS.items())  # one naming rule: marllb-<module>[-plot]


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_each_tool_answers_version_and_help_and_does_nothing_else(module, tmp_path):
    name = COMMANDS[module]
    v = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert v.returncode == 0 and v.stderr == "", v.stderr
    assert v.stdout == f"{name} (git {result_rows.git_commit(ROOT)})\n"
    h = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert h.returncode == 0 and h.stdout.strip() and h.stderr == "", h.stderr
    assert name in h.stdout  # the text names the command as the user types it
    assert list(tmp_path.iterdir()) == []  # nothing written
