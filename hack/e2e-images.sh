#!/usr/bin/env bash
# Builds the container images of the end-to-end tests locally and imports them into the
# single-node cluster's containerd (hack/cluster.sh). There is no registry: each image is
# written as an OCI image layout tar by hack/images (github.com/google/go-containerregistry)
# and imported with `ctr -n k8s.io images import`; pods use the exact names below with
# imagePullPolicy Never or IfNotPresent.
#
# Images (all under the reserved, never-resolvable registry name helpdesk-e2e.invalid):
#   pause           a static Go program that sleeps until SIGTERM: containerd's sandbox image
#   helpdesk-operator  the project's static binary /helpdesk-operator, user 65532 (as the Dockerfile)
#   cloudnative-pg  CloudNativePG's operator binary /operator/manager_amd64 and /manager (hack/test-binaries.sh cluster)
#   coredns         CoreDNS with the kubernetes plugin (hack/test-binaries.sh cluster)
#   postgresql:15   Debian bookworm's PostgreSQL 15 (mmdebstrap), user postgres with UID/GID 26
#   helpy-standin   a TEST FIXTURE standing in for the Helpy image (test/e2e/fixtures/helpy-standin)
#   traefik         Traefik, the edge of the access tests (hack/test-binaries.sh cluster)
#
# Everything is cached by content: the PostgreSQL root filesystem by its recipe (so about
# six minutes only the first time), every image tar by its manifest digest, and an import
# is skipped when containerd already holds that digest under that name.
#
# Usage: hack/e2e-images.sh build    build the image tars that are missing
#        hack/e2e-images.sh import   build, then import what containerd lacks (needs containerd)
#        hack/e2e-images.sh env      print the image names
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${HELPDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helpdesk-operator}
IMAGE_DIR=$CACHE_DIR/images
export GOTOOLCHAIN=local

REGISTRY=helpdesk-e2e.invalid
PAUSE_IMAGE=$REGISTRY/pause:e2e
OPERATOR_IMAGE=$REGISTRY/helpdesk-operator:e2e
CNPG_IMAGE=$REGISTRY/cloudnative-pg:e2e
COREDNS_IMAGE=$REGISTRY/coredns:e2e
POSTGRES_REPOSITORY=$REGISTRY/postgresql
POSTGRES_IMAGE=$POSTGRES_REPOSITORY:15
HELPY_STANDIN_IMAGE=$REGISTRY/helpy-standin:e2e
TRAEFIK_IMAGE=$REGISTRY/traefik:e2e
CONTAINERD_SOCKET=${HELPDESK_E2E_CONTAINERD_SOCKET:-}

log() { printf 'e2e-images: [%s] %s\n' "$(date -u +%T)" "$*" >&2; }

print_env() {
  echo "HELPDESK_E2E_PAUSE_IMAGE=$PAUSE_IMAGE"
  echo "HELPDESK_E2E_OPERATOR_IMAGE=$OPERATOR_IMAGE"
  echo "HELPDESK_E2E_CNPG_IMAGE=$CNPG_IMAGE"
  echo "HELPDESK_E2E_COREDNS_IMAGE=$COREDNS_IMAGE"
  echo "HELPDESK_E2E_POSTGRES_REPOSITORY=$POSTGRES_REPOSITORY"
  echo "HELPDESK_E2E_POSTGRES_IMAGE=$POSTGRES_IMAGE"
  echo "HELPDESK_E2E_HELPY_STANDIN_IMAGE=$HELPY_STANDIN_IMAGE"
  echo "HELPDESK_E2E_TRAEFIK_IMAGE=$TRAEFIK_IMAGE"
}

