#!/usr/bin/env bash
# Long soak with crash injection on both sides; appends its summary row to
# results/soak/soak.csv and exits non-zero if any message or action was accepted torn or
# went backwards.
#
#   scripts/soak.sh [--seconds 1800] [--mean-kill-s 1] [--publish-us 100] [--read-us 100]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
"$MARLLB_ROOT/scripts/setup.sh" release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--seconds 1800)
exec "$MARLLB_ROOT/build/release/core/tests/marllb-soak" --csv "$MARLLB_ROOT/results/soak/soak.csv" "${args[@]}"
