#!/usr/bin/env bash
# Builds, from the Go module proxy, the real servers our tests start (kube-apiserver,
# kubectl and etcd for envtest, Vault, the versitygw S3 gateway, the glauth LDAP server),
# once per version.
#
# Binaries are cached outside the checkout, keyed by version, so a warm machine
# rebuilds nothing and a fresh clone reuses what an earlier clone built:
#   ${HELPDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helpdesk-operator}/bin/<name>-<version>/<name>
#
# Usage: hack/test-binaries.sh [envtest|vault|versitygw|glauth|all]...   build what is missing
#        hack/test-binaries.sh env                                 print the variables tests read
set -euo pipefail

KUBERNETES_VERSION=${KUBERNETES_VERSION:-v1.36.3}
# The published staging modules that stand in for k8s.io/kubernetes' ./staging replaces.
KUBERNETES_STAGING_VERSION=${KUBERNETES_STAGING_VERSION:-v0.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.6}
# v1.21.1 is the newest Vault whose code compiles against a published vault/sdk.
VAULT_VERSION=${VAULT_VERSION:-v1.21.1}
VERSITYGW_VERSION=${VERSITYGW_VERSION:-v1.8.0}
GLAUTH_VERSION=${GLAUTH_VERSION:-v2.4.0}

CACHE_DIR=${HELPDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/helpdesk-operator}
BIN_DIR=$CACHE_DIR/bin
SRC_DIR=$CACHE_DIR/src
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

log() { printf 'test-binaries: %s\n' "$*" >&2; }

kube_dir() { echo "$BIN_DIR/kubernetes-$KUBERNETES_VERSION"; }
etcd_dir() { echo "$BIN_DIR/etcd-$ETCD_VERSION"; }
vault_dir() { echo "$BIN_DIR/vault-$VAULT_VERSION"; }
versitygw_dir() { echo "$BIN_DIR/versitygw-$VERSITYGW_VERSION"; }
glauth_dir() { echo "$BIN_DIR/glauth-$GLAUTH_VERSION"; }
# envtest wants kube-apiserver, etcd and kubectl side by side in one folder.
envtest_dir() { echo "$BIN_DIR/envtest-$KUBERNETES_VERSION-etcd-$ETCD_VERSION"; }

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

