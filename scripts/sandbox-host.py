#!/usr/bin/env python3
"""Start or remove a systemd host container with the Molecule platform settings.

The settings (capabilities, tmpfs, cgroup namespace, ...) are read from the
first platform of .config/molecule/config.yml, so `make demo` and every
Molecule scenario boot their hosts the same, measured way.

    sandbox-host.py start NAME --image IMAGE --network NET [--volume SRC:DST]
    sandbox-host.py remove NAME [--network NET]
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _platform():
    config = yaml.safe_load((ROOT / ".config/molecule/config.yml").read_text())
    return config["platforms"][0]


def _docker(*args, check=True, capture=False):
    return subprocess.run(["docker", *args], check=check, text=True, capture_output=capture)


def _exists(kind, name):
    return _docker(kind, "inspect", name, check=False, capture=True).returncode == 0


def start(args):
    """Create (or reuse) the host container and wait until systemd is up."""
    if not _exists("network", args.network):
        _docker("network", "create", args.network, capture=True)
    if _exists("container", args.name):
        state = _docker("inspect", "-f", "{{.State.Running}}", args.name, capture=True).stdout
        if state.strip() != "true":
            _docker("start", args.name, capture=True)
        print("==> [sandbox] %s already exists; reusing it" % args.name)
    else:
        p = _platform()
        cmd = [
            "run",
            "-d",
            "--name",
            args.name,
            "--hostname",
            args.name,
            "--network",
            args.network,
            "--cgroupns",
            p.get("cgroupns_mode", "host"),
            "--stop-signal",
            p.get("stop_signal", "SIGRTMIN+3"),
            "--label",
            "org.openclaw.sandbox=1",
        ]
        for cap in p["capabilities"]:
            cmd += ["--cap-add", cap]
        for opt in p.get("security_opts", []):
            cmd += ["--security-opt", opt]
        for vol in p.get("volumes", []) + (args.volume or []):
            cmd += ["-v", vol]
        for tmpfs in p.get("tmpfs", []):
            cmd += ["--tmpfs", tmpfs]
        for key, value in p.get("env", {}).items():
            cmd += ["-e", "%s=%s" % (key, value)]
        for port in args.publish or []:
            cmd += ["-p", port]
        cmd += [args.image, p.get("command", "/lib/systemd/systemd")]
        _docker(*cmd, capture=True)
        print(
            "==> [sandbox] started %s from %s on network %s" % (args.name, args.image, args.network)
        )
    # As in molecule/_shared/prepare.yml: /proc/sys read-write, systemd booted.
    _docker("exec", args.name, "mount", "-o", "remount,bind,rw", "/proc/sys", capture=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        out = _docker(
            "exec", args.name, "systemctl", "is-system-running", check=False, capture=True
        ).stdout.strip()
        if out in ("running", "degraded"):
            print("==> [sandbox] %s: systemd %s" % (args.name, out))
            return 0
        time.sleep(1)
    print(
        "ERROR: systemd in %s did not finish booting within 120 s; "
        "see: docker exec %s systemctl --failed" % (args.name, args.name),
        file=sys.stderr,
    )
    return 1


def remove(args):
    """Remove the host container (with its anonymous volumes) and the network."""
    if _exists("container", args.name):
        _docker("rm", "-f", "-v", args.name, capture=True)
        print("==> [sandbox] removed container %s" % args.name)
    if args.network and _exists("network", args.network):
        _docker("network", "rm", args.network, check=False, capture=True)
        print("==> [sandbox] removed network %s" % args.network)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    p_start = sub.add_parser("start")
    p_start.add_argument("name")
    p_start.add_argument("--image", required=True)
    p_start.add_argument("--network", required=True)
    p_start.add_argument("--volume", action="append")
    p_start.add_argument("--publish", action="append")
    p_remove = sub.add_parser("remove")
    p_remove.add_argument("name")
    p_remove.add_argument("--network")
    args = parser.parse_args()
    return start(args) if args.action == "start" else remove(args)


if __name__ == "__main__":
    sys.exit(main())
