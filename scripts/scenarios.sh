#!/usr/bin/env bash
# Runs the scenario suite and draws its figures.
#
#   scripts/scenarios.sh [--profile quick|full|budget] [--out DIR]
#
# quick (CI-sized, a few minutes): short runs of every scenario; full (~25 min): the runs
# whose rows and figures are committed in results/scenarios; budget (~10 min): only the cold
# budget of the production cadence, 1,000 events each (reactive; plain, rehearsed, rehearsed on
# huge pages when root), each beside its null event. Every row is judged against
# scenarios/targets.toml: ok, miss (a target missed), fail (an invariant broken: a torn
# observation accepted, loss accounting off or unlike the ring-of-4 replay, a recovery that
# never happens), unavailable. Rows go to <out>/<scenario>.csv, figures to <out>/*.png
# (marllb.plots.scenarios); the default out is results/scenarios (the committed rows), for
# quick build/scenarios-quick, emptied first. The script ends with the summary of this run's rows
# (marllb.tools.scenarios_summary): every miss and fail; it exits 1 on any fail or failed
# command, 0 when targets were only missed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"

profile=quick
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
case "$profile" in quick|full|budget) ;; *) usage_error "--profile must be quick, full or budget" ;; esac
[ -n "$out" ] || out="$MARLLB_ROOT/results/scenarios"
if [ "$profile" = quick ] && [ "$out" = "$MARLLB_ROOT/results/scenarios" ]; then
  # A scratch folder of the build tree: emptied, so rows of an older column set never stop the run.
  out="$MARLLB_ROOT/build/scenarios-quick"
  rm -rf "$out"
fi
check_out_dir "$out"

"$MARLLB_ROOT/scripts/setup.sh" release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
bin="$MARLLB_ROOT/build/release/scenarios"
mkdir -p "$out"
common=(--out "$out" --profile "$profile" --quiet)
since="$(date -u +%Y-%m-%dT%H:%M:%SZ)" # the summary covers the rows of this run only
status=0
run() { say "$*"; "$@" || { say "FAILED: $*"; status=1; }; }

# The cold budget: 1,000 events at the production cadence (200 s), each stage beside the null
# event's; rehearsed 50 us ahead on both sides; and on huge pages (root only).
budget() {
  run "$bin/marllb-scenario-cadence" "${common[@]}" --seconds "$1" --regime reactive
  run "$bin/marllb-scenario-cadence" "${common[@]}" --seconds "$1" --regime reactive --rehearse-us 50
  if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
    run "$MARLLB_ROOT/scripts/hugepages.sh" -- "$bin/marllb-scenario-cadence" "${common[@]}" --seconds "$1" --regime reactive \
        --rehearse-us 50 --hugepages {}
  else
    say "huge pages need root: the rehearsed run on huge pages is skipped"
  fi
}
if [ "$profile" = budget ]; then
  budget 200
  run /usr/bin/python3 -m marllb.tools.scenarios_summary "$out" --since "$since"
  exit $status
fi
if [ "$profile" = quick ]; then
  run "$bin/marllb-scenario-cadence" "${common[@]}" --seconds 2
  run "$bin/marllb-scenario-cadence" "${common[@]}" --seconds 2 --regime reactive --prefetch
  budget 2
  run "$bin/marllb-scenario-wrap" "${common[@]}" --seconds 0.5 --ratios 1,2,4,8
  run "$bin/marllb-scenario-maxrate" "${common[@]}" --seconds 0.5
  run "$bin/marllb-scenario-crash" "${common[@]}" --lb-kills 20 --agent-kills 3 --publish-ms 20 --heartbeat-ms 20 --read-ms 50
  run "$bin/marllb-scenario-scale" "${common[@]}" --regions 1,8,64 --seconds 0.5
  place_seconds=1; pipe_seconds=6; kill_at=2; restart_at=3.5
else
  run "$bin/marllb-scenario-cadence" "${common[@]}" --seconds 120
  run "$bin/marllb-scenario-cadence" "${common[@]}" --seconds 120 --regime reactive --prefetch
  budget 200
  run "$bin/marllb-scenario-wrap" "${common[@]}" --seconds 10 --ratios 1,1.5,2,3,4,6,8,16
  run "$bin/marllb-scenario-maxrate" "${common[@]}" --seconds 10
  run "$bin/marllb-scenario-crash" "${common[@]}" --lb-kills 1000 --agent-kills 50
  run "$bin/marllb-scenario-scale" "${common[@]}" --regions 1,2,4,8,16,32,64 --seconds 5
  place_seconds=30; pipe_seconds=20; kill_at=3; restart_at=5
fi
# Placement: every class x memory binding (a class this machine lacks gives an "unavailable" row).
for cls in smt same-package cross-numa; do
  for mb in writer reader interleave; do
    run "$bin/marllb-scenario-cadence" "${common[@]}" --name placement --regime reactive --seconds "$place_seconds" \
        --placement "$cls" --mem-bind "$mb"
  done
done
# The full simulated system as a scenario (its rows use marllb-sim's schema).
run /usr/bin/python3 -m marllb.tools.pipeline --duration "$pipe_seconds" --kill-agent-at "$kill_at" --restart-agent-at "$restart_at" \
    --check --out "$out/pipeline" --no-plot
run /usr/bin/python3 -m marllb.plots.scenarios "$out"
run /usr/bin/python3 -m marllb.tools.scenarios_summary "$out" --since "$since"
[ $status -eq 0 ] && say "scenarios ($profile): all invariants held; rows and figures in $out" || say "scenarios ($profile): FAILED (see above)"
exit $status
