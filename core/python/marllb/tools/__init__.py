"""The project's command-line tools. Each runs as `python3 -m marllb.tools.NAME` and as the
console script pip installs (pyproject.toml, [project.scripts]); scripts/*.sh run them from the
source tree (scripts/lib.sh puts core/python on PYTHONPATH):

  bench_compare      marllb-bench-compare      the benchmark regression gate on two bench CSVs
  bench_goals        marllb-bench-goals        issue #24's goals (bench/goals.toml) judged on one benchmark run
  bench_to_csv       marllb-bench-to-csv       Google Benchmark JSON -> the project's bench CSV
  oneway_series      marllb-oneway-series      rows and summary of scripts/oneway_series.sh
  scenarios_summary  marllb-scenarios-summary  the verdict of a scenario run
  targets_table      marllb-targets-table      docs/scenarios.md's targets table from scenarios/targets.toml
  pipeline           marllb-pipeline           marllb-sim with an agent per LB (scripts/run.sh)
  env_speed          marllb-env-speed          steps per second of the RL environment

The figures are in marllb.plots (matplotlib: the `plots` extra).
"""
import os


def checkout():
    """The marllb-shm checkout whose files the tools' defaults name (bench/gate.toml,
    scenarios/targets.toml, build/release, results/): the source tree this package is in, else the
    checkout its build or pip install was made from (marllb/_paths.py), else the current
    directory. Outside a checkout, options name those files."""
    source = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))  # <checkout>/core/python/marllb/tools
    if os.path.isfile(os.path.join(source, "scripts", "lib.sh")):
        return source
    try:
        from marllb._paths import SOURCE
    except ImportError:
        SOURCE = ""
    return SOURCE if SOURCE and os.path.isdir(SOURCE) else os.getcwd()


def version(prog):
    """A tool's --version line: its name and the commit of checkout()."""
    from marllb import result_rows
    return result_rows.version(prog, checkout())


def environ_with_this_package(**extra):
    """os.environ (and extra) with the folder that holds this marllb package first on PYTHONPATH:
    for a tool's child Python process, whichever way this one found the package."""
    package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)
