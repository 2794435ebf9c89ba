#!/usr/bin/env bash
# The main job: sets up and builds, then runs the core demo (an LB process and an agent
# process exchanging observations and actions through a region), prints its summary and
# appends a row to results/demo/demo.csv.
#
#   scripts/run.sh [marllb-demo options]     e.g. scripts/run.sh --seconds 10 --publish-us 200000 --read-us 250000
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$MARLLB_ROOT/scripts/setup.sh" release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
exec "$MARLLB_ROOT/build/release/core/examples/marllb-demo" --csv "$MARLLB_ROOT/results/demo/demo.csv" "$@"
