#!/usr/bin/env bash
# Build what the openclaw_runtime role deploys from the controller, only when
# runtime/ changed since the last build (SHA-256 over the tree):
#   .cache/images/openclaw-runtime-<version>.tar   `docker save` of openclaw/runtime:<version>
#   .cache/images/openclaw-runtime-<version>.tar.sha256
#   .cache/models/                                  the demo model (openclaw-model build-demo)
# Usage: scripts/build-runtime-image.sh [--force]
#   BASE_IMAGE (default openclaw-test/debian:bookworm: no registry is reachable here)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH=$ROOT/.venv/bin:$PATH
BASE_IMAGE=${BASE_IMAGE:-openclaw-test/debian:bookworm}
FORCE=${1:-}
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("runtime/pyproject.toml", "rb"))["project"]["version"])')
IMAGE=openclaw/runtime:$VERSION
OUT=.cache/images
ARCHIVE=$OUT/openclaw-runtime-$VERSION.tar
STAMP=$OUT/openclaw-runtime-$VERSION.stamp
MODELS=.cache/models
MODEL_STAMP=.cache/models.stamp
mkdir -p "$OUT"
# One build at a time: parallel test workers and Molecule scenarios call this
# script together on a fresh machine; the others wait, then find it up to date.
exec 9>"$OUT/.build.lock"
flock 9

log() { echo "==> [runtime-image] $*"; }

# Content hash of the runtime tree (caches, build leftovers and the derived
# wheelhouse excluded) plus the base image ID: either changing means a new image.
tree_hash() {
    local base_id
    base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || echo none)
    {
        find runtime -type f \
            ! -path '*/__pycache__/*' ! -path '*/.pytest_cache/*' ! -path '*/.ruff_cache/*' ! -path '*.egg-info/*' \
            ! -path 'runtime/build/*' ! -path 'runtime/wheelhouse/*' ! -name '*.pyc' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum
        echo "base $BASE_IMAGE $base_id"
    } | sha256sum | cut -c1-64
}

HASH=$(tree_hash)

if [ "$FORCE" != --force ] && [ -f "$ARCHIVE" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$HASH" ]; then
    log "$ARCHIVE is up to date (runtime/ unchanged, tree ${HASH:0:12})"
else
    test -f runtime/Dockerfile || { echo "ERROR: runtime/Dockerfile does not exist" >&2; exit 1; }
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || {
        echo "ERROR: base image $BASE_IMAGE is missing; run scripts/build-test-images.sh (make images)" >&2
        exit 1
    }
    log "runtime/ changed (tree ${HASH:0:12}): runtime/docker/build.sh $IMAGE $BASE_IMAGE"
    start=$(date +%s)
    # Containers here cannot verify PyPI's TLS chain, so the runtime's build
    # script resolves wheels on this host (runtime/wheelhouse) and builds
    # offline. Wheels resolved on this host miss what only the image needs:
    # redis wants async-timeout on the image's Python 3.11.2 (not on 3.11.3+).
    pip wheel --quiet --wheel-dir runtime/wheelhouse 'async-timeout>=4.0.3'
    PIP=$ROOT/.venv/bin/pip runtime/docker/build.sh "$IMAGE" "$BASE_IMAGE" 2>&1 | sed -u 's/^/    /'
    # The image must really contain the runtime.
    if ! docker run --rm --network none "$IMAGE" --version >/dev/null 2>&1; then
        echo "ERROR: $IMAGE cannot run 'openclaw-runtime --version'; see the build output above." >&2
        exit 1
    fi
    log "built $IMAGE in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
    log "docker save $IMAGE > $ARCHIVE"
    docker save "$IMAGE" -o "$ARCHIVE.tmp"
    sha256sum "$ARCHIVE.tmp" | sed "s#$ARCHIVE.tmp#$(basename "$ARCHIVE")#" >"$ARCHIVE.sha256"
    mv -f "$ARCHIVE.tmp" "$ARCHIVE"
    echo "$HASH" >"$STAMP"
    log "wrote $ARCHIVE ($(du -h "$ARCHIVE" | cut -f1)), sha256 $(cut -c1-16 "$ARCHIVE.sha256")..."
fi

# The demo model: build-demo is reproducible (fixed seed), so a rebuild gives
# the same bytes and the role sees the same model release.
if [ "$FORCE" != --force ] && [ -d "$MODELS" ] && [ -f "$MODEL_STAMP" ] && [ "$(cat "$MODEL_STAMP")" = "$HASH" ]; then
    log "demo model in $MODELS is up to date"
else
    log "building the demo model: openclaw-model build-demo --to $MODELS"
    mkdir -p "$MODELS"
    openclaw-model build-demo --to "$MODELS" 2>&1 | sed -u 's/^/    /'
    echo "$HASH" >"$MODEL_STAMP"
fi
