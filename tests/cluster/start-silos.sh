#!/usr/bin/env bash
# Starts a multi-process cluster on this machine: redis-server for membership (unless one already answers on the
# chosen port) and N silo processes of the published silo, each with its own ports, log and PID file.
#
# Usage: tests/cluster/start-silos.sh [N=3] [--netns] [--publish] [--timeout SECONDS] [-- extra silo arguments]
#   --netns     each silo in its own network namespace with its own address on a bridge, so that
#               tests/cluster/partition.sh can cut it off (needs root)
#   --publish   publish the silo first even when a published copy exists
# Environment (defaults):
#   CLUSTER_DIR=${TMPDIR:-/tmp}/orleans-inference-cluster  state: PIDs, logs, cluster.env
#   SILO_DLL=artifacts/publish/silo/OrleansInference.Silo.dll
#   REDIS_PORT=6399  HTTP_PORT_BASE=8100  SILO_PORT_BASE=11200  GATEWAY_PORT_BASE=30100  (silo i uses base+i)
#   NETNS_PREFIX=10.231.0 (--netns: bridge .1, silo i at .(10+i); silos use ports 8000/11111/30000)
#   MEMBERSHIP_FAST=1 (declare a dead silo in about a second), INFERENCE_MODEL=builtin
# Stop with tests/cluster/stop-silos.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster-env.sh"

count=3
use_netns=0
publish=0
timeout=120
extra=()
while (($#)); do
  case "$1" in
    --netns) use_netns=1 ;;
    --publish) publish=1 ;;
    --timeout) timeout=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    [0-9]*) count=$1 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
((count >= 1)) || { echo "need at least one silo" >&2; exit 2; }

if cluster_running; then
  echo "a cluster is already running from $CLUSTER_DIR (tests/cluster/stop-silos.sh stops it)" >&2
  exit 1
fi
rm -rf "$CLUSTER_DIR"
mkdir -p "$CLUSTER_DIR/logs"

if ((publish)) || [[ ! -f "$SILO_DLL" ]]; then
  echo "publishing the silo to $(dirname "$SILO_DLL")"
  dotnet publish "$REPO_ROOT/Silos/OrleansInference.Silo/OrleansInference.Silo.csproj" -c Release \
    -p:UseAppHost=false -o "$(dirname "$SILO_DLL")" -nologo -v:q
fi
command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)" >&2; exit 1; }

cluster_id="local-$(date +%s)"
redis_host=127.0.0.1
if ((use_netns)); then
  netns_bridge_up
  redis_host=$NETNS_BRIDGE_IP
fi

# Redis: reuse one that answers on the port, else start our own in the cluster folder.
if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && ((use_netns == 0)); then
  echo "using the redis-server already on 127.0.0.1:$REDIS_PORT"
else
  mkdir -p "$CLUSTER_DIR/redis"
  binds="127.0.0.1"
  ((use_netns)) && binds="127.0.0.1 $NETNS_BRIDGE_IP"
  redis-server --port "$REDIS_PORT" --bind "$binds" --protected-mode no --save '' --appendonly no \
    --dir "$CLUSTER_DIR/redis" >"$CLUSTER_DIR/logs/redis.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/redis.pid"
  for _ in $(seq 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null || { cat "$CLUSTER_DIR/logs/redis.log" >&2; exit 1; }
fi

{
  echo "CLUSTER_ID=$cluster_id"
  echo "REDIS=$redis_host:$REDIS_PORT"
  echo "NETNS=$use_netns"
  echo "COUNT=$count"
} >"$CLUSTER_DIR/cluster.env"

start_silo() {
  local i=$1 host http_port silo_port gateway_port
  local -a launcher=()
  if ((use_netns)); then
    netns_silo_up "$i"
    host=$(netns_silo_ip "$i")
    http_port=8000 silo_port=11111 gateway_port=30000
    launcher=(ip netns exec "$(netns_name "$i")")
  else
    host=127.0.0.1
    http_port=$((HTTP_PORT_BASE + i)) silo_port=$((SILO_PORT_BASE + i)) gateway_port=$((GATEWAY_PORT_BASE + i))
  fi
  local -a membership=()
  if [[ "${MEMBERSHIP_FAST:-1}" == 1 ]]; then
    membership=(Orleans__Membership__ProbeTimeout=00:00:01 Orleans__Membership__NumMissedProbesLimit=1
      Orleans__Membership__NumVotesForDeathDeclaration=1)
  fi
  # setsid: the silo outlives this script and gets its own process group.
  env Orleans__Redis="$redis_host:$REDIS_PORT" Orleans__ClusterId="$cluster_id" Orleans__ServiceId=orleans-inference \
    Orleans__SiloPort="$silo_port" Orleans__GatewayPort="$gateway_port" Orleans__AdvertisedHost="$host" \
    "${membership[@]}" Inference__Model="${INFERENCE_MODEL:-builtin}" \
    setsid "${launcher[@]}" dotnet "$SILO_DLL" --urls "http://$host:$http_port" "${extra[@]}" \
    >"$CLUSTER_DIR/logs/silo$i.log" 2>&1 </dev/null &
  echo $! >"$CLUSTER_DIR/silo$i.pid"
  echo "http://$host:$http_port" >"$CLUSTER_DIR/silo$i.url"
  echo "$host:$gateway_port" >"$CLUSTER_DIR/silo$i.gateway"
}

for i in $(seq 1 "$count"); do
  start_silo "$i"
done

failed=0
for i in $(seq 1 "$count"); do
  url=$(cat "$CLUSTER_DIR/silo$i.url")
  deadline=$((SECONDS + timeout))
  until curl -fs -o /dev/null --max-time 2 "$url/v2/health/ready"; do
    if ! kill -0 "$(cat "$CLUSTER_DIR/silo$i.pid")" 2>/dev/null || ((SECONDS >= deadline)); then
      echo "silo$i did not become ready; last lines of $CLUSTER_DIR/logs/silo$i.log:" >&2
      tail -n 30 "$CLUSTER_DIR/logs/silo$i.log" >&2
      failed=1
      break
    fi
    sleep 0.5
  done
done
if ((failed)); then
  "$here/stop-silos.sh"
  exit 1
fi

echo "cluster $cluster_id (redis $redis_host:$REDIS_PORT, state and logs in $CLUSTER_DIR):"
for i in $(seq 1 "$count"); do
  echo "  silo$i  $(cat "$CLUSTER_DIR/silo$i.url")  gateway $(cat "$CLUSTER_DIR/silo$i.gateway")  pid $(cat "$CLUSTER_DIR/silo$i.pid")"
done
