#!/usr/bin/env bash
# Mutation check of the whole suite: plants one known fault at a time in a scratch copy of
# the committed sources (a git worktree at HEAD; this tree is never touched), rebuilds, and
# runs the checks that should catch it (a ctest selection, or the benchmark gate). A mutant
# is "caught" when that check fails. One row per mutant goes to OUT/mutants.csv (mutant,
# what caught it, seconds); the summary lists any mutant that survived. Exit 0 only if
# every mutant was caught and every mutation applied (a mutation whose source line is gone
# is an error: the table must follow the code).
#
#   scripts/mutants.sh [--out DIR] [--only NAME[,NAME...]] [--keep]
#     --out    default: a run folder of its own, results/runs/<UTC time>-<pid>/ (git ignores
#              it); the committed rows are in results/mutants (--out results/mutants adds to them)
#     --only   run these mutants only
#     --keep   keep the scratch worktree and its build (faster next time)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
out="" only="" keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage_error "--out needs a directory"; out="$2"; shift 2 ;;
    --only) [ $# -ge 2 ] || usage_error "--only needs mutant names"; only=",$2,"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done

# name | file | exact text | replacement | how it is caught: "ctest:REGEX" or "gate:RULE"
# (a literal bar is written \|, a line end <NL>)
mutants=(
  "seqlock_no_recheck|core/src/seqlock.hpp|    return load_relaxed(lock) == expected;               // R3|    return true; // R3 dropped|ctest:^core\.stress\.threads"
  "publish_before_copy|core/src/lb_region.cpp|    write_begin(&slot.lock, 2 * seq - 1);<NL>|    write_end(&slot.lock, 2 * seq); store_release(&map_.ring()->published_seq, seq);<NL>|ctest:^core\.stress\.threads"
  "lost_off_by_one|core/src/agent_region.cpp|            lost += p - (MARLLB_RING_SLOTS - 1) - next;|            lost += p - MARLLB_RING_SLOTS - next;|ctest:^core\.(randomized interleavings|in-order mode|stress\.wrap)"
  "no_alias_index_check|core/src/action.cpp|        if (a.alias_table[i].alias >= n) return MARLLB_ACTION_ALIAS_INDEX_RANGE;|        if (a.alias_table[i].alias >= 64) return MARLLB_ACTION_ALIAS_INDEX_RANGE;|ctest:^core\.(each invalid|randomized: corrupted)"
  "no_generation_bump|core/src/lb_region.cpp|    generation_ = load_relaxed(\&h->generation) + 1;|    generation_ = load_relaxed(\&h->generation);|ctest:^core\.(reopen|a restarted)"
  "reservoir_never_replaced|sim/src/features.cpp|        if (mode == ReservoirMode::random_replacement) slot = unsigned(rnd % kCap);|        if (mode == ReservoirMode::random_replacement) return;|ctest:^sim\.( random replacement|a full reservoir|running sums|features equal|Algorithm R)"
  "ps_full_speed|sim/src/servers.hpp|        return std::min(1.0, cores_ / double(active_.size()));|        return 1.0;|ctest:^sim\.(two jobs on one core|a 2-core server|fidelity)"
  "poll_accepts_older_action|core/src/lb_region.cpp|    } else if (copy.msg.sequence_id > applied_seq_ \|\||    } else if (copy.msg.sequence_id != applied_seq_ \|\||ctest:^core\.(the action slot|an invalid action|a restarted|an agent that died)"
  "copy_twice_as_slow|core/src/seqlock.hpp|    for (std::size_t i = 0; i < bytes / 8; ++i) __atomic_store_n(d + i, s[i], __ATOMIC_RELAXED);|    for (int twice = 0; twice < 2; ++twice) for (std::size_t i = 0; i < bytes / 8; ++i) __atomic_store_n(d + i, s[i], __ATOMIC_RELAXED);|gate:publish_vs_word_copy"
)

if [ -n "$only" ]; then
  known=",$(for m in "${mutants[@]}"; do printf '%s,' "${m%%|*}"; done)"
  for n in ${only//,/ }; do [[ "$known" == *",$n,"* ]] || usage_error "--only: no mutant named '$n' (known:${known//,/ })"; done
fi
new_run_id
[ -n "$out" ] || out="$(default_run_dir)"
check_out_dir "$out"
csv="$out/mutants.csv"
header="run_id,date,git_commit,mutant,file,check,caught,by,seconds"
check_csv_header "$csv" "$header"
scratch="$MARLLB_ROOT/build/mutants-src"
build="$scratch/build/release"
if [ ! -d "$scratch/.git" ] && [ ! -f "$scratch/.git" ]; then
  git -C "$MARLLB_ROOT" worktree add --detach -f "$scratch" HEAD >/dev/null || die "cannot make a scratch worktree in $scratch"
else
  git -C "$scratch" checkout -q --detach "$(git -C "$MARLLB_ROOT" rev-parse HEAD)" || die "cannot check out HEAD in $scratch"
  git -C "$scratch" checkout -q -- . || die "cannot reset $scratch"
fi
cleanup() {
  git -C "$scratch" checkout -q -- . 2>/dev/null || :
  if [ "$keep" -eq 0 ]; then git -C "$MARLLB_ROOT" worktree remove --force "$scratch" 2>/dev/null || :; fi
}
trap cleanup EXIT
"$MARLLB_ROOT/scripts/setup.sh" >/dev/null 2>&1 || : # packages only; the build is the scratch tree's
say "building the unmutated scratch tree"
(cd "$scratch" && cmake --preset release >/dev/null && cmake --build --preset release >/dev/null) || die "the unmutated tree does not build"
# The gate's mutants are judged against the unmutated tree measured on this machine (a
# baseline from another CPU would measure the CPU), before the first of them is planted: the
# hot operations' paired benchmarks, which every gate:RULE of the table reads.
gate_filter='BM_Paired/'
gate_base="$(mktemp -d)"
trap 'cleanup; rm -rf "$gate_base"' EXIT

mkdir -p "$out"
logs="$MARLLB_ROOT/build/mutants-logs" # each mutant's build and check output (not results)
mkdir -p "$logs"
[ -s "$csv" ] || echo "$header" >"$csv"
survivors=() errors=()
for m in "${mutants[@]}"; do
  IFS='|' read name file from to check <<<"$m" # no -r: '\|' is a literal bar
  [ -z "$only" ] || [[ "$only" == *",$name,"* ]] || continue
  started=$(date +%s)
  git -C "$scratch" checkout -q -- .
  if [[ "$check" == gate:* ]] && [ ! -s "$gate_base/bench.csv" ]; then
    say "measuring the unmutated tree for the gate's mutants"
    (cd "$scratch" && cmake --build --preset release >/dev/null) \
      && "$scratch/scripts/bench.sh" --build "$build" --out "$gate_base" --suites core --core-filter "$gate_filter" >/dev/null 2>&1 \
      || die "the unmutated tree's benchmarks did not run (scripts/bench.sh --suites core)"
  fi
  python3 - "$scratch/$file" "$from" "$to" <<'PY' || { errors+=("$name: its line is not in $file"); continue; }
import sys
path, old, new = (a.replace("<NL>", "\n") for a in sys.argv[1:])  # <NL> in the table: a line end
text = open(path).read()
if text.count(old) != 1:
    sys.exit(1)
open(path, "w").write(text.replace(old, new))
PY
  say "mutant $name ($file): checking with $check"
  caught=no by="-"
  if ! (cd "$scratch" && cmake --build --preset release >"$logs/$name.log" 2>&1); then
    # A mutant must compile to say anything about the checks: the table must follow the code.
    errors+=("$name: the mutated tree does not build (see $logs/$name.log)")
    continue
  elif [[ "$check" == ctest:* ]]; then
    regex="${check#ctest:}"
    if ! (cd "$scratch" && ctest --preset release -R "$regex" --timeout 300 >"$logs/$name.log" 2>&1); then
      caught=yes
      by="ctest: $(grep -E '\*\*\*Failed|\*\*\*Exception|Timeout' "$logs/$name.log" | head -1 | sed -E 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: //; s/ \.+.*//')"
    fi
  else
    rule="${check#gate:}" run_dir="$(mktemp -d)"
    if ! "$scratch/scripts/bench.sh" --build "$build" --out "$run_dir" --suites core \
         --core-filter "$gate_filter" >"$logs/$name.log" 2>&1; then
      rm -rf "$run_dir"
      errors+=("$name: the benchmark did not run (see $logs/$name.log)")
      continue
    fi
    grc=0
    /usr/bin/python3 -m marllb.tools.bench_compare --gate "$MARLLB_ROOT/bench/gate.toml" \
      "$gate_base/bench.csv" "$run_dir/bench.csv" --rules "$rule" >>"$logs/$name.log" 2>&1 || grc=$?
    rm -rf "$run_dir"
    # Caught only by a failed rule (exit 1) with a measured growth; 2 is input the gate could not judge.
    if [ $grc -eq 1 ] && grep -qE "^$rule +[0-9.e+-]+ +[0-9.e+-]+ +[0-9.e+-]+ .*FAIL" "$logs/$name.log"; then
      caught=yes by="gate: $rule"
    elif [ $grc -gt 1 ]; then
      errors+=("$name: the gate could not judge the run (exit $grc, see $logs/$name.log)")
      continue
    fi
  fi
  secs=$(( $(date +%s) - started ))
  echo "$MARLLB_RUN_ID,$(date -u +%Y-%m-%dT%H:%M:%SZ),$(git_commit),$name,$file,$check,$caught,${by//,/;},$secs" >>"$csv"
  say "mutant $name: caught=$caught by $by ($secs s)"
  [ "$caught" = yes ] || survivors+=("$name")
done
git -C "$scratch" checkout -q -- .
for e in "${errors[@]}"; do say "ERROR: $e"; done
for s in "${survivors[@]}"; do say "SURVIVED: $s"; done
[ ${#errors[@]} -eq 0 ] && [ ${#survivors[@]} -eq 0 ] && say "every mutant was caught; rows in $csv" && exit 0
exit 1
