#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS on a copy of its seed corpus (new inputs go to a
# scratch folder, the committed corpus is read only). Crashes are kept in ARTIFACTS.
#
#   core/fuzz/run_fuzzer.sh FUZZER SEED_CORPUS SECONDS [ARTIFACTS_DIR]
set -euo pipefail
fuzzer="$1" seeds="$2" seconds="$3" artifacts="${4:-$(mktemp -d)}"
[ -x "$fuzzer" ] || { echo "run_fuzzer.sh: $fuzzer is not built (cmake --build --preset fuzz)" >&2; exit 2; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
"$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" \
  -rss_limit_mb=2048 "$scratch" "$seeds" 2>&1 | grep -E "stat::|Done|ERROR|SUMMARY|INFO: (seed|Loaded)|crash" || true
exit "${PIPESTATUS[0]}"
