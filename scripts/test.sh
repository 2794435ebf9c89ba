#!/usr/bin/env bash
# Sets up, builds and runs every test through ctest (release build). --sanitizers adds the
# same tests under ThreadSanitizer and AddressSanitizer+UBSan; --fuzz adds a short run of
# each libFuzzer target (clang) on its seed corpus.
#
#   scripts/test.sh [--sanitizers] [--fuzz] [-- CTEST_ARGS ...]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"

presets=(release)
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitizers) presets+=(tsan asan); shift ;;
    --fuzz) presets+=(fuzz); shift ;;
    --) shift; ctest_args=("$@"); break ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done

"$MARLLB_ROOT/scripts/setup.sh" "${presets[@]}"
cd "$MARLLB_ROOT"
status=0
for p in "${presets[@]}"; do
  say "ctest --preset $p"
  ctest --preset "$p" "${ctest_args[@]}" || status=1
done
[ $status -eq 0 ] && say "all tests passed (${presets[*]})" || say "tests FAILED (see above)"
exit $status
