#!/usr/bin/env bash
# Stops and removes the containers and network of deploy/podman/up.sh (images stay).
set -euo pipefail
source "$(dirname "$0")/env.sh"
podman_write_conf
cd "$PODMAN_REPO_ROOT"
podman_compose down 2>&1 | { grep -v 'unable to get systemd connection' || true; }
# podman-compose 1.0.3 leaves the project's network behind.
podman network rm "${COMPOSE_PROJECT}_default" >/dev/null 2>&1 || true
