#!/usr/bin/env bash
# Long soak with crash injection on both sides; appends its summary row to OUT/soak.csv and
# exits non-zero if any message or action was accepted torn or went backwards.
#
#   scripts/soak.sh [--out DIR] [marllb-soak options]   e.g. --seconds 1800 --mean-kill-s 1
#     --out   default: a run folder of its own, results/runs/<UTC time>-<pid>/ (git ignores it);
#             the committed rows are in results/soak (--out results/soak adds to them)
#   marllb-soak options (default --seconds 1800): --seconds, --mean-kill-s, --publish-us,
#   --read-us (build/release/core/tests/marllb-soak --help)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
out="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage_error "--out needs a directory"; out="$2"; shift 2 ;;
    --csv|--csv=*) usage_error "the row goes to OUT/soak.csv: pass --out DIR instead of --csv" ;;
    *) args+=("$1"); shift ;;
  esac
done
new_run_id
[ -n "$out" ] || out="$(default_run_dir)"
check_out_dir "$out"
[ ${#args[@]} -gt 0 ] || args=(--seconds 1800)
"$MARLLB_ROOT/scripts/setup.sh" --targets marllb-soak release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
say "rows go to $out/soak.csv (run $MARLLB_RUN_ID)"
exec "$MARLLB_ROOT/build/release/core/tests/marllb-soak" --csv "$out/soak.csv" "${args[@]}"
