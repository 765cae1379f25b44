#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time each ($1, default
# 10s). Go runs one fuzz target per invocation, so this finds them first.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
count=0
while IFS= read -r file; do
  pkg="./$(dirname "$file")"
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    echo "fuzz: $pkg $target for $fuzztime"
    go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime"
    count=$((count + 1))
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz: ran $count targets"
