#!/usr/bin/env bash
# Writes docs/reference.md from the API types with crd-ref-docs, run from the
# Go module proxy at the version the Makefile pins. The templates are ours:
# they add the CEL rules, which crd-ref-docs leaves out of its own output.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${CRD_REF_DOCS_VERSION:-v0.3.0}
go run "github.com/elastic/crd-ref-docs@${version}" \
  --source-path=./api/v1alpha1 \
  --config=hack/crd-ref-docs.yaml \
  --templates-dir=hack/reference-templates \
  --renderer=markdown \
  --log-level=WARN \
  --output-path=docs/reference.md
