#!/usr/bin/env bash
# Builds the images of docker-compose.yml with podman on a machine that reaches Debian's mirror but no container
# registry:
#   1. localhost/orleans-inference/redis:7-bookworm  - Debian 12 minbase + redis-server (stands in for redis:7-bookworm)
#   2. localhost/orleans-inference/aspnet:10.0       - Debian 12 minbase + the .NET runtime's native dependencies, with
#      the ASP.NET Core runtime copied from this machine's .NET SDK (stands in for mcr.microsoft.com/dotnet/aspnet:10.0)
#   3. localhost/orleans-inference/silo:dev          - the silo, published here with `dotnet publish`, on image 2
#      (or, with --from-source, built by Silos/OrleansInference.Silo/Dockerfile itself in
#      4. localhost/orleans-inference/sdk:10.0        - image 2 plus this machine's .NET SDK and the silo's NuGet
#         packages as a folder feed: containers here reach no package registry they trust)
# Base images are cached: they are made again only when missing or with --rebuild-base. The silo is published and its
# image built on every run (or skipped with --no-silo).
#
# Usage: deploy/podman/build-images.sh [--rebuild-base] [--no-silo] [--app-dir DIR | --from-source]
#   --app-dir DIR   put this already built silo output (a folder with OrleansInference.Silo.dll) in the image instead
#                   of publishing one (the cluster tests pass their own build)
#   --from-source   build the silo image with the real multi-stage Dockerfile (restore and publish in the container)
set -euo pipefail
source "$(dirname "$0")/env.sh"

rebuild_base=0
build_silo=1
app_dir=
from_source=0
while (($#)); do
  case "$1" in
    --rebuild-base) rebuild_base=1 ;;
    --no-silo) build_silo=0 ;;
    --from-source) from_source=1 ;;
    --app-dir) app_dir=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

SUITE=bookworm
log() { printf '[build-images %(%H:%M:%S)T] %s\n' -1 "$*"; }

ensure_packages() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v podman-compose >/dev/null || missing+=(podman-compose)
  [[ -x /usr/lib/podman/aardvark-dns ]] || missing+=(aardvark-dns)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    # With recommends: podman's (netavark, crun/runc, catatonit...) are what makes its networking work.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# The Debian mirror this machine's apt already uses for the suite (deb822 .sources or one-line .list files).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    awk -v suite="$SUITE" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "") { split(uris, u, " "); print u[1]; found = 1; exit } types = suites = uris = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/ { sub(/^Types:[[:space:]]*/, ""); types = $0 }
      /^URIs:/ { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
      END { if (!found) flush() }' "$f"
  done | head -n 1 | grep . && return 0
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | sed -E 's/\[[^]]*\]//' \
    | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' | grep . && return 0
  echo "no apt source for Debian $SUITE found in /etc/apt/sources.list(.d)" >&2
  return 1
}

