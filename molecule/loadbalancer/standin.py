#!/usr/bin/env python3
"""Stand-in for one runtime replica behind HAProxy in the loadbalancer scenario.

HTTP/1.1 with keep-alive, like the runtime. GET /v2/health/ready answers 200,
or 503 while the file /run/openclaw-standin/<port>.down exists (the tests
create it to fail a health check). Every other request gets a JSON echo of
what HAProxy forwarded: the replica's port, the X-Forwarded-For header and
the path. The real runtime behind the LB is proven by the cluster scenario.
"""

import json
import os
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
DOWN = f"/run/openclaw-standin/{PORT}.down"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v2/health/ready":
            down = os.path.exists(DOWN)
            self._answer(503 if down else 200, {"ready": not down})
            return
        self._answer(
            200,
            {
                "port": PORT,
                "host": socket.gethostname(),
                "xff": self.headers.get_all("X-Forwarded-For") or [],
                "path": self.path,
            },
        )

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("0.0.0.0", PORT), Handler).serve_forever()
