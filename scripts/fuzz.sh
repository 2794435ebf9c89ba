#!/usr/bin/env bash
# Long fuzzing runs: builds the libFuzzer targets (clang, ASan+UBSan) and runs each for
# SECONDS on its committed seed corpus. Crashing inputs are kept in build/fuzz/artifacts/.
# Inputs that reach new coverage are merged into the committed corpus (libFuzzer -merge=1),
# and one row per target goes to results/fuzz/fuzz.csv: executions, coverage (edges, features),
# corpus size before and after, and the target's exit status. Non-zero if any target failed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET ...]     default: 600 s each, all targets
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
seconds="${1:-600}"; shift || :
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_region_image fuzz_action fuzz_trace fuzz_frame fuzz_scenario_file)
"$MARLLB_ROOT/scripts/setup.sh" fuzz >&2
csv="$MARLLB_ROOT/results/fuzz/fuzz.csv"
mkdir -p "$(dirname "$csv")"
[ -s "$csv" ] || echo "date,git_commit,cpu_model,kernel,target,seconds,execs,execs_per_s,cov_edges,features,corpus_before,corpus_after,status" >"$csv"
cpu_model="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1 | tr ',' ' ')"
status=0
for t in "${targets[@]}"; do
  case "$t" in
    fuzz_trace|fuzz_frame) dir=sim/fuzz ;;
    fuzz_scenario_file) dir=scenarios/fuzz ;;
    *) dir=core/fuzz ;;
  esac
  fuzzer="$MARLLB_ROOT/build/fuzz/$dir/$t" corpus="$MARLLB_ROOT/$dir/corpus/$t"
  new="$(mktemp -d)" log="$(mktemp)"
  before=$(find "$corpus" -type f | wc -l)
  say "fuzzing $t for $seconds s"
  rc=0
  "$MARLLB_ROOT/core/fuzz/run_fuzzer.sh" "$fuzzer" "$corpus" "$seconds" \
    "$MARLLB_ROOT/build/fuzz/artifacts/$t" "$new" 2> >(tee "$log" >&2) || rc=$?
  wait # the tee
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  if [ "$rc" -eq 0 ]; then
    # Keep only the inputs that add coverage to the committed corpus.
    "$fuzzer" -merge=1 "$corpus" "$new" >/dev/null 2>&1 || { say "merging new inputs for $t failed"; rc=1; status=1; }
  else
    status=1
  fi
  after=$(find "$corpus" -type f | wc -l)
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$(git_commit),$cpu_model,$(uname -r),$t,$seconds,${execs:-0},${rate:-0},${cov:-0},${ft:-0},$before,$after,$([ "$rc" -eq 0 ] && echo ok || echo "fail($rc)")" >>"$csv"
  say "$t: ${execs:-0} executions, cov ${cov:-?} edges, ft ${ft:-?}, corpus $before -> $after, exit $rc"
  rm -rf "$new" "$log"
done
[ $status -eq 0 ] && say "fuzzing: no target failed; rows in $csv" || say "fuzzing: a target FAILED (crashing inputs in build/fuzz/artifacts/)"
exit $status
