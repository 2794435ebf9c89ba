#!/usr/bin/env bash
# Where the LB's time per ACK goes: BM_LbAckBurst (bench/bench_sim.cpp: ACKs of live flows in
# bursts of 32 through LoadBalancer::process_burst) sampled by perf's software cpu-clock
# event, which needs no hardware counter (these hosts have none). For each flow count it
# writes into --out:
#   profile-<flows>.txt  the benchmark's own line (ns per packet), its floor BM_TableTouch
#                        run just before it (not sampled), the share of samples per function, and each hot
#                        function's instructions with >= 2 % of its samples. A sample lands on
#                        the instruction after the one that waited (no precise sampling
#                        without counters): read a hot line as "the one before it stalled".
#   perf-<flows>.data    the samples, for `perf report -i` / `perf annotate -i`
# linux-perf is installed with apt-get when missing (root or sudo).
#
#   scripts/profile_lb.sh [--flows 1024,65536] [--seconds 3] [--build DIR] [--out DIR]
#     --flows    the flow counts, those BM_LbAckBurst has (1024, 65536)
#     --seconds  sampled time per flow count (default 3), at 5 kHz
#     --build    the release build tree (default build/release, built by scripts/setup.sh)
#     --out      default results/runs/<UTC time>-<pid>/ (git ignores it)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"
flows=1024,65536 seconds=3 build="$MARLLB_ROOT/build/release" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --flows|--seconds|--build|--out) [ $# -ge 2 ] || usage_error "$1 needs a value (scripts/profile_lb.sh --help)" ;;&
    --flows) flows="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --build) build="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) usage_error "unknown option $1 (scripts/profile_lb.sh --help)" ;;
  esac
done
[[ "$flows" =~ ^(1024|65536)(,(1024|65536))*$ ]] || usage_error "--flows '$flows': BM_LbAckBurst runs 1024 and 65536 flows; give those, comma-separated"
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage_error "--seconds '$seconds' is not a positive whole number"
[ -n "$out" ] || out="$(default_run_dir)"
check_out_dir "$out"
bench="$build/bench/bench_sim"
[ -x "$bench" ] || usage_error "no $bench: build it first (scripts/setup.sh release) or pass --build"
if ! command -v perf >/dev/null 2>&1; then
  say "installing linux-perf (perf) with apt-get"
  as_root apt-get install -y -q linux-perf >/dev/null || die "could not install linux-perf: install it (apt-get install linux-perf) and run again"
fi
mkdir -p "$out"
say "CPU: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $(nproc) CPUs, commit $(git_commit)"
for f in ${flows//,/ }; do
  data="$out/perf-$f.data" txt="$out/profile-$f.txt"
  "$bench" --benchmark_filter="^BM_TableTouch/flows:$f\$" --benchmark_min_time="$seconds" > "$out/bench-$f.txt" 2>/dev/null ||
    die "$bench failed"
  perf record -q -e cpu-clock -F 5000 -o "$data" -- "$bench" --benchmark_filter="^BM_LbAckBurst/flows:$f\$" \
    --benchmark_min_time="$seconds" >> "$out/bench-$f.txt" 2>/dev/null ||
    die "perf record failed (perf_event_paranoid $(cat /proc/sys/kernel/perf_event_paranoid)?): see perf's message by running it by hand"
  {
    echo "# BM_LbAckBurst at $f flows under perf (cpu-clock, 5 kHz), $(git_commit)"
    grep '^BM_' "$out/bench-$f.txt"
    echo
    echo "# share of samples per function"
    perf report -i "$data" --stdio --sort symbol 2>/dev/null | awk '/^ *[0-9.]+%/ && $1 + 0 >= 0.5'
    perf report -i "$data" --stdio --sort symbol 2>/dev/null |
      awk '/^ *[0-9.]+%/ && $1 + 0 >= 10 && $2 == "[.]" { sub(/^ *[0-9.]+% +\[\.\] /, ""); sub(/ +- +- *$/, ""); print }' |
    while IFS= read -r sym; do
      echo
      echo "# $sym: instructions with >= 2 % of its samples (a sample marks the instruction after a stall)"
      perf annotate -i "$data" --stdio -s "$sym" 2>/dev/null | awk -F: '$1 + 0 >= 2.0' | cut -c1-110 ||
        echo "(perf annotate failed for this function: is objdump, from binutils, installed?)"
    done
  } > "$txt"
  cat "$txt"
done
say "profiles in $out"
