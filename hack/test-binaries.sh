#!/usr/bin/env bash
# Builds, from the Go module proxy, the real servers our tests start (kube-apiserver,
# kubectl and etcd for envtest, Vault, the versitygw S3 gateway, the glauth LDAP server, and for the end-to-end
# tests a whole single-node cluster: kubelet and the control plane, kube-router,
# CoreDNS, the CloudNativePG operator and Traefik as the edge), once per version.
#
# Binaries are cached outside the checkout, keyed by version, so a warm machine
# rebuilds nothing and a fresh clone reuses what an earlier clone built:
#   ${HELPDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helpdesk-operator}/bin/<name>-<version>/<name>
#
# Usage: hack/test-binaries.sh [envtest|vault|versitygw|glauth|cluster|all]...   build what is missing
#        hack/test-binaries.sh prefetch [TARGET|project]...                     only download
#        hack/test-binaries.sh env                                         print the variables tests read
# `all` is what `make test` needs; `cluster` (for hack/cluster.sh and `make test-e2e`) is
# built only when asked for.
#
# Each build has two halves: prepare_<tool> SRC sets up a scratch module in SRC and
# downloads every module the build reads (mostly waiting on the network: Vault's alone is
# over 3 minutes cold), then the build compiles (both cores). A build first starts the
# downloads of every other missing tool it was asked for, side by side in the background,
# so they overlap the compiles instead of following them; the tool's own prepare then
# finds its modules in the module cache. `prefetch` does only the downloads (.ci/run starts
# it for the cluster and the project's own modules while `make test` builds and runs).
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.36.3}
# The published staging modules that stand in for k8s.io/kubernetes' ./staging replaces.
KUBERNETES_STAGING_VERSION=${KUBERNETES_STAGING_VERSION:-v0.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.6}
# v1.21.1 is the newest Vault whose code compiles against a published vault/sdk.
VAULT_VERSION=${VAULT_VERSION:-v1.21.1}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
GLAUTH_VERSION=${GLAUTH_VERSION:-v2.4.0}
# The only kube-router version the module proxy serves; run as NetworkPolicy firewall only.
KUBE_ROUTER_VERSION=${KUBE_ROUTER_VERSION:-v2.1.0}
# The operator whose API our code uses (github.com/cloudnative-pg/api v1.30.0).
CNPG_VERSION=${CNPG_VERSION:-v1.30.0}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
# Traefik's version is the one hack/traefik/go.mod requires: that module repeats the
# replace and exclude directives of Traefik's own go.mod, which `go install ...@version`
# refuses.
TRAEFIK_MODULE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/traefik
TRAEFIK_VERSION=$(awk '$1 == "require" && $2 == "github.com/traefik/traefik/v3" {print $3}' "$TRAEFIK_MODULE_DIR/go.mod")

CACHE_DIR=${HELPDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helpdesk-operator}
BIN_DIR=$CACHE_DIR/bin
SRC_DIR=$CACHE_DIR/src
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf 'test-binaries: [%s] %s\n' "$(date -u +%T)" "$*" >&2; }

kube_dir() { echo "$BIN_DIR/kubernetes-$KUBERNETES_VERSION"; }
etcd_dir() { echo "$BIN_DIR/etcd-$ETCD_VERSION"; }
vault_dir() { echo "$BIN_DIR/vault-$VAULT_VERSION-minimal"; }
versitygw_dir() { echo "$BIN_DIR/versitygw-$VERSITYGW_VERSION"; }
glauth_dir() { echo "$BIN_DIR/glauth-$GLAUTH_VERSION"; }
# envtest wants kube-apiserver, etcd and kubectl side by side in one folder.
envtest_dir() { echo "$BIN_DIR/envtest-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"; }
# The cluster's own Kubernetes binaries, version-stamped (kubelet and clients read it).
kube_cluster_dir() { echo "$BIN_DIR/kubernetes-cluster-$KUBERNETES_VERSION"; }
kube_router_dir() { echo "$BIN_DIR/kube-router-$KUBE_ROUTER_VERSION"; }
cnpg_dir() { echo "$BIN_DIR/cloudnative-pg-$CNPG_VERSION"; }
coredns_dir() { echo "$BIN_DIR/coredns-$COREDNS_VERSION"; }
traefik_dir() { echo "$BIN_DIR/traefik-$TRAEFIK_VERSION"; }

