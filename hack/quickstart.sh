#!/usr/bin/env bash
# Starts or stops the local control plane of `make quickstart`.
#   hack/quickstart.sh up     run in the foreground until Ctrl-C
#   hack/quickstart.sh down   stop a quickstart running elsewhere
set -euo pipefail
cd "$(dirname "$0")/.."
state=.local/quickstart
mkdir -p "$state"

case "${1:-up}" in
up)
  go build -o bin/quickstart ./hack/quickstart
  exec bin/quickstart --state-dir "$state"
  ;;
down)
  pidfile="$state/quickstart.pid"
  if [ ! -f "$pidfile" ]; then
    echo "quickstart is not running"
    exit 0
  fi
  pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  # Wait for it to stop its children and remove its pid file.
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { echo "quickstart stopped"; exit 0; }
    sleep 0.5
  done
  echo "quickstart did not stop in 30s; killing it" >&2
  kill -KILL "$pid" 2>/dev/null || true
  ;;
*)
  echo "usage: $0 up|down" >&2
  exit 2
  ;;
esac
