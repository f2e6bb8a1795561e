#!/usr/bin/env bash
# Build the systemd test images used by Molecule and `make demo`, locally:
# no registry can be reached, so each image is a debootstrap'ed Debian
# imported with `docker import`.
#
#   openclaw-test/debian:<suite>            stable name used by molecule/ and inventories/
#   openclaw-test/debian:<suite>-<hash>     the same image, tagged with the hash of its recipe
#
# An image is rebuilt only when its recipe (this file + suite + package list)
# changes. Usage: build-test-images.sh [bookworm] [trixie]
set -euo pipefail

MIRROR=${OPENCLAW_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,systemd,systemd-sysv,sudo,procps,iproute2,ca-certificates
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(bookworm trixie)
HERE=$(cd "$(dirname "$0")" && pwd)

say() { printf '==> [images] %s\n' "$*"; }

need_debootstrap() {
    if ! command -v debootstrap >/dev/null; then
        say "installing debootstrap from the Debian packages"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    fi
}

recipe_hash() {
    # The recipe: the build function itself, the suite, the package list and
    # the mirror (not the rest of this file, so unrelated edits reuse images).
    { declare -f build_one; echo "$1 $PACKAGES $MIRROR"; } | sha256sum | cut -c1-12
}

build_one() {
    local suite=$1 hash tag root start
    hash=$(recipe_hash "$suite")
    tag="openclaw-test/debian:${suite}-${hash}"
    if docker image inspect "$tag" >/dev/null 2>&1; then
        docker tag "$tag" "openclaw-test/debian:${suite}"
        say "$suite: up to date ($tag)"
        return 0
    fi
    need_debootstrap
    root=$(mktemp -d "/var/tmp/openclaw-rootfs-${suite}.XXXXXX")
    trap 'rm -rf "$root"' RETURN
    start=$(date +%s)
    say "$suite: debootstrap --variant=minbase ($PACKAGES), about a minute"
    # Progress: debootstrap prints a line per package and step; show the
    # steps and a count every 25 packages so a slow minute shows life.
    debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$root" "$MIRROR" 2>&1 \
        | awk -v s="$suite" '
            /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring)/ { n[$2]++; if (n[$2] % 25 == 1) { print "    [" s "] " $2 " packages... (" n[$2] ")"; fflush() } next }
            /^(I: (Resolving|Checking|Found|Installing|Base)|E:|W:)/ { print "    [" s "] " $0; fflush() }'
    [ -x "$root/lib/systemd/systemd" ] || { echo "ERROR: debootstrap of $suite failed" >&2; return 1; }
    # A container has no getty or udev to wait for; an empty machine-id is
    # regenerated at first boot.
    rm -f "$root"/etc/machine-id && touch "$root"/etc/machine-id
    for unit in getty.target systemd-udevd.service systemd-udev-trigger.service; do
        ln -sf /dev/null "$root/etc/systemd/system/$unit"
    done
    # apt and dpkg settings for throwaway containers, as Debian's official
    # Docker images (and their slim variants) ship them. Every scenario
    # installs packages in fresh containers, and on our 2-core machines that
    # work is CPU-bound (CPU pressure 93 %, I/O pressure 7 % while the suite runs):
    # - force-unsafe-io: dpkg skips its fsync per unpacked file; a container
    #   that crashes mid-install is thrown away, never repaired.
    # - Acquire::Languages "none": no Translation-* indexes; apt-get update
    #   fetches and parses 48 MB of lists instead of 80 MB (bookworm), about
    #   a third less CPU per update, and every scenario host updates.
    # - path-exclude docs, man pages, info, translations: fewer files for
    #   dpkg to write (usr 622 -> 583 MB after docker.io); copyright files
    #   and locale.alias stay, /usr/share/doc stays a directory (the docker
    #   scenario serves its listing from a container). No test reads them.
    # Measured (apt-get install docker.io in a fresh bookworm container,
    # 5 runs each, busy machine): install median 29.8 s -> 22.8 s wall.
    echo force-unsafe-io > "$root"/etc/dpkg/dpkg.cfg.d/docker-apt-speedup
    echo 'Acquire::Languages "none";' > "$root"/etc/apt/apt.conf.d/docker-no-languages
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
        'path-exclude /usr/share/lintian/*' > "$root"/etc/dpkg/dpkg.cfg.d/docker-slim
    # What debootstrap already installed, trimmed the same way (smaller image,
    # faster docker save | docker load into the Docker-in-Docker hosts).
    find "$root"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
    rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian/*
    find "$root"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    say "$suite: importing into Docker as $tag"
    tar -C "$root" -c . | docker import \
        --change 'CMD ["/lib/systemd/systemd"]' \
        --change 'ENV container=docker' \
        --change "LABEL org.openclaw.recipe=${hash}" \
        - "$tag" >/dev/null
    docker tag "$tag" "openclaw-test/debian:${suite}"
    # Drop images of older recipes of this suite.
    docker images --format '{{.Repository}}:{{.Tag}}' openclaw-test/debian \
        | grep -E "^openclaw-test/debian:${suite}-" | grep -v -x "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
    say "$suite: built in $(( $(date +%s) - start ))s"
}

# Derived images: every molecule/_shared/images/<name>/Dockerfile becomes
# openclaw-test/<name>:latest (FROM one of the base images above), rebuilt only
# when its folder or its base image changes.
build_derived() {
    local dir name hash tag
    for dir in "$HERE"/../molecule/_shared/images/*/; do
        [ -f "$dir/Dockerfile" ] || continue
        name=$(basename "$dir")
        hash=$( { tar -C "$dir" -c --sort=name --mtime=@0 --owner=0 --group=0 . ;
                  docker image inspect --format '{{.Id}}' openclaw-test/debian:bookworm openclaw-test/debian:trixie 2>/dev/null; } | sha256sum | cut -c1-12)
        tag="openclaw-test/${name}:${hash}"
        if docker image inspect "$tag" >/dev/null 2>&1; then
            docker tag "$tag" "openclaw-test/${name}:latest"
            say "$name: up to date ($tag)"
            continue
        fi
        say "$name: docker build ($dir)"
        docker build -q -t "$tag" "$dir" 2>&1 | grep -v -i -E 'deprecated|buildx|install the buildx|^ *$|https://docs.docker' || true
        docker image inspect "$tag" >/dev/null 2>&1 || { echo "ERROR: building $name failed" >&2; return 1; }
        docker tag "$tag" "openclaw-test/${name}:latest"
    done
}

docker info >/dev/null 2>&1 || { echo "ERROR: no Docker engine; run scripts/ensure-docker.sh first" >&2; exit 1; }
pids=()
for s in "${SUITES[@]}"; do
    build_one "$s" &
    pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc -eq 0 ] || { echo "ERROR: building a test image failed (see above)" >&2; exit 1; }
[ $# -gt 0 ] || build_derived