build_kubernetes() {
  local dest; dest=$(kube_dir)
  if [[ -x $dest/kube-apiserver && -x $dest/kubectl ]]; then log "kube-apiserver and kubectl $KUBERNETES_VERSION cached in $dest"; return; fi
  log "building kube-apiserver and kubectl $KUBERNETES_VERSION from k8s.io/kubernetes (about 9 minutes on 2 cores)"
  local src=$SRC_DIR/kubernetes-$KUBERNETES_VERSION
  fresh_module "$src" local/kube-build
  local gomod; gomod=$(cd "$src" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')
  # k8s.io/kubernetes replaces every staging module with a folder the module zip lacks;
  # the same code is published as k8s.io/<name> at the matching v0 version.
  local args=()
  while read -r mod; do args+=(-replace "$mod=$mod@$KUBERNETES_STAGING_VERSION"); done < <(
    awk '/^replace \(/{r=1;next} r&&/^\)/{r=0} r&&/=> \.\/staging/{print $1}' "$gomod")
  (( ${#args[@]} > 0 )) || { log "found no staging replaces in $gomod"; exit 1; }
  (cd "$src" && go mod edit "${args[@]}" && go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$src/out/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl)
  install_binaries "$src/out" "$dest" kube-apiserver kubectl
  log "built $dest/kube-apiserver and $dest/kubectl"
}

build_etcd() {
  local dest; dest=$(etcd_dir)
  if [[ -x $dest/etcd ]]; then log "etcd $ETCD_VERSION cached in $dest"; return; fi
  log "building etcd $ETCD_VERSION from go.etcd.io/etcd/server/v3 (about 3 minutes)"
  local src=$SRC_DIR/etcd-$ETCD_VERSION
  fresh_module "$src" local/etcd-build
  cat >"$src/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$src" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null && go mod tidy >/dev/null \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o out/etcd .)
  install_binaries "$src/out" "$dest" etcd
  log "built $dest/etcd"
}

build_envtest() {
  build_etcd
  build_kubernetes
  local dir; dir=$(envtest_dir)
  mkdir -p "$dir"
  ln -sfn "$(kube_dir)/kube-apiserver" "$dir/kube-apiserver"
  ln -sfn "$(kube_dir)/kubectl" "$dir/kubectl"
  ln -sfn "$(etcd_dir)/etcd" "$dir/etcd"
  log "envtest assets ready in $dir"
}

build_vault() {
  local dest; dest=$(vault_dir)
  if [[ -x $dest/vault ]]; then log "vault $VAULT_VERSION cached in $dest"; return; fi
  log "building vault $VAULT_VERSION from github.com/hashicorp/vault (about 14 minutes from a cold build cache)"
  local src=$SRC_DIR/vault-$VAULT_VERSION
  fresh_module "$src" local/vault-build
  # Vault's own go.mod carries these replaces; a requiring module must repeat them.
  (cd "$src" && go mod edit \
      -replace github.com/99designs/keyring=github.com/Jeffail/keyring@v1.2.3 \
      -replace github.com/ma314smith/signedxml@v1.1.1=github.com/moov-io/signedxml@v1.1.1 \
    && go get -tool "github.com/hashicorp/vault@$VAULT_VERSION" >/dev/null \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o out/vault github.com/hashicorp/vault)
  install_binaries "$src/out" "$dest" vault
  log "built $dest/vault"
}

build_versitygw() {
  local dest; dest=$(versitygw_dir)
  if [[ -x $dest/versitygw ]]; then log "versitygw $VERSITYGW_VERSION cached in $dest"; return; fi
  log "building versitygw $VERSITYGW_VERSION (about 2 minutes)"
  local src=$SRC_DIR/versitygw-$VERSITYGW_VERSION
  fresh_module "$src" local/versitygw-build
  (cd "$src" && go get -tool "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >/dev/null \
    && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o out/versitygw github.com/versity/versitygw/cmd/versitygw)
  install_binaries "$src/out" "$dest" versitygw
  log "built $dest/versitygw"
}

build_glauth() {
  local dest; dest=$(glauth_dir)
  if [[ -x $dest/glauth ]]; then log "glauth $GLAUTH_VERSION cached in $dest"; return; fi
  log "building glauth $GLAUTH_VERSION (about 1 minute)"
  local src=$SRC_DIR/glauth-$GLAUTH_VERSION
  fresh_module "$src" local/glauth-build
  # glauth's main package is its module root. Its pkg/server imports an embed package
  # that is not published as a module unless the noembed tag (its own release builds'
  # default) leaves it out; go get resolves every tag, so require and build instead.
  (cd "$src" && go mod edit -require "github.com/glauth/glauth/v2@$GLAUTH_VERSION" \
    && CGO_ENABLED=0 go build -tags noembed -trimpath -ldflags='-s -w' -o out/glauth github.com/glauth/glauth/v2)
  install_binaries "$src/out" "$dest" glauth
  log "built $dest/glauth"
}

print_env() {
  # helm is a pinned tool of hack/tools, built by the Makefile into a cache keyed by its go.sum.
  local tools_key; tools_key=$(sha256sum "$(dirname "${BASH_SOURCE[0]}")/tools/go.sum" | cut -c1-16)
  echo "HELPDESK_TEST_HELM=$CACHE_DIR/tools/$tools_key/helm"
  echo "KUBEBUILDER_ASSETS=$(envtest_dir)"
  echo "HELPDESK_TEST_VAULT=$(vault_dir)/vault"
  echo "HELPDESK_TEST_VERSITYGW=$(versitygw_dir)/versitygw"
  echo "HELPDESK_TEST_GLAUTH=$(glauth_dir)/glauth"
}

mkdir -p "$BIN_DIR" "$SRC_DIR"
[[ $# -gt 0 ]] || set -- all
if [[ $* != env ]]; then
  # One build at a time: parallel test packages (and people) may ask at once, and the
  # builds share a scratch folder and two cores anyway.
  exec 9>"$CACHE_DIR/.build.lock"
  flock 9
fi
for target in "$@"; do
  case $target in
    envtest) build_envtest ;;
    vault) build_vault ;;
    versitygw) build_versitygw ;;
    glauth) build_glauth ;;
    all) build_envtest; build_versitygw; build_vault; build_glauth ;;
    env) print_env ;;
    *) log "unknown target $target (want envtest, vault, versitygw, glauth, all or env)"; exit 2 ;;
  esac
done
