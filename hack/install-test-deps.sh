#!/usr/bin/env bash
# Installs the system packages the tests talk to (rsyslog for the audit
# shipping test). Idempotent: only missing packages are installed, and
# nothing is done when they are all present.
set -euo pipefail

packages=(rsyslog)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
