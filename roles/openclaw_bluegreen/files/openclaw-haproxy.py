#!/usr/bin/env python3
"""Drive HAProxy's runtime API for OpenClaw releases (standard library only).

Talks to the admin socket (`stats socket ... level admin`) directly, one
command per connection, the way socat does; no reload is ever needed.

    openclaw-haproxy state  --backend openclaw_runtime
    openclaw-haproxy switch --backend openclaw_runtime --enable a,b --drain c,d
    openclaw-haproxy watch  --backend openclaw_runtime --servers a,b --seconds 60
    openclaw-haproxy set    --backend openclaw_runtime --servers a,b --state maint

switch: the servers of --enable go to `ready` and must report UP (their health
checks pass) before anything else happens; only then the servers of --drain go
to `drain` (no new requests, in-flight ones finish) and, once their current
sessions reach zero or --drain-timeout passes, to `maint`. When an enabled
server does not come UP in time, the enabled servers go back to `maint` and
the drained ones are never touched (exit 2).

watch: samples `show stat` every second for --seconds and prints, for the
given servers, the responses and the errors (5xx answers, connection and
response errors) that happened in the window; it exits 3 as soon as the
error share passes --max-error-pct after --min-requests answers, or a server
goes DOWN.

Prints one JSON object on standard output; exit 0 = done, 1 = usage or
socket error, 2 = switch aborted, 3 = watch failed.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import socket
import sys
import time

ERROR_FIELDS = ("hrsp_5xx", "eresp", "econ")
ANSWER_FIELDS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")


class SocketError(Exception):
    """The admin socket refused a command or is missing."""


def command(sock_path: str, line: str) -> str:
    """Send one runtime API command and return HAProxy's answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect(sock_path)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except OSError as exc:
        raise SocketError(
            f"HAProxy admin socket {sock_path}: {exc}. Is haproxy running with "
            f"'stats socket {sock_path} level admin' (playbooks/loadbalancer.yml)?"
        ) from exc
    answer = b"".join(chunks).decode(errors="replace")
    for bad in (
        "Unknown command",
        "No such server",
        "No such backend",
        "Permission denied",
        "Require ",
    ):
        if bad in answer:
            raise SocketError(f"HAProxy refused '{line}': {answer.strip()}")
    return answer


def stats(sock_path: str, backend: str) -> dict[str, dict]:
    """Return `show stat` rows of the backend's servers, by server name."""
    text = command(sock_path, "show stat")
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    out = {}
    for row in rows:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        out[row["svname"]] = row
    if not out:
        raise SocketError(f"backend {backend} has no servers in 'show stat'")
    return out


def _int(row: dict, field: str) -> int:
    value = row.get(field) or "0"
    return int(value) if value.isdigit() else 0


def summary(row: dict) -> dict:
    """The fields of one server that a release decision needs."""
    return {
        "status": row.get("status", ""),
        "weight": _int(row, "weight"),
        "scur": _int(row, "scur"),
        "answers": sum(_int(row, f) for f in ANSWER_FIELDS),
        "errors": sum(_int(row, f) for f in ERROR_FIELDS),
        "hrsp_5xx": _int(row, "hrsp_5xx"),
        "ttime_ms": _int(row, "ttime"),
        "addr": row.get("addr", ""),
    }


def is_up(status: str) -> bool:
    """UP (checks pass) or `no check` (no health check configured)."""
    return status in ("UP", "no check")


def _names(value: str) -> list[str]:
    return [n for n in value.split(",") if n]


def _missing(current: dict, names: list[str], backend: str) -> None:
    unknown = [n for n in names if n not in current]
    if unknown:
        raise SocketError(
            f"servers {', '.join(unknown)} are not in backend {backend}: the load balancer's "
            "configuration does not list them yet (run playbooks/loadbalancer.yml after "
            "changing the inventory's replicas)"
        )


def set_state(sock: str, backend: str, names: list[str], state: str) -> None:
    """Set the administrative state of each server."""
    for name in names:
        command(sock, f"set server {backend}/{name} state {state}")


