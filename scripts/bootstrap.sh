#!/usr/bin/env bash
# Idempotent bootstrap for `make test`, `make demo` and `make bench`:
#   venv    .venv/ with the pinned control-node tooling and the runtime package
#   apt     the Debian packages listed in requirements/apt.txt
#   docker  a running Docker engine (scripts/ensure-docker.sh)
#   images  the local systemd test images (scripts/build-test-images.sh)
#   lock    re-freeze requirements/constraints.txt from .venv
# With no argument: apt, venv, docker, images.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PY=${OPENCLAW_PYTHON:-python3}

say() { printf '==> [bootstrap] %s\n' "$*"; }

apt_packages() {
    local missing=()
    while read -r pkg; do
        pkg=${pkg%%#*}; pkg=${pkg//[[:space:]]/}
        [ -n "$pkg" ] || continue
        dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done < requirements/apt.txt
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages present"
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "ERROR: missing Debian packages: ${missing[*]}; install them (as root) and re-run." >&2
        exit 1
    fi
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv_stamp() {
    local f
    for f in requirements/tools.txt requirements/constraints.txt runtime/pyproject.toml; do
        [ -f "$f" ] && cat "$f"
    done | sha256sum | cut -c1-16
}

venv() {
    local want
    want=$(venv_stamp)
    if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.openclaw-stamp" 2>/dev/null)" = "$want" ]; then
        say "virtualenv .venv up to date"
        return 0
    fi
    [ -x "$VENV/bin/python" ] || { say "creating .venv with $($PY --version)"; "$PY" -m venv "$VENV"; }
    local args=(-r requirements/tools.txt)
    [ -f runtime/pyproject.toml ] && args+=(-e "runtime[test,toolchain]")
    [ -f requirements/constraints.txt ] && args+=(-c requirements/constraints.txt)
    say "installing Python packages into .venv (pinned by requirements/constraints.txt); a few minutes the first time"
    "$VENV/bin/pip" install --progress-bar off -q "${args[@]}" 2> >(grep -v "is ignored: it is neither" >&2)
    echo "$want" > "$VENV/.openclaw-stamp"
    say "virtualenv ready: $("$VENV/bin/ansible" --version | head -1), $("$VENV/bin/molecule" --version 2>/dev/null | head -1)"
}

lock() {
    "$VENV/bin/pip" check
    {
        echo "# Exact versions of every Python package in .venv (make lock re-freezes from .venv)."
        echo "# Used as pip constraints by scripts/bootstrap.sh."
        "$VENV/bin/pip" freeze --exclude-editable | grep -v '^-e ' | sort
    } > requirements/constraints.txt
    say "wrote requirements/constraints.txt ($(wc -l < requirements/constraints.txt) pins)"
}

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
    # Everything. On a fresh machine the Debian packages, the Docker engine and
    # the test images (debootstrap) take minutes, and so does the venv's pip
    # install: they share no files, so the venv is made beside them when this
    # Python can make one by itself (otherwise python3-venv comes from apt
    # first). Its output lines carry their own [bootstrap] prefix.
    if [ -x "$VENV/bin/python" ] || "$PY" -c 'import ensurepip, venv' 2>/dev/null; then
        venv_log=$(mktemp)
        say "Python virtualenv: checked beside the Debian packages, Docker and the test images (its lines follow theirs)"
        venv >"$venv_log" 2>&1 &
        venv_pid=$!
        rc=0
        apt_packages && scripts/ensure-docker.sh && scripts/build-test-images.sh || rc=$?
        wait "$venv_pid" || { rc=1; echo "ERROR: the virtualenv step failed:" >&2; }
        cat "$venv_log"
        rm -f "$venv_log"
        exit $rc
    fi
    steps=(apt venv docker images)
fi
for step in "${steps[@]}"; do
    case $step in
        apt) apt_packages ;;
        venv) venv ;;
        docker) scripts/ensure-docker.sh ;;
        images) scripts/build-test-images.sh ;;
        lock) lock ;;
        *) echo "unknown bootstrap step: $step (use apt, venv, docker, images, lock)" >&2; exit 2 ;;
    esac
done