# fresh_module DIR MODULE: an empty scratch module to build a tool from.
fresh_module() {
  rm -rf "$1" && mkdir -p "$1"
  (cd "$1" && go mod init "$2" >/dev/null 2>&1)
}

# install_binaries SRC DEST NAME...: moves freshly built binaries into place atomically,
# so an interrupted build never leaves a half-written binary that looks cached.
install_binaries() {
  local src=$1 dest=$2; shift 2
  local tmp; tmp=$(mktemp -d "$BIN_DIR/.install.XXXXXX")
  for name in "$@"; do mv "$src/$name" "$tmp/$name"; done
  chmod 755 "$tmp"
  rm -rf "$dest"; mv "$tmp" "$dest"
}

# kube_scratch_module SRC: a module requiring k8s.io/kubernetes, with every staging module
# its go.mod replaces by a folder (which the module zip lacks) replaced by the published
# k8s.io/<name> at the matching v0 version.
kube_scratch_module() {
  local src=$1
  fresh_module "$src" local/kube-build
  local gomod; gomod=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  local args=()
  while read -r mod; do args+=(-replace "$mod=$mod@$KUBERNETES_STAGING_VERSION"); done < <(
    awk '/^replace \(/{r=1;next} r&&/^\)/{r=0} r&&/=> \.\/staging/{print $1}' "$gomod")
  (( ${#args[@]} > 0 )) || { log "found no staging replaces in $gomod"; exit 1; }
  (cd "$src" && go mod edit "${args[@]}" && go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null)
}

KUBE_ENVTEST_PACKAGES=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)

have_kubernetes() { [[ -x $(kube_dir)/kube-apiserver && -x $(kube_dir)/kubectl ]]; }

prepare_kubernetes() {
  local src=$1
  kube_scratch_module "$src"
  (cd "$src" && CGO_ENABLED=0 go list -deps "${KUBE_ENVTEST_PACKAGES[@]}" >/dev/null)
}

build_kubernetes() {
  local dest; dest=$(kube_dir)
  if have_kubernetes; then log "kube-apiserver and kubectl $KUBERNETES_VERSION cached in $dest"; return; fi
  log "building kube-apiserver and kubectl $KUBERNETES_VERSION from k8s.io/kubernetes (about 9 minutes on 2 cores)"
  local src=$SRC_DIR/kubernetes-$KUBERNETES_VERSION
  prepare_kubernetes "$src"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$src/out/" "${KUBE_ENVTEST_PACKAGES[@]}")
  install_binaries "$src/out" "$dest" kube-apiserver kubectl
  log "built $dest/kube-apiserver and $dest/kubectl"
}

have_etcd() { [[ -x $(etcd_dir)/etcd ]]; }

prepare_etcd() {
  local src=$1
  fresh_module "$src" local/etcd-build
  cat >"$src/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$src" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null && go mod tidy >/dev/null)
}

build_etcd() {
  local dest; dest=$(etcd_dir)
  if have_etcd; then log "etcd $ETCD_VERSION cached in $dest"; return; fi
  log "building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3 (about 3 minutes)"
  local src=$SRC_DIR/etcd-$ETCD_VERSION
  prepare_etcd "$src"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o out/etcd .)
  install_binaries "$src/out" "$dest" etcd
  log "built $dest/etcd"
}

# envtest's folder: kube-apiserver, kubectl and etcd side by side.
link_envtest() {
  local dir; dir=$(envtest_dir)
  mkdir -p "$dir"
  ln -sfn "$(kube_dir)/kube-apiserver" "$dir/kube-apiserver"
  ln -sfn "$(kube_dir)/kubectl" "$dir/kubectl"
  ln -sfn "$(etcd_dir)/etcd" "$dir/etcd"
  log "envtest assets ready in $dir"
}

# Vault is built with its own `minimal` build tag, which leaves out the cloud auth methods,
# database plugins and storage backends none of our tests use (Microsoft Graph's SDK alone
# is 33 MB of Go) and keeps transit, KV, the token store and raft storage. The Kubernetes
# auth method, which that build lacks, is Vault's own plugin (the code a full build links
# in), built beside it and run as an external plugin from plugins/; the test server
# (internal/testsupport/vaultdev) registers it as "kubernetes".
VAULT_PACKAGES=(github.com/hashicorp/vault github.com/hashicorp/vault-plugin-auth-kubernetes/cmd/vault-plugin-auth-kubernetes)

