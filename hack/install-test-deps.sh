#!/usr/bin/env bash
# Installs what the tests need from Debian's archive and the npm registry.
# Idempotent: installs only what is missing, so later runs cost nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test-deps: $*" >&2; }

# Debian packages, by the command each one provides.
declare -A packages=(
  [rsyslogd]=rsyslog     # audit shipping tests against a real syslog server
  [promtool]=prometheus  # alert rule checks and unit tests
)
missing=()
for cmd in "${!packages[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("${packages[$cmd]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The prometheus package starts a server; the tests need only promtool.
  if command -v systemctl >/dev/null 2>&1; then $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
fi

# npm packages of the MCP client tests.
if [ -x hack/npm-install.sh ]; then
  hack/npm-install.sh
fi
