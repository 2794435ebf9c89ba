#!/usr/bin/env bash
# Checks a Promela model of the protocol with spin, exhaustively (safety: assertions and
# end states). With --expect-fail it checks a mutant: it passes only if spin finds a
# violation, and prints the counterexample's last steps.
#
#   core/model/check.sh MODEL.pml [--expect-fail] [-DNAME ...]
set -euo pipefail
model="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift
expect=pass
defines=()
for a in "$@"; do
  case "$a" in
    --expect-fail) expect=fail ;;
    -D*) defines+=("$a") ;;
    *) echo "check.sh: unknown argument '$a'" >&2; exit 64 ;;
  esac
done
command -v spin >/dev/null || { echo "check.sh: spin not found: apt-get install spin (scripts/setup.sh does)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$model" "$work/"
cd "$work"
model="$(basename "$model")" # spin -t looks for MODEL.trail beside the model
spin "${defines[@]}" -a "$model" >/dev/null
gcc -O2 -DSAFETY -DCOLLAPSE -DMEMLIM=2048 -o pan pan.c
./pan -m1000000 > pan.out 2>&1 || true
errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' pan.out | tail -1)
grep -E "states, stored|errors:|assertion violated|invalid end state|max search depth too small" pan.out || true
if grep -q "max search depth too small" pan.out; then echo "check.sh: search was truncated" >&2; exit 1; fi
[ -n "$errors" ] || { echo "check.sh: spin did not finish" >&2; cat pan.out >&2; exit 1; }
if [ "$expect" = pass ]; then
  [ "$errors" -eq 0 ] && echo "model holds: $(basename "$model") ${defines[*]}" && exit 0
  spin -t -p "${defines[@]}" "$model" 2>&1 | tail -30
  echo "model FAILS: $(basename "$model") ${defines[*]}" >&2; exit 1
fi
if [ "$errors" -gt 0 ]; then
  echo "counterexample (last steps):"
  spin -t -p "${defines[@]}" "$model" 2>&1 | grep -E "proc|assert" | tail -12 || true
  echo "mutant caught: $(basename "$model") ${defines[*]}"
  exit 0
fi
echo "mutant NOT caught: $(basename "$model") ${defines[*]}: the model cannot see this defect" >&2
exit 1