have_vault() { [[ -x $(vault_dir)/vault && -x $(vault_dir)/plugins/vault-plugin-auth-kubernetes ]]; }

prepare_vault() {
  local src=$1
  fresh_module "$src" local/vault-build
  # Vault's own go.mod carries these replaces; a requiring module must repeat them.
  (cd "$src" && go mod edit \
      -replace github.com/99designs/keyring=github.com/Jeffail/keyring@v1.2.3 \
      -replace github.com/ma314smith/signedxml@v1.1.1=github.com/moov-io/signedxml@v1.1.1 \
    && go get -tool "github.com/hashicorp/vault@$VAULT_VERSION" >/dev/null \
    && CGO_ENABLED=0 go list -tags minimal -deps "${VAULT_PACKAGES[@]}" >/dev/null)
}

build_vault() {
  local dest; dest=$(vault_dir)
  if have_vault; then log "vault $VAULT_VERSION cached in $dest"; return; fi
  log "building vault $VAULT_VERSION (minimal) and its Kubernetes auth plugin from github.com/hashicorp/vault (about 10 minutes from a cold build cache)"
  local src=$SRC_DIR/vault-$VAULT_VERSION
  prepare_vault "$src"
  (cd "$src" && CGO_ENABLED=0 go build -tags minimal -trimpath -ldflags='-s -w' -o out/ "${VAULT_PACKAGES[@]}")
  mkdir -p "$src/out/plugins"
  mv "$src/out/vault-plugin-auth-kubernetes" "$src/out/plugins/"
  install_binaries "$src/out" "$dest" vault plugins
  log "built $dest/vault"
}

have_versitygw() { [[ -x $(versitygw_dir)/versitygw ]]; }

prepare_versitygw() {
  local src=$1
  fresh_module "$src" local/versitygw-build
  (cd "$src" && go get -tool "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >/dev/null)
}

build_versitygw() {
  local dest; dest=$(versitygw_dir)
  if have_versitygw; then log "versitygw $VERSITYGW_VERSION cached in $dest"; return; fi
  log "building versitygw $VERSITYGW_VERSION (about 2 minutes)"
  local src=$SRC_DIR/versitygw-$VERSITYGW_VERSION
  prepare_versitygw "$src"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o out/versitygw github.com/versity/versitygw/cmd/versitygw)
  install_binaries "$src/out" "$dest" versitygw
  log "built $dest/versitygw"
}

# The Kubernetes binaries of the single-node cluster, all six in one `go build` so they
# share their compile work (kube-apiserver and kubectl again: these carry the version
# stamp, which the kubelet and clients such as CloudNativePG read; envtest's stay as they
# are). The tools file lets `go mod tidy` record the go.sum entries of every command.
KUBE_CLUSTER_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)

have_kube_cluster() {
  local name
  for name in "${KUBE_CLUSTER_COMMANDS[@]}"; do [[ -x $(kube_cluster_dir)/$name ]] || return 1; done
}

prepare_kube_cluster() {
  local src=$1 name
  kube_scratch_module "$src"
  {
    echo '//go:build tools'
    echo
    echo 'package tools'
    echo
    echo 'import ('
    for name in "${KUBE_CLUSTER_COMMANDS[@]}"; do
      echo "	_ \"k8s.io/kubernetes/cmd/$name\""
    done
    echo ')'
  } >"$src/tools.go"
  (cd "$src" && go mod tidy >/dev/null)
}

build_kube_cluster() {
  local dest; dest=$(kube_cluster_dir)
  if have_kube_cluster; then log "Kubernetes cluster binaries $KUBERNETES_VERSION cached in $dest"; return; fi
  log "building ${KUBE_CLUSTER_COMMANDS[*]} $KUBERNETES_VERSION from k8s.io/kubernetes (about 18 minutes cold on 2 cores)"
  local src=$SRC_DIR/kubernetes-cluster-$KUBERNETES_VERSION
  prepare_kube_cluster "$src"
  local pkgs=() name
  for name in "${KUBE_CLUSTER_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$name"); done
  local minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
  local major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor"
  ldflags+=" -X k8s.io/component-base/version.gitTreeState=clean"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$src/out/" "${pkgs[@]}")
  install_binaries "$src/out" "$dest" "${KUBE_CLUSTER_COMMANDS[@]}"
  log "built ${KUBE_CLUSTER_COMMANDS[*]} into $dest"
}

