#!/usr/bin/env bash
# The CI regression gate: an A/B on this machine. Builds the reference commit named in
# bench/gate-reference (the last landed main) beside the candidate (this tree), runs the two
# benchmark suites in interleaved rounds (candidate, reference, reference, candidate, ...: a
# change of the host's state during the run, such as a neighbour's build, hits both sides
# alike) and judges each rule of bench/gate.toml by the candidate's ratio against the
# reference's from the same run (marllb.tools.bench_compare: margin and U test as before).
# Exit 1 names the rules that regressed; 2 is input the gate could not use.
#
# Without a reference build (no history: a shallow clone; the commit's build failed) it falls
# back to a baseline measured on this CPU model, results/bench/baselines/<cpu-model>.csv; with
# none for this CPU the timing rules say "no baseline for <cpu>" and only the exact rules
# (torn, lost) gate. A baseline from another CPU measures the CPU, not the code.
#
# A failing comparison is run once more from scratch (--tries 2): a real regression fails
# both, a disturbed run rarely fails twice; a passing run costs nothing extra.
#
#   scripts/bench_gate.sh [--reference REV | --baseline FILE] [--rounds N] [--round-reps K]
#                         [--tries N] [--build DIR] [--csv FILE --label TEXT] [--rules R1,R2]
#                         [--no-table] [bench.sh options: --suites, --*-filter, --cpus]
#     --reference   the commit to compare with (default: the hash in bench/gate-reference)
#     --baseline    compare with a benchmark CSV instead (no A/B)
#     --rounds      interleaved rounds per side (default 3) of --round-reps repetitions (3):
#                   9 repetitions per side in all, as the U test has always had
#     --build       the candidate's build tree (default build/release, built by setup.sh)
#     --round-timeout  seconds one side's round may take (default 900): a benchmark that hangs
#                   fails the candidate (exit 1) or leaves the reference unusable (exit 2)
#     --reference-build DIR  the reference's build tree, built already (skips the build)
#     --csv, --label, --rules, --no-table: passed to marllb.tools.bench_compare (scripts/gate_series.sh)
#     --keep DIR    copy each try's benchmark CSVs (ref.csv, cand.csv) into DIR/try-N, to study
#                   the repetitions behind a verdict (scripts/gate_series.sh keeps every run's)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
usage() { printf '[marllb] error: %s (scripts/bench_gate.sh --help)\n' "$*" >&2; exit 2; }
round_timeout=900 keep="" reference="" ref_given="" baseline="" rounds=3 round_reps=3 tries=2 cand_build="" compare_args=() bench_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --reference|--baseline|--rounds|--round-reps|--tries|--build|--reference-build|--round-timeout|--keep|--csv|--label|--rules)
      [ $# -ge 2 ] || usage "$1 needs a value" ;;&
    --reference) reference="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --round-reps) round_reps="$2"; shift 2 ;;
    --tries) tries="$2"; shift 2 ;;
    --round-timeout) round_timeout="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    --build) cand_build="$2"; shift 2 ;;
    --reference-build) ref_given="$2"; shift 2 ;;
    --csv|--label|--rules) compare_args+=("$1" "$2"); shift 2 ;;
    --no-table) compare_args+=("$1"); shift ;;
    --out|--repetitions|--commit) usage "$1 is set by the gate itself" ;;
    *) bench_args+=("$1"); shift ;;
  esac
