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
help_and_version "$@"
pages=16
while [ $# -gt 0 ]; do
  case "$1" in
    --pages) pages="$2"; shift 2 ;;
    --) shift; break ;;
    *) usage_error "unknown option '$1' (see --help; the command comes after --)" ;;
  esac
done
[ $# -gt 0 ] || usage_error "no command: scripts/hugepages.sh [--pages N] -- COMMAND [ARGS...]"
[[ "$pages" =~ ^[1-9][0-9]*$ ]] || usage_error "--pages takes a positive whole number, not '$pages'"
[ "$(id -u)" -eq 0 ] || die "reserving huge pages and mounting hugetlbfs needs root"
knob=/proc/sys/vm/nr_hugepages
[ -w "$knob" ] || die "$knob is not writable: this kernel or container offers no huge pages"
# One run at a time changes the reservation (another waiting here would restore a stale value).
exec 9>/run/lock/marllb-hugepages.lock 2>/dev/null || exec 9>/tmp/marllb-hugepages.lock
flock 9
dir=$(mktemp -d /tmp/marllb-huge.XXXXXX)
added=0 child=""
restore() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then wait "$child" 2>/dev/null || true; fi
  if mountpoint -q "$dir"; then umount "$dir" || say "could not unmount $dir (still in use?): unmount it by hand"; fi
  rmdir "$dir" 2>/dev/null || true
  if [ "$added" -gt 0 ]; then
    # Give back what this run added, whatever others did meanwhile (not an absolute old value).
    now=$(cat "$knob")
    echo $(( now > added ? now - added : 0 )) > "$knob" || say "could not lower $knob by $added: do it by hand"
  fi
}
trap restore EXIT
# A signal to this script goes to the command, and the restore waits for it to end.
forward() { [ -n "$child" ] && kill -"$1" "$child" 2>/dev/null; }
trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
before=$(cat "$knob")
echo $((before + pages)) > "$knob"
got=$(cat "$knob")
added=$(( got > before ? got - before : 0 ))
[ "$added" -ge "$pages" ] || die "asked for $((before + pages)) huge pages, the kernel gave $got (memory too fragmented?)"
mount -t hugetlbfs none "$dir" || die "cannot mount hugetlbfs on $dir"
say "huge pages: $got reserved ($added by this run), hugetlbfs on $dir"
args=()
for a in "$@"; do args+=("${a//\{\}/$dir}"); done
"${args[@]}" &
child=$!
rc=0
# wait returns early when a trapped signal arrives: wait again until the command has ended.
while :; do
  wait "$child" && rc=0 || rc=$?
  kill -0 "$child" 2>/dev/null || break
done
child=""
exit $rc