KUBE_ROUTER_PACKAGE=github.com/cloudnativelabs/kube-router/v2/cmd/kube-router

have_kube_router() { [[ -x $(kube_router_dir)/kube-router ]]; }

prepare_kube_router() {
  local src=$1
  fresh_module "$src" local/kube-router-build
  (cd "$src" && go get -tool "$KUBE_ROUTER_PACKAGE@$KUBE_ROUTER_VERSION" >/dev/null)
}

build_kube_router() {
  local dest; dest=$(kube_router_dir)
  if have_kube_router; then log "kube-router $KUBE_ROUTER_VERSION cached in $dest"; return; fi
  log "building kube-router $KUBE_ROUTER_VERSION (about 5 minutes)"
  local src=$SRC_DIR/kube-router-$KUBE_ROUTER_VERSION
  prepare_kube_router "$src"
  local pkg=$KUBE_ROUTER_PACKAGE
  (cd "$src" && CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
      -o out/kube-router "$pkg")
  install_binaries "$src/out" "$dest" kube-router
  log "built $dest/kube-router"
}

# CloudNativePG's operator binary (`manager`: controller, instance manager and bootstrap
# in one) and its release manifest, which the module ships in releases/.
CNPG_PACKAGE=github.com/cloudnative-pg/cloudnative-pg/cmd/manager

