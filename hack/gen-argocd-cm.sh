#!/usr/bin/env bash
# Writes config/argocd/argocd-cm-patch.yaml from docs/argocd/health.lua, so
# the script Argo CD runs is the one the tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
out=config/argocd/argocd-cm-patch.yaml
{
  echo "# Generated from docs/argocd/health.lua by 'make argocd-health'; edit that file."
  echo "# Merge into Argo CD's argocd-cm, for example as a kustomize patch of the"
  echo "# Argo CD installation (see config/argocd/kustomization.yaml)."
  echo "apiVersion: v1"
  echo "kind: ConfigMap"
  echo "metadata:"
  echo "  name: argocd-cm"
  echo "  namespace: argocd"
  echo "data:"
  echo "  resource.customizations.health.memorymcp.io_MemoryMCP: |"
  sed -e 's/^/    /' -e 's/^ *$//' docs/argocd/health.lua
} >"$out"
