#!/usr/bin/env bash
# The reported RL runs (docs/rl.md): trains one agent per (server set, LBs) and evaluates them
# all against the heuristics.
#
#   scripts/rl_runs.sh [--episodes N] [--only train|evaluate|longer|weights] [--out DIR (default results/rl)]
#
#   results/rl/train-<servers>-lbs<N>/   rl/train.py for [1,1,1,1,2,2,2] (marllb7) and the 24-server
#                                        set (marllb24), with 1 LB and with 2 (one independent agent
#                                        per LB), Poisson loads 0.85 and 0.95 in turn, 100 steps an
#                                        episode, --episodes episodes (default 300); resumes a run
#                                        whose checkpoint is there. A folder with a run's results
#                                        but no checkpoint (a clone holds the committed runs without
#                                        theirs) is refused, not trained over: give --out elsewhere
#   results/rl/eval.csv, eval_summary.csv, eval.png
#                                        rl/evaluate.py on those four runs: 7 seeds, 150 steps,
#                                        Poisson 0.85 and 0.95, and the rate_350 trace (unseen)
#   --only longer: results/rl/train-marllb24-lbs1-600/, train-marllb7-lbs2-600/, eval-600.csv,
#                  eval-600_summary.csv: those two runs copied (with their checkpoints) and resumed
#                  to 600 episodes, then evaluated on the same seeds (not part of the default)
#   --only weights: results/rl/policy_weights.txt, rl/policy_weights.py on every run there
# The four trainings run two at a time (lockstep: the results do not depend on the timing).
# The same trainings and evaluation as sweep files (a Slurm job array on a cluster):
# sweeps/rl-train.toml, sweeps/rl-evaluate.toml, run by scripts/sweep (docs/sweeps.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
episodes=300
only=""
rl="$MARLLB_ROOT/results/rl"
while [ $# -gt 0 ]; do
  case "$1" in
    --episodes) episodes="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    --out) rl="$2"; shift 2 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
case "$only" in ""|train|evaluate|longer|weights) ;; *) die "--only: use train, evaluate, longer or weights" ;; esac
train_one() { # servers, LBs, episodes, folder
  mkdir -p "$4"
  "$MARLLB_ROOT/scripts/train.sh" --out "$4" --servers "$1" --lbs "$2" \
    --load 0.85,0.95 --episodes "$3" --steps 100 >> "$4/train.log" 2>&1 ||
    { say "training $1 with $2 LB(s) failed: see $4/train.log"; return 1; }
}
train_queue() { # the LB count; both server sets, one after the other
  for servers in marllb7 marllb24; do
    train_one "$servers" "$1" "$episodes" "$rl/train-$servers-lbs$1" || return 1
  done
}
if [ "$only" = longer ]; then
  for run in marllb24-lbs1 marllb7-lbs2; do
    [ -f "$rl/train-$run/checkpoint.pt" ] || die "$rl/train-$run has no checkpoint.pt: train first (scripts/rl_runs.sh --only train)"
    [ -d "$rl/train-$run-600" ] || cp -r "$rl/train-$run" "$rl/train-$run-600"
    train_one "${run%-lbs*}" "${run#*-lbs}" 600 "$rl/train-$run-600" || die "the longer training of $run failed"
  done
  exec "$MARLLB_ROOT/scripts/evaluate.sh" --runs "$rl"/train-marllb24-lbs1-600 "$rl"/train-marllb7-lbs2-600 \
    --seeds 7 --steps 150 --csv "$rl/eval-600.csv" --summary "$rl/eval-600_summary.csv"
fi
if [ "$only" = weights ]; then
  source "$MARLLB_ROOT/scripts/rl_env.sh"
  cd "$MARLLB_ROOT"
  mapfile -t runs < <(realpath --relative-to=. "$rl"/train-*/)
  { echo "# scripts/rl_runs.sh --only weights: rl/policy_weights.py ${runs[*]}, $(date -u +%F), commit $(git_commit)"
    "$PY" rl/policy_weights.py "${runs[@]}"; } > "$rl/policy_weights.txt" ||
    die "rl/policy_weights.py failed"
  exit 0
fi
if [ "$only" != evaluate ]; then
  set -m # each queue in its own process group, stopped as a whole by its pid
  train_queue 1 & one=$!
  train_queue 2 & two=$!
  set +m
  trap 'kill -- -"$one" -"$two" 2>/dev/null; exit 143' INT TERM
  ok=0
  wait "$one" || ok=1
  wait "$two" || ok=1
  trap - INT TERM
  [ "$ok" -eq 0 ] || die "a training failed (logs in $rl)"
fi
if [ "$only" != train ]; then
  "$MARLLB_ROOT/scripts/evaluate.sh" --runs "$rl"/train-marllb7-lbs1 "$rl"/train-marllb7-lbs2 \
    "$rl"/train-marllb24-lbs1 "$rl"/train-marllb24-lbs2 --seeds 7 --steps 150 \
    --csv "$rl/eval.csv" --summary "$rl/eval_summary.csv" --figure "$rl/eval.png"
fi
