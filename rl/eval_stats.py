"""The evaluation's statistics under their earlier name: they live in marllb.stats (one
definition for rl/evaluate.py and the sweep summaries, marllb.sweep)."""
from marllb.stats import T975, mean_ci, paired, verdict, within_margin  # noqa: F401
