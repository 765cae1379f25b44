#!/usr/bin/env bash
# Runs every fuzz target of the security packages for FUZZTIME each
# (default 10s). Go fuzzes one target per invocation, hence the loop.
set -euo pipefail

fuzztime="${FUZZTIME:-10s}"
targets=(
  "./internal/runtimeconfig FuzzParse"
  "./internal/guard FuzzCheckJSON"
)
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  go test -p 1 -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
done
