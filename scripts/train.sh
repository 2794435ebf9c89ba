#!/usr/bin/env bash
# Trains the SAC agent (rl/sac_gru.py) in marllb_env (docs/rl.md). PyTorch and OpenBLAS are
# installed on the first run (scripts/rl_env.sh). Runs under nice -n 19. With MARLLB_QUIET_FILE
# set, it waits while that file exists (another job needs the machine quiet) before starting and
# between episodes. Every argument goes to rl/train.py (see --help there).
#
#   scripts/train.sh --out results/rl/train-marllb7-lbs1 --episodes 300   # resumes from --out if it holds a checkpoint
#   scripts/train.sh --help
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
source "$MARLLB_ROOT/scripts/rl_env.sh"
quiet=(); [ -z "${MARLLB_QUIET_FILE:-}" ] || quiet=(--quiet-file "$MARLLB_QUIET_FILE")
cd "$MARLLB_ROOT"
exec nice -n 19 "$PY" rl/train.py "${quiet[@]}" "$@"
