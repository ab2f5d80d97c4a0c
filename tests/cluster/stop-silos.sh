#!/usr/bin/env bash
# Stops what tests/cluster/start-silos.sh started: the silos (SIGTERM, then SIGKILL after 10 s), the redis-server it
# started (not one it found running), and the network namespaces and bridge of --netns. Logs stay in CLUSTER_DIR.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster-env.sh"

pids=$(cluster_pids)
if [[ -n "$pids" ]]; then
  kill -TERM $pids 2>/dev/null
  for _ in $(seq 100); do
    [[ -z "$(cluster_pids)" ]] && break
    sleep 0.1
  done
  left=$(cluster_pids)
  [[ -n "$left" ]] && kill -KILL $left 2>/dev/null
fi
rm -f "$CLUSTER_DIR"/*.pid
if [[ -f "$CLUSTER_DIR/cluster.env" ]] && grep -q '^NETNS=1' "$CLUSTER_DIR/cluster.env"; then
  netns_all_down
fi
echo "stopped (logs in $CLUSTER_DIR/logs)"
