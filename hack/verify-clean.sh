#!/usr/bin/env bash
# Fails when the named paths differ from the committed tree, after a
# generator ran: generated files must be committed as generated.
set -euo pipefail
if ! git diff --quiet --exit-code -- "$@"; then
  echo "generated files are out of date; run 'make manifests generate' and commit:" >&2
  git diff --stat -- "$@" >&2
  exit 1
fi
untracked=$(git ls-files --others --exclude-standard -- "$@")
if [ -n "$untracked" ]; then
  echo "generators wrote files that are not committed:" >&2
  echo "$untracked" >&2
  exit 1
fi