done
for n in "$rounds" "$round_reps" "$tries" "$round_timeout"; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage "'$n' is not a positive count"; done
[ -z "$reference" ] || [ -z "$baseline" ] || usage "--reference and --baseline are two different comparisons: give one"
[ -z "$baseline" ] || [ -f "$baseline" ] || usage "no baseline file $baseline"
[ -z "$keep" ] || { mkdir -p "$keep" 2>/dev/null && [ -w "$keep" ]; } || usage "cannot write --keep into $keep"
for ((i = 0; i < ${#compare_args[@]}; i++)); do
  if [ "${compare_args[$i]}" = --csv ]; then
    d="$(dirname "${compare_args[$((i + 1))]}")"
    mkdir -p "$d" 2>/dev/null && [ -w "$d" ] || usage "cannot write --csv into $d"
  fi
done

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
cpu="${cpu:-unknown}"
cpu_slug="$(printf '%s' "$cpu" | tr 'A-Z' 'a-z' | sed -E 's/\((r|tm)\)//g; s/[^a-z0-9]+/-/g; s/^-+|-+$//g')"
cand_commit="$(git_commit)"
if git -C "$MARLLB_ROOT" rev-parse --git-dir >/dev/null 2>&1 && ! git -C "$MARLLB_ROOT" diff --quiet HEAD -- 2>/dev/null; then
  cand_commit="$cand_commit+changes" # the work tree differs from HEAD
fi

# The reference: REV's source from git (git archive), configured with the release preset and
# built (the three bench binaries only) in build/gate-ref-<commit>/; an existing build of the
# same commit is reused (ninja's no-op). Prints the build dir; non-zero with the reason on
# stderr when it cannot be had.
build_reference() {
  local rev="$1" dir="$MARLLB_ROOT/build/gate-ref-${1:0:12}" log
  mkdir -p "$dir" || return 1
  log="$dir/build.log"
  if [ ! -f "$dir/src/.gate-ref" ] || [ "$(cat "$dir/src/.gate-ref")" != "$rev" ]; then
    rm -rf "$dir/src" "$dir/src.tmp" "$dir/build" && mkdir -p "$dir/src.tmp" || return 1
    git -C "$MARLLB_ROOT" archive --format=tar "$rev" | tar -x -C "$dir/src.tmp" \
      || { say "git archive of $rev failed"; return 1; }
    echo "$rev" > "$dir/src.tmp/.gate-ref" && mv "$dir/src.tmp" "$dir/src" || return 1
  fi
  say "building the reference ${rev:0:12} (bench_core, bench_ipc, bench_sim) in $dir/build"
  if [ ! -f "$dir/build/build.ninja" ]; then
    (cd "$dir/src" && cmake --preset release -B "$dir/build") >"$log" 2>&1 \
      || { say "configuring the reference failed: $log"; return 1; }
  fi
  nice cmake --build "$dir/build" --target bench_core bench_ipc bench_sim >>"$log" 2>&1 \
    || { say "building the reference failed: $log"; return 1; }
  echo "$dir/build"
}

mode="" ref_build="" ref_rev=""
if [ -n "$baseline" ]; then
  mode=csv
elif [ -n "$ref_given" ]; then # built by the caller: its commit is what --reference or the file says
  [ -x "$ref_given/bench/bench_core" ] || usage "--reference-build $ref_given has no bench/bench_core"
  spec="${reference:-$(head -1 "$MARLLB_ROOT/bench/gate-reference" 2>/dev/null || echo unknown)}"
  ref_rev="$(git -C "$MARLLB_ROOT" rev-parse --verify -q "${spec}^{commit}" 2>/dev/null || echo "$spec")"
  ref_build="$ref_given" mode=ab
else
  if [ -n "$reference" ]; then spec="$reference"
  else spec="$(head -1 "$MARLLB_ROOT/bench/gate-reference" 2>/dev/null || true)"; fi
  if ref_rev="$(git -C "$MARLLB_ROOT" rev-parse --verify -q "${spec}^{commit}" 2>/dev/null)"; then
    if ref_build="$(build_reference "$ref_rev")"; then mode=ab
    elif [ -n "$reference" ]; then usage "cannot build the reference $reference (see above)"
    else say "no reference build: falling back to a baseline of this CPU"; fi
  elif [ -n "$reference" ]; then usage "--reference $reference is not a commit of this clone"
  else say "the reference '${spec:-(bench/gate-reference is missing)}' is not in this clone's history (a shallow clone? git fetch --unshallow): falling back to a baseline of this CPU"
  fi
  if [ -z "$mode" ]; then
    baseline="$MARLLB_ROOT/results/bench/baselines/$cpu_slug.csv"
    if [ -f "$baseline" ]; then mode=csv; else mode=none; fi
  fi
fi

if [ -z "$cand_build" ]; then # the three bench binaries of this tree (a no-op when built)
  "$MARLLB_ROOT/scripts/setup.sh" --targets bench_core,bench_ipc,bench_sim release >&2
  cand_build="$MARLLB_ROOT/build/release"
fi
case "$mode" in
  ab) echo "gate: A/B on this machine ($cpu): candidate $cand_commit ($cand_build) against reference ${ref_rev:0:12} ($ref_build), $rounds interleaved rounds of $round_reps repetitions per side" ;;
  csv) echo "gate: candidate $cand_commit ($cand_build, $cpu) against the baseline CSV $baseline, 9 repetitions" ;;
  none) echo "gate: no baseline for $cpu (no reference build, no results/bench/baselines/$cpu_slug.csv): the timing rules are not judged, the exact rules (torn, lost) are" ;;
