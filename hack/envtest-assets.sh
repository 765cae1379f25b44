#!/usr/bin/env bash
# Builds a kube-apiserver and an etcd from the Go module proxy and installs
# them where setup-envtest keeps its assets, so controller tests run against a
# real control plane without downloading prebuilt binaries.
#
# Prints the assets directory on stdout. Skips the build when both binaries
# are already there, and honours KUBEBUILDER_ASSETS when it points at a
# directory holding them.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
STAGING_VERSION="0.${KUBE_VERSION#1.}"

have_assets() {
  [ -x "$1/kube-apiserver" ] && [ -x "$1/etcd" ]
}

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && have_assets "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
assets="${ENVTEST_ASSETS_DIR:-$data_home/kubebuilder-envtest/k8s/${KUBE_VERSION}-linux-$(go env GOARCH)}"
if have_assets "$assets"; then
  echo "$assets"
  exit 0
fi

mkdir -p "$assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log() { echo "envtest-assets: $*" >&2; }

# The staging modules k8s.io/kubernetes replaces with local folders; each is
# pinned to its published release so the module graph resolves from the proxy.
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
  cloud-provider cluster-bootstrap code-generator component-base component-helpers
  controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation
  endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy
  kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission
  sample-apiserver sample-cli-plugin sample-controller streaming)

build_apiserver() {
  local dir="$work/apiserver"
  mkdir -p "$dir"
  cd "$dir"
  {
    echo "module envtest/apiserver"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes v${KUBE_VERSION}"
    echo
    for m in "${staging[@]}"; do
      echo "replace k8s.io/$m => k8s.io/$m v${STAGING_VERSION}"
    done
  } >go.mod
  printf 'package tools\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver"\n' >tools.go
  log "resolving k8s.io/kubernetes v${KUBE_VERSION}"
  GOFLAGS=-mod=mod go mod tidy >&2
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X ${pkg}.gitVersion=v${KUBE_VERSION} -X ${pkg}.gitMajor=1"
  ldflags+=" -X ${pkg}.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=1970-01-01T00:00:00Z"
  log "building kube-apiserver (about ten minutes on two cores)"
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$assets/kube-apiserver" \
    k8s.io/kubernetes/cmd/kube-apiserver
}

build_etcd() {
  local dir="$work/etcd"
  mkdir -p "$dir"
  cd "$dir"
  {
    echo "module envtest/etcd"
    echo
    echo "go 1.26"
    echo
    echo "require go.etcd.io/etcd/server/v3 v${ETCD_VERSION}"
    echo
    for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
      echo "replace go.etcd.io/etcd/$m => go.etcd.io/etcd/$m v${ETCD_VERSION}"
    done
  } >go.mod
  printf 'package tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  log "resolving go.etcd.io/etcd/server/v3 v${ETCD_VERSION}"
  GOFLAGS=-mod=mod go mod tidy >&2
  log "building etcd"
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v${ETCD_VERSION}" \
    -o "$assets/etcd" go.etcd.io/etcd/server/v3
}

[ -x "$assets/etcd" ] || build_etcd
[ -x "$assets/kube-apiserver" ] || build_apiserver
have_assets "$assets"
log "installed in $assets"
echo "$assets"
