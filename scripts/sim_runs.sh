#!/usr/bin/env bash
# The reported runs of the simulated world and LB (docs/sim.md): rows appended to
# results/sim/<name>.csv.
#
#   scripts/sim_runs.sh [--out DIR] [--only flood|policies|trace|memif|paths|dynamics]
#
#   flood.csv     LB throughput on 64-byte frames against the bare rx->tx handoff of the same run,
#                 with the LB lcore's busy share, its capacity (frames / busy time), the
#                 generator's rate and a status (ok: the LB was saturated, <= 5 % empty polls):
#                 7 servers (publish every 200 ms, three runs: the spread is the host's); 64
#                 servers and 65,536 concurrent flows in a table that holds them (2^16 buckets),
#                 three runs, and 60 s each with and without the slot prefetched before each
#                 publish (--warm-us 100 / 0: the publish call in the production regime); 64
#                 servers at 200 ms and at 200 us (the publish cost of 64 servers x 2 metrics x
#                 128 samples), and 200 us with raw reservoirs
#   policies.csv  ECMP, WCMP, LSQ, SED on MARLLB's [1,1,1,1,2,2,2] at 85 % load, lockstep, 300 s,
#                 under each LB model (--lb-model marllb, the default, and clean)
#   trace.csv     replay of the MARLLB trace at 350 flows/s, lockstep, 120 s, SED, each LB model
#   memif-ring.csv, memif-world.csv, memif-lb.csv
#                 the flood (7 servers, 3 s per phase, three runs) in one process over net_ring and,
#                 right after each, as two processes over net_memif (--role world / --role lb; the
#                 world's and the LB's rows); root (memif without huge pages)
#   paths-ring.csv, paths-memif.csv, paths-afp.csv
#                 one real-time run (7 servers, SED, 20 s, seed 1, three runs) in one process over
#                 net_ring, then as two processes over net_memif and over net_af_packet on veth
#                 pairs in network namespaces (scripts/veth.sh; the world's rows, which carry the
#                 LB's counters); root
#   dynamics.csv  WCMP, LSQ and SED where their knowledge is wrong (docs/sim.md, "Dynamics"), on
#                 marllb7 at 85 % load, lockstep, 120 s, seeds 1-3: the servers as provisioned
#                 (the reference); the 2-core servers really at 1.5 (--provisioned 2x); every
#                 server provisioned at 1 (a hand-set equal weight); bounded-Pareto work
#                 (pareto:1.2) and lognormal:2; the 2-core servers throttled to 0.5 in turn
#                 (sim/events/drift-marllb7.csv)
# Rows written before the LB models existed (another column set) are in results/sim/before-lb-models/,
# flood rows written before the busy share and the status in results/sim/before-flood-status/, before the backlog share in before-backlog/,
# and every row written before the run_id column in results/sim/before-run-id/.
# The same grids as sweep files (resumable, several at a time, or a Slurm job array; rows in
# results/sweeps/): sweeps/sim-policies.toml, sim-trace.toml, sim-flood.toml,
# sim-flood-publish.toml, run by scripts/sweep (docs/sweeps.md).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
out="$MARLLB_ROOT/results/sim"
only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) usage_error "unknown option '$1' (see --help)" ;;
  esac
done
"$MARLLB_ROOT/scripts/setup.sh" release >&2
export MARLLB_GIT_COMMIT="$(git_commit)"
sim="$MARLLB_ROOT/build/release/sim/apps/marllb-sim"
s64=$(printf '1,%.0s' $(seq 64)); s64=${s64%,}
mkdir -p "$out"
case "$only" in ""|flood|policies|trace|memif|paths|dynamics) ;; *) usage_error "--only takes flood, policies, trace, memif, paths or dynamics, not '$only'" ;; esac
if [ -z "$only" ] || [ "$only" = memif ] || [ "$only" = paths ]; then
  [ "$(id -u)" -eq 0 ] || usage_error "--only $only (and a full run) starts memif and af_packet processes: run as root"
