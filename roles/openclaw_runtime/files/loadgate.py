#!/usr/bin/env python3
"""The OpenClaw load gate: an open-loop HTTP/1.1 load generator (standard library only).

Requests go out on a fixed schedule, request i at start + i / rate, whatever
the server does; each one's latency is measured from that scheduled time, not
from the moment a connection was free to send it. A closed-loop generator
(wrk, or any client that waits for an answer before the next request) sends
nothing while the server stalls and so records the stall once per connection;
here every request that should have gone out during the stall carries it
(no coordinated omission).

    loadgate.py --rate 800 --duration 30 --connections 32 --request body.json \\
        --key-file /etc/openclaw/inference-client.key URL [URL ...]

The rate is split evenly over the URLs (the replicas) and the connections over
them; each connection is a keep-alive HTTP/1.1 connection with one request in
flight. Every request body differs (a counter written into the first numeric
input), so a result cache cannot flatter the figures. SIGINT or SIGTERM ends
the schedule early; the report then covers what was scheduled.

Prints one JSON object on standard output. Runs on Python 3.9 and later.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import signal
import ssl
import sys
import time
from urllib.parse import urlsplit

GENERATOR = "open-loop (latency from the scheduled send time)"
# A request the scheduler releases this long after its slot is late; when more
# than LATE_SHARE of them are, the generator itself was short of CPU and says
# so (behind_schedule). Latencies still count from the slot, so such a run
# overstates them, never understates.
LATE_MS = 20.0
LATE_SHARE = 0.01
# Per datatype: how many distinct values one element can carry exactly.
_BASES = {
    "BOOL": 2,
    "UINT8": 256,
    "INT8": 128,
    "UINT16": 65536,
    "INT16": 32768,
    "UINT32": 2**31,
    "INT32": 2**31,
    "UINT64": 2**31,
    "INT64": 2**31,
    "FP16": 2048,
    "FP32": 2**24,
    "FP64": 2**53,
}
ERROR_KINDS = ("connect", "write", "read", "timeout", "status")


class UsageError(Exception):
    """A bad argument or input file: the message says what to change."""


def _flatten(data):
    if isinstance(data, list):
        out = []
        for item in data:
            out.extend(_flatten(item))
        return out
    return [data]


class Bodies:
    """Request bodies that differ from one another in the first numeric input.

    The counter (plus a random offset per run, so a second run does not meet the
    first one's cached results) is written in base-B digits over the first
    elements of that input, B being what its datatype holds exactly.
    """

    def __init__(self, request: dict, total: int, rng: random.Random) -> None:
        inputs = request.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise UsageError("the request body has no inputs[]: give an OIP inference request")
        self.varied_input = None
        self.distinct = 1
        self._parts = (json.dumps(request, separators=(",", ":")).encode(), b"", b"")
        for index, tensor in enumerate(inputs):
            base = _BASES.get(str(tensor.get("datatype", "")).upper())
            if base is None or "data" not in tensor:
                continue
            flat = _flatten(tensor["data"])
            if not flat:
                continue
            space = max(total, 1) * 2**32
            width = min(len(flat), max(1, math.ceil(math.log(space) / math.log(base))))
            self._base, self._width = base, width
            self._modulus = base**width
            self.distinct = min(max(total, 1), self._modulus)
            span = self._modulus - total
            self._offset = rng.randrange(span) if span > 0 else 0
            self._format = _formatter(tensor["datatype"].upper())
            marker = "__openclaw_loadgate_data__"
            shell = json.loads(json.dumps(request))
            shell["inputs"][index]["data"] = marker
            head, tail = json.dumps(shell, separators=(",", ":")).split(json.dumps(marker))
            rest = json.dumps(flat[width:], separators=(",", ":"))[1:-1]
            self._parts = (
                (head + "[").encode(),
                ("," + rest if rest else "").encode() + b"]",
                tail.encode(),
            )
            self.varied_input = tensor.get("name")
            break

    def body(self, i: int) -> bytes:
        """Return the body of request ``i``."""
        head, rest, tail = self._parts
        if self.varied_input is None:
            return head
        value = (i + self._offset) % self._modulus
        digits = []
        for _ in range(self._width):
            value, digit = divmod(value, self._base)
            digits.append(self._format(digit))
        return head + ",".join(digits).encode() + rest + tail


def _formatter(datatype: str):
    if datatype == "BOOL":
        return lambda d: "true" if d else "false"
    if datatype.startswith("FP"):
        return lambda d: "%d.0" % d
    return str


class Target:
    """One URL (a replica) with its share of the connections and its figures."""

    def __init__(self, url: str, key: str, tls: ssl.SSLContext | None = None) -> None:
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            raise UsageError(f"{url!r} is not a valid URL ({err})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{url!r}: give an http:// or https:// URL")
        self.url = url
        # https: a load balancer in front of the replicas (TLS per connection).
        self.tls = tls if parts.scheme == "https" else None
        self.host = parts.hostname
        self.port = port
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        auth = f"Authorization: Bearer {key}\r\n" if key else ""
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\n{auth}Content-Length: "
        ).encode()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.latency: list[float] = []
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self.released = 0
        self.responses = 0


class Run:
    """Everything measured during one run."""

    def __init__(self, targets: list[Target]) -> None:
        self.targets = targets
        self.latency: list[float] = []
        self.service: list[float] = []
        self.lag: list[float] = []
        self.last_done = 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; return its status and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {lines[0][:80]!r}")
    status = int(status_line[1])
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip().lower()
    if status < 200 or status in (204, 304):
        pass  # no body, whatever the headers say
    elif headers.get("transfer-encoding", "").endswith("chunked"):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    else:
        await reader.read()
        return status, False
    keep = headers.get("connection") != "close" and status_line[0] != "HTTP/1.0"
    return status, keep


def _expire(writer: asyncio.StreamWriter, expired: list) -> None:
    """Give up on an answer that took longer than the timeout."""
    expired.append(True)
    writer.transport.abort()


async def _open(target: Target, timeout: float):
    """Open one connection to ``target``; (None, None) when it fails."""
    try:
        return await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port, ssl=target.tls), timeout
        )
    except (OSError, asyncio.TimeoutError):  # noqa: UP041 (Python 3.9/3.10 hosts)
        return None, None


async def _connection(target: Target, bodies: Bodies, run: Run, timeout: float, conn) -> None:
    """Send the requests of one keep-alive connection, one at a time."""
    loop = asyncio.get_running_loop()
    reader, writer = conn

    def close() -> None:
        nonlocal reader, writer
        if writer is not None:
            writer.transport.abort()
        reader = writer = None

    try:
        while True:
            item = await target.queue.get()
            if item is None:
                return
            i, intended = item
            if writer is None:
                reader, writer = await _open(target, timeout)
                if writer is None:
                    target.errors["connect"] += 1
                    continue
            body = bodies.body(i)
            sent = loop.time()
            try:
                writer.write(target.head + b"%d\r\n\r\n" % len(body) + body)
                await writer.drain()
            except OSError:
                target.errors["write"] += 1
                close()
                continue
            # A timer that aborts the connection is cheaper than wait_for's task per request.
            expired = []
            timer = loop.call_later(timeout, _expire, writer, expired)
            try:
                status, keep = await _read_response(reader)
            except (OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                target.errors["timeout" if expired else "read"] += 1
                close()
                continue
            finally:
                timer.cancel()
            done = loop.time()
            run.last_done = max(run.last_done, done)
            target.responses += 1
            target.latency.append(done - intended)
            run.service.append(done - sent)
            if not 200 <= status < 300:
                target.errors["status"] += 1
            if not keep:
                close()
    finally:
        close()


async def _schedule(run: Run, rate: float, total: int, stop: asyncio.Event) -> tuple[float, int]:
    """Release request i to its target's queue at start + i / rate; return (start, released)."""
    loop = asyncio.get_running_loop()
    targets = run.targets
    interval = 1.0 / rate
    start = loop.time()
    i = 0
    while i < total and not stop.is_set():
        now = loop.time()
        due = start + i * interval
        if due > now:
            await asyncio.sleep(due - now)
            continue
        # Everything due by now goes out at once: a late wake-up does not
        # shift the schedule, it shows as dispatch lag.
        while i < total and start + i * interval <= now:
            target = targets[i % len(targets)]
            intended = start + i * interval
            target.queue.put_nowait((i, intended))
            target.released += 1
            run.lag.append(now - intended)
            i += 1
    return start, i


def _percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted ``values`` in milliseconds (0 when empty)."""
    if not values:
        return 0.0
    rank = max(1, math.ceil(pct / 100.0 * len(values)))
    return round(values[rank - 1] * 1000.0, 3)


def _summary(values: list[float]) -> dict:
    values.sort()
    return {
        "p50": _percentile(values, 50),
        "p90": _percentile(values, 90),
        "p99": _percentile(values, 99),
        "max": _percentile(values, 100),
    }


async def _main(args: argparse.Namespace, key: str, request: dict) -> dict:
    loop = asyncio.get_running_loop()
    tls = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    targets = [Target(url, key, tls) for url in args.urls]
    total = max(1, round(args.rate * args.duration))
    bodies = Bodies(request, total, random.Random())
    run = Run(targets)
    per_target = max(1, math.ceil(args.connections / len(targets)))
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Connections open before the clock starts (a failure here is retried, and
    # counted, when the schedule gives the connection its first request).
    owners = [t for t in targets for _ in range(per_target)]
    conns = await asyncio.gather(*(_open(t, args.timeout) for t in owners))
    workers = [
        loop.create_task(_connection(t, bodies, run, args.timeout, conns[k]))
        for k, t in enumerate(owners)
    ]
    cpu0, wall0 = time.process_time(), time.monotonic()
    start, released = await _schedule(run, args.rate, total, stop)
    window = loop.time() - start
    for t in targets:
        for _ in range(per_target):
            t.queue.put_nowait(None)
    # What is still queued or in flight gets the timeout to finish.
    _, pending = await asyncio.wait(workers, timeout=args.timeout + 1.0)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    for t in targets:
        unanswered = t.released - t.responses - sum(t.errors.values()) + t.errors["status"]
        t.errors["timeout"] += unanswered
        run.latency.extend(t.latency)
    return _report(args, run, released, total, window, start, stop.is_set(), bodies, cpu, wall)


def _report(args, run, released, total, window, start, interrupted, bodies, cpu, wall) -> dict:
    targets = run.targets
    responses = sum(t.responses for t in targets)
    kinds = {k: sum(t.errors[k] for t in targets) for k in ERROR_KINDS}
    errors = sum(kinds.values())
    elapsed = max(window, run.last_done - start, 1e-9)
    lag = _summary(run.lag)
    late = sum(1 for v in run.lag if v * 1000.0 > LATE_MS)
    latency = _summary(run.latency)
    service = _summary(run.service)
    return {
        "generator": GENERATOR,
        "requested_rate": args.rate,
        "duration_s": round(window, 3),
        "connections": max(1, math.ceil(args.connections / len(targets))) * len(targets),
        "timeout_s": args.timeout,
        "interrupted": interrupted,
        "scheduled": released if interrupted else total,
        "requests": released,
        "responses": responses,
        "errors": errors,
        "errors_by_kind": kinds,
        "error_pct": round(100.0 * errors / max(released, 1), 4),
        "achieved_rate": round(responses / elapsed, 1),
        "p50_ms": latency["p50"],
        "p90_ms": latency["p90"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
        # From the moment the request was written, as a closed-loop generator
        # measures: the difference to the figures above is the queueing a
        # stall causes.
        "service_time_ms": service,
        "dispatch_lag_ms": lag,
        "late_requests": late,
        "behind_schedule": late > LATE_SHARE * max(released, 1),
        "generator_cpu_pct": round(100.0 * cpu / max(wall, 1e-9), 1),
        "distinct_bodies": bodies.distinct,
        "varied_input": bodies.varied_input,
        "replicas": [_target_report(t) for t in targets],
    }


def _target_report(t: Target) -> dict:
    latency = _summary(t.latency)
    return {
        "url": t.url,
        "port": t.port,
        "requests": t.released,
        "responses": t.responses,
        "errors": sum(t.errors.values()),
        "errors_by_kind": dict(t.errors),
        "p50_ms": latency["p50"],
        "p99_ms": latency["p99"],
        "max_ms": latency["max"],
    }


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="openclaw-runtime-loadgate",
        description="Open-loop load gate: POST inference requests at a fixed rate, "
        "latency from each request's scheduled send time; prints a JSON report.",
    )
    p.add_argument("urls", nargs="+", metavar="URL", help="inference URL of each replica")
    p.add_argument("--rate", type=float, required=True, help="requests per second, all URLs")
    p.add_argument("--duration", type=float, required=True, help="seconds of schedule")
    p.add_argument("--connections", type=int, default=32, help="connections, all URLs (32)")
    p.add_argument("--timeout", type=float, default=2.0, help="seconds per answer (2)")
    p.add_argument(
        "--request", required=True, metavar="FILE", help="JSON inference request (- = stdin)"
    )
    p.add_argument("--key-file", metavar="FILE", help="file holding the API key (Bearer)")
    p.add_argument("--cafile", metavar="FILE", help="CA bundle for https:// URLs (system CAs)")
    p.add_argument(
        "--insecure", action="store_true", help="https:// without certificate checks (self-signed)"
    )
    args = p.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1 or args.timeout <= 0:
        p.error("--rate, --duration, --timeout must be above 0 and --connections at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the gate and print its JSON report; 2 on bad arguments or input files."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    try:
        key = ""
        if args.key_file:
            try:
                with open(args.key_file, encoding="utf-8") as f:
                    key = f.read().strip()
            except OSError as err:
                raise UsageError(
                    f"cannot read the API key file {args.key_file}: {err.strerror}"
                ) from None
            if not key or any(c in key for c in "\r\n"):
                raise UsageError(f"{args.key_file} must hold one API key on one line")
        try:
            if args.request == "-":
                request = json.load(sys.stdin)
            else:
                with open(args.request, encoding="utf-8") as f:
                    request = json.load(f)
        except (OSError, ValueError) as err:
            raise UsageError(f"cannot read the request body {args.request}: {err}") from None
        if not isinstance(request, dict):
            raise UsageError(f"{args.request} must hold a JSON object (an inference request)")
        report = asyncio.run(_main(args, key, request))
    except UsageError as err:
        print(f"openclaw-runtime-loadgate: error: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(report, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
