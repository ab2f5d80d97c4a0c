# Shared settings and helpers of the tests/cluster scripts (sourced, not run).
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUSTER_DIR=${CLUSTER_DIR:-${TMPDIR:-/tmp}/orleans-inference-cluster}
SILO_DLL=${SILO_DLL:-$REPO_ROOT/artifacts/publish/silo/OrleansInference.Silo.dll}
REDIS_PORT=${REDIS_PORT:-6399}
HTTP_PORT_BASE=${HTTP_PORT_BASE:-8100}
SILO_PORT_BASE=${SILO_PORT_BASE:-11200}
GATEWAY_PORT_BASE=${GATEWAY_PORT_BASE:-30100}

# --netns: one namespace per silo, joined by a bridge that also carries Redis (on the bridge's address). The
# namespaces get no default route: nothing they send can leave this machine.
NETNS_PREFIX=${NETNS_PREFIX:-10.231.0}
NETNS_BRIDGE=${NETNS_BRIDGE:-oi-br0}
NETNS_BRIDGE_IP=$NETNS_PREFIX.1

netns_name() { echo "oi-silo$1"; }
netns_veth() { echo "oi-veth$1"; }
netns_silo_ip() { echo "$NETNS_PREFIX.$((10 + $1))"; }

# PIDs recorded in the cluster folder that are still alive.
cluster_pids() {
  local f pid
  for f in "$CLUSTER_DIR"/*.pid; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
  done
  return 0
}

cluster_running() { [[ -n "$(cluster_pids)" ]]; }

netns_bridge_up() {
  [[ $(id -u) == 0 ]] || { echo "--netns needs root (ip netns add)" >&2; return 1; }
  if ! ip link show "$NETNS_BRIDGE" >/dev/null 2>&1; then
    if ip -4 route show | grep -q "^$NETNS_PREFIX.0/24 "; then
      echo "$NETNS_PREFIX.0/24 is already routed here; choose another NETNS_PREFIX" >&2
      return 1
    fi
    ip link add "$NETNS_BRIDGE" type bridge
    ip addr add "$NETNS_BRIDGE_IP/24" dev "$NETNS_BRIDGE"
    ip link set "$NETNS_BRIDGE" up
  fi
}

netns_silo_up() {
  local i=$1 ns veth
  ns=$(netns_name "$i")
  veth=$(netns_veth "$i")
  ip netns del "$ns" 2>/dev/null || true
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$NETNS_BRIDGE" up
  ip -n "$ns" addr add "$(netns_silo_ip "$i")/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

netns_all_down() {
  local ns link
  # Deleting a namespace alone can leave the bridge's end of its veth pair behind.
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep '^oi-veth[0-9]*$'); do
    ip link del "$link" 2>/dev/null || true
  done
  for ns in $(ip netns list 2>/dev/null | awk '/^oi-silo[0-9]+/ {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$NETNS_BRIDGE" 2>/dev/null || true
}
