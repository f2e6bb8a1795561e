"""A small HTTP model store for tests: GET with Range, PUT, and injectable faults."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["StoreServer"]


class StoreServer:
    """Serves ``root`` on a loopback port; ``faults`` maps a path suffix to a fault name.

    Faults: ``truncate`` (send half the body, then drop the connection, once),
    ``corrupt`` (flip a byte of the body), ``no-range`` (ignore Range headers).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.faults: dict[str, str] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _fault(self) -> str | None:
                return next((f for s, f in server.faults.items() if self.path.endswith(s)), None)

            def do_GET(self) -> None:
                server.requests.append(("GET", self.path, self.headers.get("Range")))
                path = server.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                fault = self._fault()
                if fault == "corrupt":
                    body = bytes([body[0] ^ 0xFF]) + body[1:]
                match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if match and fault != "no-range":
                    start = int(match.group(1))
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    body = body[start:]
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "truncate":
                    server.faults = {k: v for k, v in server.faults.items() if v != "truncate"}
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def do_PUT(self) -> None:
                server.requests.append(("PUT", self.path, None))
                length = int(self.headers["Content-Length"])
                data = self.rfile.read(length)
                path = server.root / self.path.lstrip("/")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> StoreServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