# The image builder, built once per hack/images content.
imagebuild_bin() {
  local key; key=$(cat "$ROOT"/hack/images/go.mod "$ROOT"/hack/images/go.sum "$ROOT"/hack/images/*.go | sha256sum | cut -c1-16)
  local bin=$CACHE_DIR/bin/imagebuild-$key/imagebuild
  if [[ ! -x $bin ]]; then
    log "building hack/images into $bin"
    mkdir -p "$(dirname "$bin")"
    (cd "$ROOT/hack/images" && CGO_ENABLED=0 go build -trimpath -o "$bin.tmp" . && mv -f "$bin.tmp" "$bin")
  fi
  echo "$bin"
}

# go_binary PKG OUT: a static binary of a package of this module (Go's build cache makes
# an unchanged one cheap).
go_binary() {
  (cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$2" "$1")
}

# The PostgreSQL 15 root filesystem, from the Debian mirrors this machine's apt uses. Its
# cache key is the recipe below (this function's text) and the apt sources.
POSTGRES_PACKAGES=postgresql-15
postgres_rootfs() {
  local sources=/etc/apt/sources.list.d/debian.sources
  [[ -f $sources ]] || sources=/etc/apt/sources.list
  local key; key=$( { declare -f postgres_rootfs; echo "$POSTGRES_PACKAGES"; cat "$sources"; } | sha256sum | cut -c1-16)
  local out=$IMAGE_DIR/postgresql-15-rootfs-$key.tar
  if [[ -f $out ]]; then echo "$out"; return; fi
  command -v mmdebstrap >/dev/null || { log "mmdebstrap is missing: apt-get install mmdebstrap"; exit 1; }
  log "building the PostgreSQL 15 root filesystem with mmdebstrap (about 6 minutes, once)"
  local start=$SECONDS
  mkdir -p "$IMAGE_DIR"
  # CloudNativePG runs PostgreSQL as UID/GID 26 and initdb needs a passwd entry for it, so
  # the postgres user the package creates gets 26 (Debian's tape group gives GID 26 up).
  # The package's default cluster "main" is removed: CloudNativePG runs its own initdb.
  # shellcheck disable=SC2016 # the hooks are expanded by mmdebstrap's shell
  mmdebstrap --variant=essential --include="$POSTGRES_PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --skip=output/dev \
    --customize-hook='chroot "$1" sh -ec "
      old_uid=\$(id -u postgres); old_gid=\$(id -g postgres)
      groupmod -g 2626 tape
      groupmod -g 26 postgres
      usermod -u 26 -g 26 postgres
      find / -xdev \( -uid \$old_uid -o -gid \$old_gid \) -exec chown -h 26:26 {} +
      rm -rf /var/lib/postgresql/15/main /etc/postgresql/15/main
      rm -rf /var/cache/apt/* /var/lib/apt/lists/*
      id postgres"' \
    --format=tar bookworm "$out.tmp" "$sources" >&2
  mv -f "$out.tmp" "$out"
  log "built $out in $((SECONDS - start))s"
  echo "$out"
}

# build_image NAME ARGS...: writes $IMAGE_DIR/<NAME>.tar with hack/images and prints its
# digest; hack/images writes deterministic layers, so unchanged content keeps its digest.
build_image() {
  local name=$1; shift
  local out=$IMAGE_DIR/$name.oci.tar
  "$IMAGEBUILD" -out "$out" "$@"
}

build_all() {
  mkdir -p "$IMAGE_DIR"
  eval "$(bash "$ROOT/hack/test-binaries.sh" env)"
  for f in "$HELPDESK_E2E_CNPG_MANAGER" "$HELPDESK_E2E_COREDNS" "$HELPDESK_E2E_TRAEFIK"; do
    [[ -x $f ]] || { log "$f is missing: run hack/test-binaries.sh cluster"; exit 1; }
  done
  IMAGEBUILD=$(imagebuild_bin)
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  go_binary ./test/e2e/fixtures/pause "$work/pause"
  go_binary ./test/e2e/fixtures/helpy-standin "$work/helpy-standin"
  go_binary ./cmd/helpdesk-operator "$work/helpdesk-operator"
  local rootfs; rootfs=$(postgres_rootfs)

  build_image pause -name "$PAUSE_IMAGE" -file "$work/pause:/pause:0755" \
    -entrypoint /pause -user 65535:65535
  build_image helpdesk-operator -name "$OPERATOR_IMAGE" \
    -file "$work/helpdesk-operator:/helpdesk-operator:0755" \
    -entrypoint /helpdesk-operator -cmd manager -user 65532:65532
  # As CloudNativePG's Dockerfile lays it out: the operator finds the instance manager
  # binaries it hands to PostgreSQL pods as operator/manager_<arch>, relative to /.
  build_image cloudnative-pg -name "$CNPG_IMAGE" \
    -file "$HELPDESK_E2E_CNPG_MANAGER:/operator/manager_amd64:0755" -symlink /manager:operator/manager_amd64 \
    -workdir / -entrypoint /manager -user 65532:65532
  build_image coredns -name "$COREDNS_IMAGE" \
    -file "$HELPDESK_E2E_COREDNS:/coredns:0755" -entrypoint /coredns -user 65532:65532
  # Traefik runs as a non-root user with a read-only root filesystem: it needs no files
  # of its own beyond its binary (configuration by flags, routes from the API server).
  build_image traefik -name "$TRAEFIK_IMAGE" \
    -file "$HELPDESK_E2E_TRAEFIK:/traefik:0755" -entrypoint /traefik -user 65532:65532
  build_image postgresql-15 -name "$POSTGRES_IMAGE" -base-tar "$rootfs" \
    -env PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    -env LANG=C.UTF-8 -user 26:26 -cmd postgres
  # The stand-in: its binary answers as bundle (puma, rails runner, rake), as netcheck (the
  # tests' network probe) and as /bin/bash, which runs Debian's static busybox sh (the
  # operator's scripts need only POSIX sh with pipefail; busybox has no bash applet); an
  # nsswitch.conf makes busybox's name lookups work.
  printf 'hosts: files dns\npasswd: files\ngroup: files\n' >"$work/nsswitch.conf"
  printf 'root:x:0:0:root:/root:/bin/sh\nhelpyuser:x:1000:1000:helpy stand-in:/tmp:/bin/sh\n' >"$work/passwd"
  printf 'root:x:0:\nhelpyuser:x:1000:\n' >"$work/group"
  build_image helpy-standin -name "$HELPY_STANDIN_IMAGE" \
    -file /bin/busybox:/bin/busybox:0755 -symlink /bin/sh:busybox -symlink /bin/bash:/usr/local/bin/bundle \
    -symlink /bin/nc:busybox -symlink /bin/cp:busybox -symlink /bin/cat:busybox \
    -symlink /bin/echo:busybox -symlink /bin/ls:busybox -symlink /bin/nslookup:busybox \
    -symlink /bin/sleep:busybox -symlink /bin/tail:busybox \
    -file "$work/helpy-standin:/usr/local/bin/bundle:0755" -symlink /usr/local/bin/netcheck:bundle \
    -file "$work/nsswitch.conf:/etc/nsswitch.conf:0644" -file "$work/passwd:/etc/passwd:0644" \
    -file "$work/group:/etc/group:0644" \
    -dir /helpy:0755 -dir /helpy/public/assets:0755 -dir /helpy/public/uploads:0755 -dir /tmp:1777 \
    -workdir /helpy -env PATH=/usr/local/bin:/bin -user 1000:1000 -cmd bundle,exec,puma
}

# import_image NAME REF: imports $IMAGE_DIR/NAME.oci.tar unless containerd holds REF at
# the tar's digest already.
import_image() {
  local tar=$IMAGE_DIR/$1.oci.tar ref=$2
  local want; want=$(cat "$tar.digest")
  local have; have=$(ctr_ images ls "name==$ref" 2>/dev/null | awk 'NR>1 {print $3}')
  if [[ $have == "$want" ]]; then
    log "$ref already imported ($want)"
    return
  fi
  log "importing $ref ($want)"
  ctr_ images import --no-unpack=false "$tar" >/dev/null
  [[ $(ctr_ images ls "name==$ref" | awk 'NR>1 {print $3}') == "$want" ]] || { log "import of $ref did not give $want"; exit 1; }
}

ctr_() {
  local args=(-n k8s.io)
  [[ -z $CONTAINERD_SOCKET ]] || args+=(--address "$CONTAINERD_SOCKET")
  ctr "${args[@]}" "$@"
}

import_all() {
  import_image pause "$PAUSE_IMAGE"
  # The sandbox image must never be garbage-collected.
  ctr_ images label "$PAUSE_IMAGE" io.cri-containerd.pinned=pinned >/dev/null
  import_image helpdesk-operator "$OPERATOR_IMAGE"
  import_image cloudnative-pg "$CNPG_IMAGE"
  import_image coredns "$COREDNS_IMAGE"
  import_image postgresql-15 "$POSTGRES_IMAGE"
  import_image helpy-standin "$HELPY_STANDIN_IMAGE"
  import_image traefik "$TRAEFIK_IMAGE"
}

case ${1:-} in
  build) build_all ;;
  import) build_all; import_all ;;
  env) print_env ;;
  rootfs) postgres_rootfs ;;
  *) echo "usage: $0 build|import|env" >&2; exit 2 ;;
esac
