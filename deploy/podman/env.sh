# Shared settings of the podman scripts (sourced, not run).
# Everything generated lives under the repository's ignored artifacts/ folder.
PODMAN_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PODMAN_WORK=${PODMAN_WORK:-$PODMAN_REPO_ROOT/artifacts/podman}
PUBLISH_DIR=$PODMAN_REPO_ROOT/artifacts/publish/silo

# Local stand-ins for the public base images the compose file names.
REDIS_BASE_IMAGE=localhost/orleans-inference/redis:7-bookworm
DOTNET_BASE_IMAGE=localhost/orleans-inference/aspnet:10.0
SILO_IMAGE=localhost/orleans-inference/silo:dev
SDK_IMAGE=localhost/orleans-inference/sdk:10.0

COMPOSE_PROJECT=${COMPOSE_PROJECT:-orleans-inference}
COMPOSE_FILES=(-f "$PODMAN_REPO_ROOT/docker-compose.yml" -f "$PODMAN_REPO_ROOT/deploy/podman/compose.override.yml")
# podman-compose 1.0.3 (Debian 12) knows no profiles: name the services of the default profile.
COMPOSE_SERVICES=(redis silo1 silo2 silo3)
SILO_HTTP_PORTS=(8001 8002 8003)

# runc (crun fails on this sandbox's hybrid cgroups) and ulimits no higher than the sandbox allows.
export CONTAINERS_CONF=$PODMAN_WORK/containers.conf
# Keep HEALTHCHECK instructions (the OCI image format drops them).
export BUILDAH_FORMAT=docker

podman_write_conf() {
  mkdir -p "$PODMAN_WORK"
  cat > "$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
CONF
}

podman_compose() {
  podman-compose -p "$COMPOSE_PROJECT" "${COMPOSE_FILES[@]}" "$@"
}
