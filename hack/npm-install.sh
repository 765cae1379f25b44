#!/usr/bin/env bash
# Installs the Node packages of the MCP test client from the committed lock
# file. Idempotent: skips npm when node_modules was installed from the
# same lock file, which it records as a checksum stamp.
set -euo pipefail

dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/../test/mcpclient" && pwd)"
cd "$dir"

stamp=node_modules/.lock-sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
