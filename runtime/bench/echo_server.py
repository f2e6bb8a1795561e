"""The ceiling of the HTTP stack: a bare aiohttp server that parses the JSON body and echoes it.

Written the way aiohttp's documentation does it (asyncio's event loop,
``request.json()``, ``web.json_response``), with the runtime's process model
(N processes sharing the port with SO_REUSEPORT). This is the peer the issue
names and the 0.9x target is judged against: it is also what the prototype
figures in the testing notes measured (14-17k req/s per process; this server
does 12-14k per process here, the tuned one 19-20k).

``--tuned``: the same echo on uvloop with orjson, the event loop and JSON library
the runtime itself uses. A stricter ceiling, shown and recorded beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import signal
import socket

import orjson
import uvloop
from aiohttp import web


async def echo(request: web.Request) -> web.Response:
    return web.json_response(await request.json())


async def echo_tuned(request: web.Request) -> web.Response:
    doc = orjson.loads(await request.read())
    return web.Response(body=orjson.dumps(doc), content_type="application/json")


async def ready(_request: web.Request) -> web.Response:
    return web.Response(body=b'{"ready": true}', content_type="application/json")


async def _main(port: int, tuned: bool) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    app = web.Application()
    app.router.add_post("/{tail:.*}", echo_tuned if tuned else echo)
    app.router.add_get("/v2/health/ready", ready)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock, backlog=4096).start()
    await asyncio.Event().wait()


def _serve(port: int, tuned: bool) -> None:
    if tuned:
        uvloop.run(_main(port, tuned))
    else:
        asyncio.run(_main(port, tuned))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--tuned", action="store_true", help="uvloop and orjson")
    args = parser.parse_args()
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    procs = [
        mp.Process(target=_serve, args=(args.port, args.tuned), daemon=True)
        for _ in range(args.workers)
    ]
    for p in procs:
        p.start()
    # Block first: sigwait only receives signals that are blocked.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    signal.sigwait(stop_signals)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(10)


if __name__ == "__main__":
    main()
