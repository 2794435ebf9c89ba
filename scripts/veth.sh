#!/usr/bin/env bash
# Network namespaces and veth pairs for marllb-sim's two processes over af_packet (root).
#
#   scripts/veth.sh up NAME     # namespaces NAME-world and NAME-lb, joined by two veth pairs:
#                               #   NAME-world: mw-in  <-> NAME-lb: ml-in   (the clients' frames to the LB)
#                               #   NAME-world: mw-out <-> NAME-lb: ml-out  (the LB's forwarded frames back)
#   scripts/veth.sh down NAME   # removes both namespaces (and with them the veths)
#
# Then, each role in its own namespace (the region in /dev/shm is shared: an agent outside both
# attaches to it as usual):
#   ip netns exec NAME-world build/release/sim/apps/marllb-sim --role world --af-packet mw-in,mw-out --duration 10 &
#   ip netns exec NAME-lb    build/release/sim/apps/marllb-sim --role lb --af-packet ml-in,ml-out
#   ip netns exec NAME-lb    tcpdump -ni ml-in      # the traffic, as the kernel sees it
#
# The interfaces carry no IP address and IPv6 is off in both namespaces: the only frames on the
# veths are marllb-sim's (its clients in 10.0.0.0/8, its service 192.0.2.1: sim/src/frame.hpp),
# and the namespaces' kernels answer none of them. NAME: at most 8 characters of [A-Za-z0-9_].
# `up` of a NAME that exists replaces it. Exit 2 for a user error, 1 when ip(8) fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
help_and_version "$@"

[ $# -eq 2 ] || usage_error "usage: scripts/veth.sh up|down NAME (scripts/veth.sh --help)"
action="$1" name="$2"
[[ "$name" =~ ^[A-Za-z0-9_]{1,8}$ ]] || usage_error "NAME '$name': give 1 to 8 characters of [A-Za-z0-9_]"
[ "$(id -u)" -eq 0 ] || usage_error "network namespaces need root: run as root"
command -v ip >/dev/null 2>&1 || usage_error "ip(8) is missing: apt-get install iproute2"
world="$name-world" lb="$name-lb"

down() {
  local ns
  for ns in "$world" "$lb"; do
    if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then ip netns del "$ns"; fi
  done
}

case "$action" in
  up)
    down
    ip netns add "$world"
    ip netns add "$lb" || { down; exit 1; }
    trap 'down' ERR
    for ns in "$world" "$lb"; do
      ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
      ip -n "$ns" link set lo up
    done
    ip link add mw-in netns "$world" type veth peer name ml-in netns "$lb"
    ip link add mw-out netns "$world" type veth peer name ml-out netns "$lb"
    for pair in "$world mw-in" "$world mw-out" "$lb ml-in" "$lb ml-out"; do
      set -- $pair
      ip -n "$1" link set "$2" up
    done
    trap - ERR
    say "namespaces $world (mw-in, mw-out) and $lb (ml-in, ml-out) are up"
    ;;
  down) down ;;
  *) usage_error "unknown action '$action': use up or down" ;;
esac