def do_switch(args) -> tuple[int, dict]:
    enable, drain = _names(args.enable), _names(args.drain)
    current = stats(args.socket, args.backend)
    _missing(current, enable + drain, args.backend)
    t0 = time.monotonic()
    set_state(args.socket, args.backend, enable, "ready")
    deadline = t0 + args.ready_timeout
    while True:
        current = stats(args.socket, args.backend)
        down = [n for n in enable if not is_up(current[n]["status"])]
        if not down:
            break
        if time.monotonic() > deadline:
            set_state(args.socket, args.backend, enable, "maint")
            return 2, {
                "aborted": True,
                "msg": f"servers {', '.join(down)} did not come UP within {args.ready_timeout} s "
                f"(status: {', '.join(current[n]['status'] for n in down)}); they are back in "
                "maint and the live servers were not touched",
            }
        time.sleep(0.5)
    t_ready = time.monotonic()
    # Slots in maint (beyond a host's replicas, or already out) stay there:
    # `state drain` would take them out of maint.
    drain = [n for n in drain if n not in enable and not current[n]["status"].startswith("MAINT")]
    set_state(args.socket, args.backend, drain, "drain")
    t_switched = time.monotonic()
    deadline = t_switched + args.drain_timeout
    while drain:
        current = stats(args.socket, args.backend)
        busy = [n for n in drain if _int(current[n], "scur") > 0]
        if not busy or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    t_drained = time.monotonic()
    set_state(args.socket, args.backend, drain, "maint")
    current = stats(args.socket, args.backend)
    return 0, {
        "aborted": False,
        "ready_seconds": round(t_ready - t0, 3),
        "switch_seconds": round(t_switched - t0, 3),
        "drain_seconds": round(t_drained - t_switched, 3),
        "servers": {n: summary(current[n]) for n in enable + drain},
    }


def do_watch(args) -> tuple[int, dict]:
    names = _names(args.servers)
    first = stats(args.socket, args.backend)
    _missing(first, names, args.backend)
    base = {n: summary(first[n]) for n in names}
    start = time.monotonic()
    result: dict = {"failed": False, "reason": ""}
    while True:
        time.sleep(1)
        now = {n: summary(row) for n, row in stats(args.socket, args.backend).items() if n in names}
        answers = sum(now[n]["answers"] - base[n]["answers"] for n in names)
        errors = sum(now[n]["errors"] - base[n]["errors"] for n in names)
        pct = 100.0 * errors / answers if answers else 0.0
        down = [n for n in names if not is_up(now[n]["status"])]
        result.update(
            {
                "seconds": round(time.monotonic() - start, 1),
                "answers": answers,
                "errors": errors,
                "error_pct": round(pct, 4),
                "hrsp_5xx": sum(now[n]["hrsp_5xx"] - base[n]["hrsp_5xx"] for n in names),
                "avg_ttime_ms": max((now[n]["ttime_ms"] for n in names), default=0),
                "down": down,
            }
        )
        if down:
            result.update(
                failed=True, reason=f"servers {', '.join(down)} went DOWN (health checks failing)"
            )
            return 3, result
        if answers >= args.min_requests and pct > args.max_error_pct:
            result.update(
                failed=True,
                reason=f"error rate {pct:.3f} % > {args.max_error_pct} % ({errors} of "
                f"{answers} answers: 5xx answers, connection or response errors)",
            )
            return 3, result
        if time.monotonic() - start >= args.seconds:
            return 0, result


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("state", "switch", "watch", "set"))
    p.add_argument("--socket", default="/run/haproxy/admin.sock")
    p.add_argument("--backend", default="openclaw_runtime")
    p.add_argument("--enable", default="", help="servers to make ready (switch)")
    p.add_argument("--drain", default="", help="servers to drain then maint (switch)")
    p.add_argument("--servers", default="", help="servers to watch or set")
    p.add_argument("--state", choices=("ready", "drain", "maint"), help="state for set")
    p.add_argument("--ready-timeout", type=float, default=60.0)
    p.add_argument("--drain-timeout", type=float, default=30.0)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--max-error-pct", type=float, default=0.1)
    p.add_argument("--min-requests", type=int, default=100)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse(argv)
    try:
        if args.action == "state":
            code, out = 0, {n: summary(r) for n, r in stats(args.socket, args.backend).items()}
        elif args.action == "switch":
            code, out = do_switch(args)
        elif args.action == "watch":
            code, out = do_watch(args)
        else:
            names = _names(args.servers)
            _missing(stats(args.socket, args.backend), names, args.backend)
            set_state(args.socket, args.backend, names, args.state)
            code, out = 0, {"set": names, "state": args.state}
    except SocketError as exc:
        code, out = 1, {"msg": str(exc)}
    print(json.dumps(out, sort_keys=True))
    return code


if __name__ == "__main__":
    sys.exit(main())
