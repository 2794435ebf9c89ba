#!/usr/bin/env bash
# Runs a command with huge pages at hand, then puts the machine back as it was: reserves
# PAGES 2 MiB pages (/proc/sys/vm/nr_hugepages raised by that many), mounts a hugetlbfs in a
# temporary directory, runs COMMAND with every "{}" in its arguments replaced by that
# directory, then unmounts it and restores nr_hugepages, also when the command fails or is
# interrupted. Needs root. Exit status: the command's.
#
#   scripts/hugepages.sh [--pages N] -- COMMAND [ARGS...]
#     --pages  pages to add to the reservation (default 16)
#   e.g. scripts/hugepages.sh -- build/release/scenarios/marllb-scenario-cadence --hugepages {} --seconds 10
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
pages=16
while [ $# -gt 0 ]; do
  case "$1" in
    --pages) pages="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown option '$1' (see --help; the command comes after --)" ;;
  esac
done
[ $# -gt 0 ] || die "no command: scripts/hugepages.sh [--pages N] -- COMMAND [ARGS...]"
[[ "$pages" =~ ^[1-9][0-9]*$ ]] || die "--pages takes a positive whole number, not '$pages'"
[ "$(id -u)" -eq 0 ] || die "reserving huge pages and mounting hugetlbfs needs root"
knob=/proc/sys/vm/nr_hugepages
[ -w "$knob" ] || die "$knob is not writable: this kernel or container offers no huge pages"
saved=$(cat "$knob")
dir=$(mktemp -d /tmp/marllb-huge.XXXXXX)
restore() {
  umount "$dir" 2>/dev/null || true
  rmdir "$dir" 2>/dev/null || true
  echo "$saved" > "$knob" || say "could not restore $knob to $saved: do it by hand (echo $saved > $knob)"
}
trap restore EXIT
echo $((saved + pages)) > "$knob"
got=$(cat "$knob")
[ "$got" -ge $((saved + pages)) ] || die "asked for $((saved + pages)) huge pages, the kernel gave $got (memory too fragmented?)"
mount -t hugetlbfs none "$dir" || die "cannot mount hugetlbfs on $dir"
say "huge pages: $got reserved (was $saved), hugetlbfs on $dir"
args=()
for a in "$@"; do args+=("${a//\{\}/$dir}"); done
rc=0
"${args[@]}" || rc=$?
exit $rc
