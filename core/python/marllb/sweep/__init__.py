"""Sweeps: a grid of marllb-sim runs, scenario runs, trainings or evaluations described in one
TOML file, run on this machine (GNU parallel) or as a Slurm job array, resumed from the rows
already there, and merged into one table (docs/sweeps.md).

    python3 -m marllb.sweep plan sweeps/policies.toml
    python3 -m marllb.sweep run sweeps/policies.toml --engine local --jobs 2
    python3 -m marllb.sweep collect sweeps/policies.toml
"""
