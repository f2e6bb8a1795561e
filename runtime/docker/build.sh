#!/usr/bin/env bash
# Build the runtime image: fill runtime/wheelhouse/ with wheels resolved on this host
# (its pip configuration, mirror and CA), then docker build with them, offline.
#   runtime/docker/build.sh [IMAGE] [BASE_IMAGE]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
image="${1:-openclaw/runtime:latest}"
base="${2:-openclaw-test/debian:bookworm}"
pip="${PIP:-$here/../.venv/bin/pip}"
mkdir -p "$here/wheelhouse"
"$pip" wheel --quiet --wheel-dir "$here/wheelhouse" "$here"
# Wheels that only older patch releases need (Debian 12 ships Python 3.11.2; redis
# wants async-timeout below 3.11.3) are not resolved on a newer host: add them.
"$pip" wheel --quiet --wheel-dir "$here/wheelhouse" "async-timeout>=4.0.3"
docker build --build-arg "BASE_IMAGE=$base" -t "$image" "$here"
