#!/usr/bin/env bash
# Make a Docker engine available on this machine (idempotent): install docker.io and
# debootstrap if missing, start dockerd in the background if it is not running, and wait
# up to 60 s for it to answer. Log: /tmp/dockerd.log. Needs root (CI runs as root).
set -euo pipefail

log() { echo "setup-docker: $*"; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
  log "installing docker.io and debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q docker.io debootstrap >/dev/null
fi

if docker info >/dev/null 2>&1; then
  log "engine already running"
  exit 0
fi

# A live dockerd (zombies of a killed one do not count) may just be starting up.
live_dockerd() {
  local pid
  for pid in $(pgrep -x dockerd 2>/dev/null); do
    if ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then return 0; fi
  done
  return 1
}

if ! live_dockerd; then
  log "starting dockerd (log: /tmp/dockerd.log)"
  nohup dockerd >/tmp/dockerd.log 2>&1 </dev/null &
fi

for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    log "engine ready: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; last lines of /tmp/dockerd.log:" >&2
tail -n 20 /tmp/dockerd.log >&2 || true
exit 1
