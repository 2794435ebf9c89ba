# Sourced by scripts/train.sh and scripts/evaluate.sh: installs PyTorch and OpenBLAS on first
# use (never scripts/setup.sh: they are large), checks the build, and sets the paths.
# Debian's python3-torch (CPU) runs under the reference BLAS unless OpenBLAS is installed: one
# update of the agent then takes 7-8 times as long (rl/bench_update.py, results/rl/bench_update.txt).
PY=/usr/bin/python3
if ! "$PY" -c "import torch" 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
  say "installing PyTorch and OpenBLAS: apt-get install python3-torch libopenblas0-pthread (CPU, several hundred MB)"
  as_root apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread ||
    die "could not install python3-torch and libopenblas0-pthread (try apt-get update first)"
fi
build="$MARLLB_ROOT/build/release"
# The build tree's package: the extension (marllb/shm*.so) and the pure Python beside it
# (marllb.plots, which rl/ draws with).
[ -x "$build/sim/apps/marllb-sim" ] && ls "$build"/core/python/marllb/shm*.so >/dev/null 2>&1 &&
  [ -f "$build/core/python/marllb/plots/figures.py" ] ||
  die "build marllb-sim and the Python module first: cmake --preset release && cmake --build --preset release --target marllb-sim marllb_python_files"
# One BLAS thread: the simulator's two lcores already fill a small machine.
export PYTHONPATH="$build/core/python${PYTHONPATH:+:$PYTHONPATH}" MARLLB_SIM="$build/sim/apps/marllb-sim" OPENBLAS_NUM_THREADS=1