have_cnpg() { [[ -x $(cnpg_dir)/manager && -f $(cnpg_dir)/cnpg-${CNPG_VERSION#v}.yaml ]]; }

prepare_cnpg() {
  local src=$1
  fresh_module "$src" local/cnpg-build
  (cd "$src" && go get -tool "$CNPG_PACKAGE@$CNPG_VERSION" >/dev/null)
}

build_cnpg() {
  local dest; dest=$(cnpg_dir)
  local version=${CNPG_VERSION#v}
  if have_cnpg; then log "cloudnative-pg $CNPG_VERSION cached in $dest"; return; fi
  log "building the CloudNativePG operator $CNPG_VERSION (about 6 minutes)"
  local src=$SRC_DIR/cloudnative-pg-$CNPG_VERSION
  prepare_cnpg "$src"
  local pkg=$CNPG_PACKAGE
  (cd "$src" && CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/cloudnative-pg/cloudnative-pg/pkg/versions.buildVersion=$version" \
      -o out/manager "$pkg")
  local moddir; moddir=$(cd "$src" && go list -m -f '{{.Dir}}' github.com/cloudnative-pg/cloudnative-pg)
  cp "$moddir/releases/cnpg-$version.yaml" "$src/out/cnpg-$version.yaml"
  install_binaries "$src/out" "$dest" manager "cnpg-$version.yaml"
  log "built $dest/manager"
}

# CoreDNS with only the plugins the cluster DNS uses (the full set pulls in every cloud
# SDK): the documented way to build it with a subset is a main package that sets the
# directives.
have_coredns() { [[ -x $(coredns_dir)/coredns ]]; }

prepare_coredns() {
  local src=$1
  fresh_module "$src" local/coredns-build
  cat >"$src/main.go" <<'GO'
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

// In the order of CoreDNS's plugin.cfg: it is the order queries pass the plugins.
var directives = []string{"ready", "health", "errors", "log", "cache", "kubernetes"}

func init() { dnsserver.Directives = directives }

func main() { coremain.Run() }
GO
  (cd "$src" && go get "github.com/coredns/coredns@$COREDNS_VERSION" >/dev/null && go mod tidy >/dev/null)
}

build_coredns() {
  local dest; dest=$(coredns_dir)
  if have_coredns; then log "coredns $COREDNS_VERSION cached in $dest"; return; fi
  log "building coredns $COREDNS_VERSION with the kubernetes plugin (about 4 minutes)"
  local src=$SRC_DIR/coredns-$COREDNS_VERSION
  prepare_coredns "$src"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o out/coredns .)
  install_binaries "$src/out" "$dest" coredns
  log "built $dest/coredns"
}

# Traefik, the e2e tests' edge (Ingress and CRD providers, ipAllowList Middlewares), from
# the pinned module hack/traefik; its go.sum is checked in, so the build only reads it.
have_traefik() { [[ -x $(traefik_dir)/traefik ]]; }

# Traefik builds in its checked-in module, so its prepare only downloads (SRC is unused).
prepare_traefik() {
  (cd "$TRAEFIK_MODULE_DIR" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go list -deps github.com/traefik/traefik/v3/cmd/traefik >/dev/null)
}

build_traefik() {
  local dest; dest=$(traefik_dir)
  if have_traefik; then log "traefik $TRAEFIK_VERSION cached in $dest"; return; fi
  [[ -n $TRAEFIK_VERSION ]] || { log "no github.com/traefik/traefik/v3 requirement in $TRAEFIK_MODULE_DIR/go.mod"; exit 1; }
  log "building traefik $TRAEFIK_VERSION from hack/traefik (about 7 minutes cold on 2 idle cores)"
  local src=$SRC_DIR/traefik-$TRAEFIK_VERSION
  rm -rf "$src" && mkdir -p "$src/out"
  (cd "$TRAEFIK_MODULE_DIR" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath \
      -ldflags="-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
      -o "$src/out/traefik" github.com/traefik/traefik/v3/cmd/traefik)
  install_binaries "$src/out" "$dest" traefik
  log "built $dest/traefik"
}

have_glauth() { [[ -x $(glauth_dir)/glauth ]]; }

prepare_glauth() {
  local src=$1
  fresh_module "$src" local/glauth-build
  # glauth's main package is its module root. Its pkg/server imports an embed package
  # that is not published as a module unless the noembed tag (its own release builds'
  # default) leaves it out; go get resolves every tag, so require and build instead.
  (cd "$src" && go mod edit -require "github.com/glauth/glauth/v2@$GLAUTH_VERSION" \
    && CGO_ENABLED=0 go list -tags noembed -deps github.com/glauth/glauth/v2 >/dev/null)
}

build_glauth() {
  local dest; dest=$(glauth_dir)
  if have_glauth; then log "glauth $GLAUTH_VERSION cached in $dest"; return; fi
  log "building glauth $GLAUTH_VERSION (about 1 minute)"
  local src=$SRC_DIR/glauth-$GLAUTH_VERSION
  prepare_glauth "$src"
  (cd "$src" && CGO_ENABLED=0 go build -tags noembed -trimpath -ldflags='-s -w' -o out/glauth github.com/glauth/glauth/v2)
  install_binaries "$src/out" "$dest" glauth
  log "built $dest/glauth"
}

print_env() {
  # helm and kustomize are pinned tools of hack/tools, built by the Makefile into a cache
  # keyed by its go.sum.
  local tools_key; tools_key=$(sha256sum "$(dirname "${BASH_SOURCE[0]}")/tools/go.sum" | cut -c1-16)
  echo "HELPDESK_TEST_HELM=$CACHE_DIR/tools/$tools_key/helm"
  echo "HELPDESK_TEST_KUSTOMIZE=$CACHE_DIR/tools/$tools_key/kustomize"
  echo "KUBEBUILDER_ASSETS=$(envtest_dir)"
  echo "HELPDESK_TEST_VAULT=$(vault_dir)/vault"
  echo "HELPDESK_TEST_VERSITYGW=$(versitygw_dir)/versitygw"
  echo "HELPDESK_TEST_GLAUTH=$(glauth_dir)/glauth"
  echo "HELPDESK_E2E_ETCD=$(etcd_dir)/etcd"
  echo "HELPDESK_E2E_KUBE_BIN=$(kube_cluster_dir)"
  echo "HELPDESK_E2E_KUBE_ROUTER=$(kube_router_dir)/kube-router"
  echo "HELPDESK_E2E_COREDNS=$(coredns_dir)/coredns"
  echo "HELPDESK_E2E_CNPG_MANAGER=$(cnpg_dir)/manager"
  echo "HELPDESK_E2E_CNPG_MANIFEST=$(cnpg_dir)/cnpg-${CNPG_VERSION#v}.yaml"
  echo "HELPDESK_E2E_CNPG_VERSION=${CNPG_VERSION#v}"
  echo "HELPDESK_E2E_TRAEFIK=$(traefik_dir)/traefik"
  echo "HELPDESK_E2E_TRAEFIK_VERSION=$TRAEFIK_VERSION"
}

# The operator's own modules: what `make test` (and the e2e tests) compile, and the helm
# and kustomize it builds from hack/tools. Read-only: nothing in the checkout changes.
have_project() { false; }

prepare_project() {
  (cd "$ROOT" && GOFLAGS=-mod=readonly go list -deps -test -tags e2e ./... >/dev/null)
  (cd "$ROOT/hack/tools" && GOFLAGS=-mod=readonly go list -deps helm.sh/helm/v3/cmd/helm sigs.k8s.io/kustomize/kustomize/v5 >/dev/null)
  (cd "$ROOT/test/monitoring" && GOFLAGS=-mod=readonly go list -deps -test ./... >/dev/null)
}

# tools_of TARGET: the tools behind a target, in build order.
tools_of() {
  case $1 in
    envtest) echo etcd kubernetes ;;
    vault | versitygw | glauth | project) echo "$1" ;;
    cluster) echo etcd kube_cluster kube_router coredns cnpg traefik ;;
    all) echo etcd kubernetes versitygw vault glauth ;;
    *) return 1 ;;
  esac
}

