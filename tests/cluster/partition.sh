#!/usr/bin/env bash
# Cuts a silo of a `start-silos.sh --netns` cluster off the network (down) or reconnects it (up), by taking its
# link to the bridge down or up. The process keeps running: peers see it as unreachable, as after a switch failure.
#
# Usage: tests/cluster/partition.sh <silo number or silo name, e.g. 2 or silo2> down|up
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster-env.sh"

[[ $# == 2 ]] || { sed -n '5p' "$0" >&2; exit 2; }
i=${1#silo}
[[ "$i" =~ ^[0-9]+$ ]] || { echo "not a silo: $1" >&2; exit 2; }
veth=$(netns_veth "$i")
ip link show "$veth" >/dev/null 2>&1 || { echo "silo$i has no network namespace (start-silos.sh --netns)" >&2; exit 1; }
case "$2" in
  down) ip link set "$veth" down ;;
  up) ip link set "$veth" up ;;
  *) echo "down or up, not $2" >&2; exit 2 ;;
esac
echo "silo$i ($(netns_silo_ip "$i")) link $2"
