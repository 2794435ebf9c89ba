#!/usr/bin/env bash
# The main job: sets up and builds what the pipeline runs, then runs the full pipeline on the
# embedded default (DPDK net_ring vdevs, no hugepages, no NIC): marllb-sim (world and LB on
# two lcores) and one agent per LB, ~20 s with a progress line each second, then a summary, a
# row in results/pipeline/pipeline.csv and a plot in results/pipeline/<run>/pipeline.png.
# The second run starts at once: the package check is remembered and ninja has nothing to do.
#
#   scripts/run.sh [pipeline options]    e.g. scripts/run.sh --agent python --duration 30
#                                             scripts/run.sh --kill-agent-at 8 --restart-agent-at 12
#   scripts/run.sh --help                 all options (policy, traffic, servers, LBs, faults)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for arg in "$@"; do # help comes from marllb.tools.pipeline's parser and needs no build
  case "$arg" in -h|--help) exec /usr/bin/python3 -m marllb.tools.pipeline --help ;; esac
done
help_and_version "$@"
"$MARLLB_ROOT/scripts/setup.sh" --targets marllb-sim,marllb-agent,marllb_shm_python release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
exec /usr/bin/python3 -m marllb.tools.pipeline "$@"
