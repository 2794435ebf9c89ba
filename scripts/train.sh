#!/usr/bin/env bash
# Trains the SAC agent (rl/sac_gru.py) in marllb_env (docs/rl.md). PyTorch is large, so it is
# installed here, on the first run, and never by scripts/setup.sh: Debian's python3-torch (CPU).
# Runs under nice -n 19. With MARLLB_QUIET_FILE set, it waits while that file exists (another job
# needs the machine quiet) before starting and between episodes. Every argument goes to
# rl/train.py (see --help there).
#
#   scripts/train.sh --out results/rl/train --episodes 20          # resumes from --out if it holds a checkpoint
#   scripts/train.sh --help
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null; then
  say "PyTorch is not installed: apt-get install python3-torch (CPU, several hundred MB)"
  as_root apt-get install -y --no-install-recommends python3-torch || die "could not install python3-torch (try apt-get update first)"
fi
build="$MARLLB_ROOT/build/release"
[ -x "$build/sim/apps/marllb-sim" ] && ls "$build"/core/python/marllb_shm*.so >/dev/null 2>&1 ||
  die "build marllb-sim and the Python module first: cmake --preset release && cmake --build --preset release --target marllb-sim marllb_python_files"
quiet=(); [ -z "${MARLLB_QUIET_FILE:-}" ] || quiet=(--quiet-file "$MARLLB_QUIET_FILE")
cd "$MARLLB_ROOT"
PYTHONPATH="$build/core/python${PYTHONPATH:+:$PYTHONPATH}" MARLLB_SIM="$build/sim/apps/marllb-sim" \
  exec nice -n 19 "$PY" rl/train.py "${quiet[@]}" "$@"
