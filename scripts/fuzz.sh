#!/usr/bin/env bash
# Long fuzzing runs: builds the libFuzzer targets (clang, ASan+UBSan) and runs each for
# SECONDS on its committed seed corpus. Crashing inputs are kept in build/fuzz/artifacts/.
# Inputs that reach new coverage are merged (libFuzzer -merge=1) into OUT/corpus/<target>/, a
# copy of the committed corpus, or with --update-corpus into the committed corpus itself. One
# row per target goes to OUT/fuzz.csv: executions, coverage (edges, features), corpus size
# before and after, and the target's exit status. Non-zero if any target failed.
#
#   scripts/fuzz.sh [--out DIR] [--update-corpus] [SECONDS] [TARGET ...]   default: 600 s each, all targets
#     --out            default: a run folder of its own, results/runs/<UTC time>-<pid>/ (git ignores
#                      it); the committed rows are in results/fuzz (--out results/fuzz adds to them)
#     --update-corpus  merge the new inputs into the committed corpora (sim/fuzz/corpus, ...)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
out="" update=0 positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage_error "--out needs a directory"; out="$2"; shift 2 ;;
    --update-corpus) update=1; shift ;;
    -*) usage_error "unknown option '$1' (see --help)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
set -- "${positional[@]}"
seconds="${1:-600}"; shift || :
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage_error "SECONDS must be a positive whole number, not '$seconds' (see --help)"
all=(fuzz_region_image fuzz_action fuzz_trace fuzz_frame fuzz_scenario_file)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || usage_error "no fuzz target '$t' (known: ${all[*]})"
done
new_run_id
[ -n "$out" ] || out="$(default_run_dir)"
check_out_dir "$out"
csv="$out/fuzz.csv"
header="run_id,date,git_commit,cpu_model,kernel,target,seconds,execs,execs_per_s,cov_edges,features,corpus_before,corpus_after,status"
check_csv_header "$csv" "$header"
"$MARLLB_ROOT/scripts/setup.sh" fuzz >&2
mkdir -p "$out"
[ -s "$csv" ] || echo "$header" >"$csv"
cpu_model="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1 | tr ',' ' ')"
status=0
for t in "${targets[@]}"; do
  case "$t" in
    fuzz_trace|fuzz_frame) dir=sim/fuzz ;;
    fuzz_scenario_file) dir=scenarios/fuzz ;;
    *) dir=core/fuzz ;;
  esac
  fuzzer="$MARLLB_ROOT/build/fuzz/$dir/$t" seeds="$MARLLB_ROOT/$dir/corpus/$t" corpus="$MARLLB_ROOT/$dir/corpus/$t"
  if [ "$update" -eq 0 ]; then # merged into a copy: the checkout stays as it is
    corpus="$out/corpus/$t"
    mkdir -p "$corpus" && cp -r "$seeds/." "$corpus/"
  fi
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
    # Keep only the inputs that add coverage to the corpus.
    "$fuzzer" -merge=1 "$corpus" "$new" >/dev/null 2>&1 || { say "merging new inputs for $t failed"; rc=1; status=1; }
  else
    status=1
  fi
  after=$(find "$corpus" -type f | wc -l)
  echo "$MARLLB_RUN_ID,$(date -u +%Y-%m-%dT%H:%M:%SZ),$(git_commit),$cpu_model,$(uname -r),$t,$seconds,${execs:-0},${rate:-0},${cov:-0},${ft:-0},$before,$after,$([ "$rc" -eq 0 ] && echo ok || echo "fail($rc)")" >>"$csv"
  say "$t: ${execs:-0} executions, cov ${cov:-?} edges, ft ${ft:-?}, corpus $before -> $after, exit $rc"
  rm -rf "$new" "$log"
done
[ $status -eq 0 ] && say "fuzzing: no target failed; rows in $csv, corpora in $([ "$update" -eq 1 ] && echo "the checkout" || echo "$out/corpus")" || say "fuzzing: a target FAILED (crashing inputs in build/fuzz/artifacts/)"
exit $status
