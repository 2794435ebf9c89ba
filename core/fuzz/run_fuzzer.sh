#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS on a copy of its seed corpus (new inputs go to a
# scratch folder, the committed corpus is read only). Crashes are kept in ARTIFACTS.
# Exits with the fuzzer's own status: non-zero when it found a crash, a leak or a timeout.
#
#   core/fuzz/run_fuzzer.sh FUZZER SEED_CORPUS SECONDS [ARTIFACTS_DIR] [NEW_INPUTS_DIR]
#
# NEW_INPUTS_DIR, when given, keeps the inputs the run added (scripts/fuzz.sh merges them
# into the committed corpus).
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: run_fuzzer.sh FUZZER SEED_CORPUS SECONDS [ARTIFACTS_DIR] [NEW_INPUTS_DIR]" >&2; exit 2; }
fuzzer="$1" seeds="$2" seconds="$3" artifacts="${4:-$(mktemp -d)}" keep="${5:-}"
[ -x "$fuzzer" ] || { echo "run_fuzzer.sh: $fuzzer is not built (cmake --build --preset fuzz)" >&2; exit 2; }
[ -d "$seeds" ] || { echo "run_fuzzer.sh: no seed corpus at $seeds" >&2; exit 2; }
scratch="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$scratch" "$log"' EXIT
mkdir -p "$artifacts"
# The fuzzer's status is taken from the fuzzer itself, not from a pipeline whose last stage
# (a filter that may match nothing) would decide it.
rc=0
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" \
  -rss_limit_mb=2048 "$scratch" "$seeds" >"$log" 2>&1 || rc=$?
grep -E "stat::|Done|ERROR|SUMMARY|INFO: (seed|Loaded)|crash|cov:.*corp:" "$log" | tail -n 40 >&2 || :
if [ -n "$keep" ]; then mkdir -p "$keep"; cp -n "$scratch"/* "$keep"/ 2>/dev/null || :; fi
if [ "$rc" -ne 0 ]; then
  echo "run_fuzzer.sh: $(basename "$fuzzer") exited $rc (crashing inputs, if any, are in $artifacts)" >&2
  tail -n 60 "$log" >&2
fi
exit "$rc"