# debootstrap a minbase root file system with extra packages into $1, trimmed of package caches and docs.
make_rootfs() {
  local dir=$1 include=$2
  rm -rf "$dir"
  mkdir -p "$dir" "$PODMAN_WORK/debootstrap-cache"
  log "debootstrap $SUITE (+ $include) from $MIRROR"
  debootstrap --variant=minbase --include="$include" --cache-dir="$PODMAN_WORK/debootstrap-cache" \
    "$SUITE" "$dir" "$MIRROR" >"$PODMAN_WORK/debootstrap-$(basename "$dir").log" 2>&1 \
    || { tail -n 20 "$PODMAN_WORK/debootstrap-$(basename "$dir").log" >&2; return 1; }
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/* "$dir"/usr/share/doc/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/log/*.log
}

import_rootfs() {
  local dir=$1 image=$2; shift 2
  local changes=()
  local c
  for c in "$@"; do changes+=(--change "$c"); done
  tar --numeric-owner -C "$dir" -c . | podman import --quiet "${changes[@]}" - "$image" >/dev/null
  rm -rf "$dir"
  log "imported $image ($(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"
}

build_redis_base() {
  local dir=$PODMAN_WORK/rootfs-redis
  make_rootfs "$dir" redis-server
  mkdir -p "$dir/data"
  chroot "$dir" chown redis:redis /data
  # As the official image: no config file, protected mode off (the network is the compose project's own).
  import_rootfs "$dir" "$REDIS_BASE_IMAGE" \
    'WORKDIR /data' 'USER redis' 'EXPOSE 6379' \
    'CMD ["redis-server", "--protected-mode", "no", "--dir", "/data"]'
}

build_dotnet_base() {
  local dir=$PODMAN_WORK/rootfs-aspnet
  local dotnet_root
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  local netcore aspnet
  netcore=$(ls -d "$dotnet_root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -n 1)
  aspnet=$(ls -d "$dotnet_root"/shared/Microsoft.AspNetCore.App/10.* | sort -V | tail -n 1)
  [[ -d "$netcore" && -d "$aspnet" ]] || { echo "no .NET 10 runtimes under $dotnet_root/shared" >&2; return 1; }
  # The native dependencies of the .NET runtime (as in Microsoft's Debian images).
  make_rootfs "$dir" ca-certificates,libc6,libgcc-s1,libicu72,libssl3,libstdc++6,tzdata,zlib1g
  log "copying .NET runtime $(basename "$netcore") and ASP.NET Core $(basename "$aspnet") from $dotnet_root"
  local target=$dir/usr/share/dotnet
  mkdir -p "$target/shared/Microsoft.NETCore.App" "$target/shared/Microsoft.AspNetCore.App"
  cp -a "$dotnet_root/dotnet" "$dotnet_root/host" "$target/"
  cp -a "$dotnet_root"/LICENSE.txt "$dotnet_root"/ThirdPartyNotices.txt "$target/" 2>/dev/null || true
  cp -a "$netcore" "$target/shared/Microsoft.NETCore.App/"
  cp -a "$aspnet" "$target/shared/Microsoft.AspNetCore.App/"
  ln -sf /usr/share/dotnet/dotnet "$dir/usr/bin/dotnet"
  # The official images' non-root user.
  chroot "$dir" useradd --uid 1654 --user-group --create-home app
  import_rootfs "$dir" "$DOTNET_BASE_IMAGE" \
    'ENV APP_UID=1654' 'ENV DOTNET_RUNNING_IN_CONTAINER=true' 'ENV ASPNETCORE_HTTP_PORTS=8080' \
    'ENV DOTNET_VERSION='"$(basename "$netcore")" 'ENV ASPNET_VERSION='"$(basename "$aspnet")"
}

base_image() {
  local image=$1 builder=$2
  if ((rebuild_base == 0)) && podman image exists "$image"; then
    log "$image present (cached; --rebuild-base makes it again)"
    return
  fi
  MIRROR=${MIRROR:-$(debian_mirror)}
  "$builder"
}

publish_silo() {
  if [[ -n "$app_dir" ]]; then
    [[ -f "$app_dir/OrleansInference.Silo.dll" ]] || { echo "no OrleansInference.Silo.dll in $app_dir" >&2; return 1; }
    log "copying the silo built in $app_dir"
    rm -rf "$PUBLISH_DIR"
    mkdir -p "$PUBLISH_DIR"
    cp -a "$app_dir"/. "$PUBLISH_DIR"/
    return
  fi
  log "dotnet publish Silos/OrleansInference.Silo -> ${PUBLISH_DIR#"$PODMAN_REPO_ROOT"/}"
  rm -rf "$PUBLISH_DIR"
  dotnet publish "$PODMAN_REPO_ROOT/Silos/OrleansInference.Silo/OrleansInference.Silo.csproj" -c Release \
    -p:UseAppHost=false -o "$PUBLISH_DIR" -nologo -v:q
}

build_silo_image() {
  log "building $SILO_IMAGE (podman-compose build silo1; silo2 and silo3 share the image)"
  (cd "$PODMAN_REPO_ROOT" && podman_compose build silo1) >"$PODMAN_WORK/build-silo.log" 2>&1 \
    || { tail -n 30 "$PODMAN_WORK/build-silo.log" >&2; return 1; }
  log "built $SILO_IMAGE ($(podman image inspect --format '{{.Size}}' "$SILO_IMAGE" | numfmt --to=iec))"
}

# The NuGet packages of the silo's projects (from their restore on this machine) as a folder feed: same layout as the
# global packages folder, which NuGet reads as a local feed.
stage_nuget_feed() {
  local feed=$1 project assets=()
  # Every project the silo image restores: a project without ASP.NET Core needs packages the web project gets from its
  # shared framework.
  for project in Native/OrleansInference.Native Grains/OrleansInference.Grains.Abstractions \
                 Grains/OrleansInference.Grains Silos/OrleansInference.Silo; do
    local file=$PODMAN_REPO_ROOT/$project/obj/project.assets.json
    [[ -f "$file" ]] || dotnet restore "$PODMAN_REPO_ROOT/$project/$(basename "$project").csproj" -v:q
    assets+=("$file")
  done
  python3 - "$feed" "${assets[@]}" <<'PY'
import json, os, shutil, sys
feed, files = sys.argv[1], sys.argv[2:]
for file in files:
    assets = json.load(open(file))
    folder = next(iter(assets["packageFolders"]))
    for lib in assets["libraries"].values():
        if lib.get("type") == "package":
            shutil.copytree(os.path.join(folder, lib["path"]), os.path.join(feed, lib["path"]), dirs_exist_ok=True)
PY
}

build_sdk_image() {
  local dotnet_root context=$PODMAN_WORK/sdk-context
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  log "building $SDK_IMAGE (this machine's SDK from $dotnet_root on $DOTNET_BASE_IMAGE, the silo's packages as a folder feed)"
  rm -rf "$context"
  mkdir -p "$context/nuget-feed"
  # Hard links where the SDK is on the same file system: staging costs no copy.
  cp -al "$dotnet_root"/{sdk,packs,sdk-manifests,templates} "$context"/ 2>/dev/null \
    || cp -a "$dotnet_root"/{sdk,packs,sdk-manifests,templates} "$context"/
  stage_nuget_feed "$context/nuget-feed"
  cat >"$context/NuGet.Config" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="/nuget-feed" />
  </packageSources>
</configuration>
XML
  podman build --quiet -f "$PODMAN_REPO_ROOT/deploy/podman/sdk.Dockerfile" --build-arg RUNTIME_IMAGE="$DOTNET_BASE_IMAGE" \
    -t "$SDK_IMAGE" "$context" >/dev/null
  rm -rf "$context"
  log "built $SDK_IMAGE ($(podman image inspect --format '{{.Size}}' "$SDK_IMAGE" | numfmt --to=iec))"
}

# The public Dockerfile, unchanged, with the local base images as its build arguments.
build_silo_image_from_source() {
  log "building $SILO_IMAGE with Silos/OrleansInference.Silo/Dockerfile (restore + publish inside the build)"
  podman build -f "$PODMAN_REPO_ROOT/Silos/OrleansInference.Silo/Dockerfile" --build-arg SDK_IMAGE="$SDK_IMAGE" \
    --build-arg RUNTIME_IMAGE="$DOTNET_BASE_IMAGE" -t "$SILO_IMAGE" "$PODMAN_REPO_ROOT" >"$PODMAN_WORK/build-silo.log" 2>&1 \
    || { tail -n 30 "$PODMAN_WORK/build-silo.log" >&2; return 1; }
  log "built $SILO_IMAGE ($(podman image inspect --format '{{.Size}}' "$SILO_IMAGE" | numfmt --to=iec))"
}

start=$SECONDS
ensure_packages
podman_write_conf
base_image "$REDIS_BASE_IMAGE" build_redis_base
base_image "$DOTNET_BASE_IMAGE" build_dotnet_base
if ((build_silo && from_source)); then
  base_image "$SDK_IMAGE" build_sdk_image
  build_silo_image_from_source
elif ((build_silo)); then
  publish_silo
  build_silo_image
fi
log "done in $((SECONDS - start)) s; podman storage: $(du -sh /var/lib/containers/storage 2>/dev/null | cut -f1)"