esac

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
# One gate run into $1: cand.csv (and ref.csv in A/B).
measure() {
  local dir="$1" k side jsons
  if [ "$mode" != ab ]; then
    timeout -k 10 "$round_timeout" "$MARLLB_ROOT/scripts/bench.sh" --out "$dir/cand" --build "$cand_build" "${bench_args[@]}" \
      || die "the candidate's benchmarks failed or did not end within $round_timeout s (see above)"
    cp "$dir/cand/bench.csv" "$dir/cand.csv"
    return
  fi
  for k in $(seq 1 "$rounds"); do
    local order="cand ref"
    [ $((k % 2)) -eq 1 ] || order="ref cand" # ABBA: neither side always runs first
    for side in $order; do
      say "round $k of $rounds: $([ "$side" = cand ] && echo candidate || echo reference)"
      if [ "$side" = cand ]; then
        timeout -k 10 "$round_timeout" "$MARLLB_ROOT/scripts/bench.sh" --out "$dir/cand/$k" --build "$cand_build" \
          --repetitions "$round_reps" --commit "$cand_commit" "${bench_args[@]}" \
          || die "the candidate's benchmarks failed or did not end within $round_timeout s (see above)"
      else
        timeout -k 10 "$round_timeout" "$MARLLB_ROOT/scripts/bench.sh" --out "$dir/ref/$k" --build "$ref_build" \
          --repetitions "$round_reps" --commit "${ref_rev:0:12}" "${bench_args[@]}" \
          || usage "the reference's benchmarks failed or did not end within $round_timeout s: it cannot be compared with (see above)"
      fi
    done
  done
  for side in cand ref; do
    jsons=()
    for k in $(seq 1 "$rounds"); do jsons+=("$dir/$side/$k"/bench_*.json); done
    /usr/bin/python3 -m marllb.tools.bench_to_csv "$dir/$side.csv" "${jsons[@]}" >&2
  done
}

for try in $(seq 1 "$tries"); do
  rm -rf "${out:?}"/* && mkdir -p "$out/run"
  load_before="$(cut -d' ' -f1 /proc/loadavg)" mark="$(cpu_mark)"
  measure "$out/run"
  # Other work on the machine: what the interleaving is meant to cancel (docs/benchmarks.md).
  share="$(others_share "$mark")"
  echo "host: other processes used $share % of the $(nproc) CPUs during the suites (load average $load_before before, $(cut -d' ' -f1 /proc/loadavg) after)"
  if [ "$share" -ge 25 ]; then
    echo "HOST BUSY: the interleaving does not cancel that much (docs/benchmarks.md): the timing verdicts below measure the host as much as the code; judge on a quiet machine"
  fi
  [ -z "$keep" ] || { mkdir -p "$keep/try-$try" && cp "$out/run/"*.csv "$keep/try-$try/"; } || die "cannot copy the CSVs into $keep"
  rc=0
  compare=(/usr/bin/python3 -m marllb.tools.bench_compare --gate "$MARLLB_ROOT/bench/gate.toml") # this tree's rules
  case "$mode" in
    ab) "${compare[@]}" "$out/run/ref.csv" "$out/run/cand.csv" "${compare_args[@]}" || rc=$? ;;
    csv) "${compare[@]}" "$baseline" "$out/run/cand.csv" "${compare_args[@]}" || rc=$? ;;
    none) "${compare[@]}" --no-baseline "$out/run/cand.csv" "${compare_args[@]}" || rc=$? ;;
  esac
  [ $rc -eq 1 ] || exit $rc # passed, or unusable input
  [ "$try" -lt "$tries" ] && say "gate failed on try $try of $tries: running the suites again"
done
exit 1
