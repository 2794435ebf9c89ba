"""The project's figures (matplotlib: pip's `plots` extra, Debian's python3-matplotlib). Each
figure command runs as `python3 -m marllb.plots.NAME` and as the console script pip installs:

  bench      marllb-bench-plot      the benchmark figures of a bench CSV
  pipeline   marllb-pipeline-plot   fairness and FCT over a pipeline run
  scenarios  marllb-scenarios-plot  the figures of a scenario run

figures holds what they share (the provenance stamp, end labels, the nanosecond axis); rl/ draws
with it too.
"""
