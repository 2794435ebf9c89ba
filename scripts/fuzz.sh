#!/usr/bin/env bash
# Long fuzzing runs: builds the libFuzzer targets (clang, ASan+UBSan) and runs each for
# SECONDS on its committed seed corpus. Crashing inputs are kept in build/fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     default: 600 s each, all targets
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seconds="${1:-600}"; shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_region_image fuzz_action fuzz_trace fuzz_frame fuzz_scenario_file)
"$MARLLB_ROOT/scripts/setup.sh" fuzz >&2
status=0
for t in "${targets[@]}"; do
  say "fuzzing $t for $seconds s"
  case "$t" in
    fuzz_trace|fuzz_frame) dir=sim/fuzz ;;
    fuzz_scenario_file) dir=scenarios/fuzz ;;
    *) dir=core/fuzz ;;
  esac
  "$MARLLB_ROOT/core/fuzz/run_fuzzer.sh" "$MARLLB_ROOT/build/fuzz/$dir/$t" \
    "$MARLLB_ROOT/$dir/corpus/$t" "$seconds" "$MARLLB_ROOT/build/fuzz/artifacts/$t" || status=1
done
exit $status