PREFETCH_PIDS=()
PREFETCH_DIR=

# start_prefetch TOOL...: the prepare half of every missing TOOL, each in a throwaway
# folder, all at once in the background. Best effort: a failed download is logged and
# left to the build, which repeats it and stops with the real error.
start_prefetch() {
  local tool todo=()
  for tool; do "have_$tool" || todo+=("$tool"); done
  (( ${#todo[@]} > 0 )) || return 0
  PREFETCH_DIR=$(mktemp -d "$SRC_DIR/.prefetch.XXXXXX")
  log "downloading the modules of ${todo[*]} in the background"
  for tool in "${todo[@]}"; do
    # 9>&-: a download must not hold the build lock after this script has ended.
    (
      if "prepare_$tool" "$PREFETCH_DIR/$tool" >"$PREFETCH_DIR/$tool.log" 2>&1; then
        log "downloaded the modules of $tool"
      else
        log "downloading the modules of $tool failed; its build will try again: $(tail -n 3 "$PREFETCH_DIR/$tool.log")"
      fi
    ) 9>&- &
    PREFETCH_PIDS+=("$!")
  done
}

stop_prefetch() {
  (( ${#PREFETCH_PIDS[@]} == 0 )) || kill "${PREFETCH_PIDS[@]}" 2>/dev/null || true
  [[ -z $PREFETCH_DIR ]] || rm -rf "$PREFETCH_DIR"
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$BIN_DIR" "$SRC_DIR"
[[ $# -gt 0 ]] || set -- all
if [[ $* == env ]]; then print_env; exit 0; fi

usage() { log "unknown target $1 (want envtest, vault, versitygw, glauth, cluster, all, prefetch [TARGET|project]... or env)"; exit 2; }
prefetch_only=false
if [[ $1 == prefetch ]]; then
  prefetch_only=true; shift
  [[ $# -gt 0 ]] || set -- all
fi
tools=()
for target; do
  [[ $target != project || $prefetch_only == true ]] || usage "$target"
  names=$(tools_of "$target") || usage "$target"
  for tool in $names; do [[ " ${tools[*]} " == *" $tool "* ]] || tools+=("$tool"); done
done
trap stop_prefetch EXIT
trap 'exit 143' TERM INT

if [[ $prefetch_only == true ]]; then
  start_prefetch "${tools[@]}"
  wait
  exit 0
fi

# One build at a time: parallel test packages (and people) may ask at once, and the
# builds share a scratch folder and two cores anyway.
exec 9>"$CACHE_DIR/.build.lock"
flock 9
# The first missing tool downloads its own modules; the others' downloads overlap it.
first=
for tool in "${tools[@]}"; do have_$tool || { first=$tool; break; }; done
if [[ -n $first ]]; then
  rest=()
  for tool in "${tools[@]}"; do [[ $tool == "$first" ]] || rest+=("$tool"); done
  start_prefetch "${rest[@]}"
fi
for tool in "${tools[@]}"; do "build_$tool"; done
[[ " ${tools[*]} " != *" kubernetes "* ]] || link_envtest
[[ -z $first ]] || log "every binary is ready"
[[ ${#PREFETCH_PIDS[@]} -eq 0 ]] || wait "${PREFETCH_PIDS[@]}"