fi
set -x
if [ -z "$only" ] || [ "$only" = flood ]; then
  for run in 1 2 3; do "$sim" --flood --flood-seconds 5 --csv "$out/flood.csv"; done
  for run in 1 2 3; do
    "$sim" --flood --flood-seconds 5 --servers "$s64" --flood-flows 65536 --buckets-log2 16 --csv "$out/flood.csv"
  done
  # The production regime: the LB lcore saturated between publishes every 200 ms, 300 publishes,
  # with the next slot prefetched 100 us before each (the default) and without.
  for warm in 100 0; do
    "$sim" --flood --flood-seconds 60 --servers "$s64" --flood-flows 65536 --buckets-log2 16 --warm-us "$warm" \
      --csv "$out/flood.csv"
  done
  "$sim" --flood --flood-seconds 5 --servers "$s64" --csv "$out/flood.csv"
  "$sim" --flood --flood-seconds 5 --servers "$s64" --publish-us 200 --csv "$out/flood.csv"
  "$sim" --flood --flood-seconds 5 --servers "$s64" --publish-us 200 --raw-reservoirs --csv "$out/flood.csv"
fi
if [ -z "$only" ] || [ "$only" = policies ]; then
  for m in marllb clean; do
    for p in ecmp wcmp lsq sed; do
      "$sim" --lockstep --duration 300 --lb-model "$m" --policy "$p" --servers marllb7 --load 0.85 --quiet --no-region \
        --csv "$out/policies.csv"
    done
  done
fi
if [ -z "$only" ] || [ "$only" = trace ]; then
  for m in marllb clean; do
    "$sim" --lockstep --duration 120 --lb-model "$m" --trace "$MARLLB_ROOT/sim/traces/poisson_for_loop_rate_350.csv" \
      --quiet --no-region --csv "$out/trace.csv"
  done
fi
if [ -z "$only" ] || [ "$only" = memif ]; then
  sock="$(mktemp -u /tmp/marllb_sim_runs_XXXXXX.sock)"
  for run in 1 2 3; do
    "$sim" --flood --flood-seconds 3 --csv "$out/memif-ring.csv"
    "$sim" --role world --memif "$sock" --flood --flood-seconds 3 --connect-timeout-s 60 --csv "$out/memif-world.csv" &
    world=$!
    "$sim" --role lb --memif "$sock" --flood --connect-timeout-s 60 --csv "$out/memif-lb.csv"
    wait "$world"
  done
fi
if [ -z "$only" ] || [ "$only" = paths ]; then
  sock="$(mktemp -u /tmp/marllb_sim_runs_XXXXXX.sock)"
  ns="p$$"; ns="${ns:0:8}"
  trap '"$MARLLB_ROOT/scripts/veth.sh" down "$ns"' EXIT
  "$MARLLB_ROOT/scripts/veth.sh" up "$ns"
  rt=(--duration 20 --policy sed --servers marllb7 --seed 1 --quiet --no-region)
  for run in 1 2 3; do
    "$sim" "${rt[@]}" --csv "$out/paths-ring.csv"
    "$sim" --role world --memif "$sock" "${rt[@]}" --connect-timeout-s 60 --csv "$out/paths-memif.csv" &
    world=$!
    "$sim" --role lb --memif "$sock" --policy sed --servers marllb7 --quiet --no-region --connect-timeout-s 60
    wait "$world"
    ip netns exec "$ns-world" "$sim" --role world --af-packet mw-in,mw-out "${rt[@]}" --connect-timeout-s 60 \
      --csv "$out/paths-afp.csv" &
    world=$!
    ip netns exec "$ns-lb" "$sim" --role lb --af-packet ml-in,ml-out --policy sed --servers marllb7 --quiet --no-region \
      --connect-timeout-s 60
    wait "$world"
  done
fi
if [ -z "$only" ] || [ "$only" = dynamics ]; then
  # cell: servers | provisioned | work | events (- for none)
  for cell in "1,1,1,1,2,2,2|1,1,1,1,2,2,2|exp|-" "1,1,1,1,1.5,1.5,1.5|1,1,1,1,2,2,2|exp|-" \
              "1,1,1,1,2,2,2|1,1,1,1,1,1,1|exp|-" "1,1,1,1,2,2,2|1,1,1,1,2,2,2|pareto:1.2|-" \
              "1,1,1,1,2,2,2|1,1,1,1,2,2,2|lognormal:2|-" "1,1,1,1,2,2,2|1,1,1,1,2,2,2|exp|sim/events/drift-marllb7.csv"; do
    IFS='|' read -r servers provisioned work events <<< "$cell"
    ev=(); [ "$events" = - ] || ev=(--events "$MARLLB_ROOT/$events")
    for seed in 1 2 3; do
      for p in wcmp lsq sed; do
        "$sim" --lockstep --duration 120 --load 0.85 --seed "$seed" --policy "$p" --servers "$servers" \
          --provisioned "$provisioned" --work "$work" "${ev[@]}" --quiet --no-region --csv "$out/dynamics.csv"
      done
    done
  done
fi
