#!/usr/bin/env bash
# Renders config/default with the released images into one file.
#   hack/build-installer.sh MANAGER_IMAGE SERVER_IMAGE OUTPUT
#
# The images are set in a throw-away overlay under dist/ rather than with
# `kustomize edit` in config/manager, so building never leaves a diff in the
# tree.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 3 ]; then
  echo "usage: $0 MANAGER_IMAGE SERVER_IMAGE OUTPUT" >&2
  exit 2
fi
manager_image=$1 server_image=$2 output=$3
kustomize=$(realpath "${KUSTOMIZE:-bin/kustomize}")

if [ ! -f config/rbac/role.yaml ]; then
  echo "config/rbac/role.yaml is missing: 'make manifests' generates it" \
    "from the controller's RBAC markers" >&2
  exit 1
fi

overlay=dist/installer
rm -rf "$overlay"
mkdir -p "$overlay" "$(dirname "$output")"
cat >"$overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../config/default
patches:
  - target:
      kind: Deployment
      name: memory-mcp-operator-controller-manager
    patch: |-
      - op: replace
        path: /spec/template/spec/containers/0/args/3
        value: --server-image=${server_image}
YAML
(cd "$overlay" && "$kustomize" edit set image "controller=${manager_image}")
"$kustomize" build "$overlay" >"$output"

# The patch addresses the argument by position; refuse a result where that
# position held another flag, which would now be lost or doubled.
for flag in --leader-elect --metrics-bind-address= --health-probe-bind-address= --server-image=; do
  if [ "$(grep -cF -- "- ${flag}" "$output")" -ne 1 ]; then
    echo "expected the manager flag ${flag} exactly once in $output;" \
      "args[3] of config/manager/manager.yaml must be --server-image" >&2
    exit 1
  fi
done
grep -qF -- "- --server-image=${server_image}" "$output"
echo "wrote $output"
