#!/usr/bin/env bash
# Trains the SAC agent (rl/sac_gru.py) in marllb_env (docs/rl.md). PyTorch is large, so it is
# installed here, on the first run, and never by scripts/setup.sh: Debian's python3-torch (CPU),
# with OpenBLAS (libopenblas0-pthread): under Debian's default reference BLAS one update of the
# agent takes about 6 times as long (75 ms against 12.7 ms for 7 servers on this machine).
# Runs under nice -n 19. With MARLLB_QUIET_FILE set, it waits while that file exists (another job
# needs the machine quiet) before starting and between episodes. Every argument goes to
# rl/train.py (see --help there).
#
#   scripts/train.sh --out results/rl/train --episodes 20          # resumes from --out if it holds a checkpoint
#   scripts/train.sh --help
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  say "installing PyTorch and OpenBLAS: apt-get install python3-torch libopenblas0-pthread (CPU, several hundred MB)"
  as_root apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread ||
    die "could not install python3-torch and libopenblas0-pthread (try apt-get update first)"
fi
build="$MARLLB_ROOT/build/release"
[ -x "$build/sim/apps/marllb-sim" ] && ls "$build"/core/python/marllb_shm*.so >/dev/null 2>&1 ||
  die "build marllb-sim and the Python module first: cmake --preset release && cmake --build --preset release --target marllb-sim marllb_python_files"
quiet=(); [ -z "${MARLLB_QUIET_FILE:-}" ] || quiet=(--quiet-file "$MARLLB_QUIET_FILE")
cd "$MARLLB_ROOT"
# One BLAS thread: the simulator's two lcores already fill a small machine.
PYTHONPATH="$build/core/python${PYTHONPATH:+:$PYTHONPATH}" MARLLB_SIM="$build/sim/apps/marllb-sim" OPENBLAS_NUM_THREADS=1 \
  exec nice -n 19 "$PY" rl/train.py "${quiet[@]}" "$@"
