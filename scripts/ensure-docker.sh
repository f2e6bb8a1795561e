#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine.
# - If `docker info` already works, do nothing (never restart a running engine).
# - Otherwise install docker.io from the OS packages when dockerd is missing,
#   start /usr/sbin/dockerd in the background (log: /var/log/openclaw-dockerd.log)
#   and wait until it answers.
set -euo pipefail

LOG=${OPENCLAW_DOCKERD_LOG:-/var/log/openclaw-dockerd.log}
WAIT=${OPENCLAW_DOCKERD_WAIT:-90}

say() { printf '==> [docker] %s\n' "$*"; }

if docker info >/dev/null 2>&1; then
    say "engine already running ($(docker version --format '{{.Server.Version}}' 2>/dev/null)); leaving it alone"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR: no Docker engine answers and installing one needs root." >&2
    echo "       Start Docker yourself (or run as root), then re-run this command." >&2
    exit 1
fi

if [ ! -x /usr/sbin/dockerd ]; then
    say "dockerd not found: installing docker.io from the Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null
    say "installed $(dpkg-query -W -f '${Package} ${Version}' docker.io)"
fi

if pgrep -x dockerd >/dev/null; then
    say "dockerd is running but does not answer yet; waiting"
else
    say "starting /usr/sbin/dockerd in the background (log: $LOG)"
    nohup /usr/sbin/dockerd >>"$LOG" 2>&1 &
fi

for _ in $(seq 1 "$WAIT"); do
    if docker info >/dev/null 2>&1; then
        say "engine answers: $(docker version --format 'server {{.Server.Version}}' 2>/dev/null), storage $(docker info --format '{{.Driver}}')"
        exit 0
    fi
    sleep 1
done
echo "ERROR: dockerd did not answer within ${WAIT}s. Last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
