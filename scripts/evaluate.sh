#!/usr/bin/env bash
# Evaluates trained agents against ECMP, WCMP, LSQ and SED (rl/evaluate.py; docs/rl.md, "The
# evaluation"). PyTorch and OpenBLAS are installed on the first run (scripts/rl_env.sh). Runs
# under nice -n 19; every argument goes to rl/evaluate.py (see --help there).
#
#   scripts/evaluate.sh --runs results/rl/train-marllb7-lbs1 --csv results/rl/eval.csv
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
source "$MARLLB_ROOT/scripts/rl_env.sh"
cd "$MARLLB_ROOT"
exec nice -n 19 "$PY" rl/evaluate.py "$@"
