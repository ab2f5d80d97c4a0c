#!/usr/bin/env bash
# (Re)creates the cluster of docker-compose.yml with podman-compose (local images, deploy/podman/compose.override.yml)
# and waits until every silo's HTTP API reports ready. Builds the images first when they are missing.
#
# Usage: deploy/podman/up.sh [--build] [--app-dir DIR] [--timeout SECONDS]
#   --build         publish the silo and rebuild its image even when present
#   --app-dir DIR   with --build: use this built silo output instead of publishing (see build-images.sh)
set -euo pipefail
source "$(dirname "$0")/env.sh"

build=0
timeout=180
build_args=()
while (($#)); do
  case "$1" in
    --build) build=1 ;;
    --app-dir) build_args+=(--app-dir "$2"); shift ;;
    --timeout) timeout=$2; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '[up %(%H:%M:%S)T] %s\n' -1 "$*"; }
start=$SECONDS

if ((build)) || ! command -v podman-compose >/dev/null || ! podman image exists "$SILO_IMAGE" \
   || ! podman image exists "$REDIS_BASE_IMAGE"; then
  "$(dirname "$0")/build-images.sh" "${build_args[@]}"
fi
podman_write_conf

cd "$PODMAN_REPO_ROOT"
# A cluster left from an earlier run would be restarted with its old containers: start from none.
if [[ -n "$(podman ps -aq --filter "label=io.podman.compose.project=$COMPOSE_PROJECT")" ]]; then
  log "removing the containers of an earlier run"
  podman_compose down >/dev/null 2>&1 || true
fi
log "podman-compose up -d ${COMPOSE_SERVICES[*]}"
# Podman without systemd cannot schedule healthchecks (they still run with `podman healthcheck run`): drop its
# complaints about that from the output.
podman_compose up -d --no-build "${COMPOSE_SERVICES[@]}" 2>&1 | { grep -v 'unable to get systemd connection' || true; }

# Ready = the silo answers /v2/health/ready with 200 (its engine has loaded the model).
wait_ready() {
  local port=$1 deadline=$((SECONDS + timeout))
  until curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/v2/health/ready"; do
    if ((SECONDS >= deadline)); then
      echo "silo on 127.0.0.1:$port not ready after ${timeout}s" >&2
      return 1
    fi
    sleep 1
  done
}

failed=0
for i in "${!SILO_HTTP_PORTS[@]}"; do
  port=${SILO_HTTP_PORTS[$i]}
  if wait_ready "$port"; then
    log "silo$((i + 1)) ready: http://127.0.0.1:$port (dashboard http://127.0.0.1:$port/dashboard)"
  else
    failed=1
    podman logs --tail 30 "${COMPOSE_PROJECT}_silo$((i + 1))_1" >&2 || true
  fi
done
((failed == 0)) || { log "cluster not ready"; exit 1; }
log "cluster up in $((SECONDS - start)) s"
