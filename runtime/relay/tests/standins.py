"""Local HTTP endpoints that stand in for the WeCom and DingTalk robot APIs.

They check what the real APIs check: WeCom the webhook key and the message
shape (markdown content at most 4096 bytes); DingTalk the access token, a
timestamp within an hour, and the signature, recomputed here from the
secret (HMAC-SHA256 of "timestamp\\nsecret", base64), answering errcode
310000 like DingTalk when it does not match.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field

from aiohttp import web

WECOM_KEY = "wecom-test-key"
DINGTALK_TOKEN = "dingtalk-test-token"
DINGTALK_SECRET = "SECtest0123456789abcdef"


@dataclass
class Robots:
    """What the stand-ins received (accepted messages) and refused."""

    wecom: list[dict] = field(default_factory=list)
    dingtalk: list[dict] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    # Answer HTTP 500 to this many calls first (retry tests).
    fail_first: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def _fail(self) -> web.Response | None:
        if self.fail_first > 0:
            self.fail_first -= 1
            return web.json_response({"errcode": -1, "errmsg": "system busy"}, status=500)
        return None

    def _refuse(self, robot: str, code: int, msg: str) -> web.Response:
        self.refused.append((robot, code))
        return web.json_response({"errcode": code, "errmsg": msg})

    async def wecom_send(self, request: web.Request) -> web.Response:
        if (busy := self._fail()) is not None:
            return busy
        if request.query.get("key") != WECOM_KEY:
            return self._refuse("wecom", 93000, "invalid webhook url")
        body = await request.json()
        kind = body.get("msgtype")
        content = (body.get(kind) or {}).get("content") if kind in ("markdown", "text") else None
        if not isinstance(content, str) or not content or len(content.encode()) > 4096:
            return self._refuse("wecom", 40008, "invalid message type or content")
        self.wecom.append(body)
        self.arrived.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def dingtalk_send(self, request: web.Request) -> web.Response:
        if (busy := self._fail()) is not None:
            return busy
        q = request.query
        if q.get("access_token") != DINGTALK_TOKEN:
            return self._refuse("dingtalk", 300001, "token is not exist")
        try:
            stamp = int(q["timestamp"])
        except (KeyError, ValueError):
            return self._refuse("dingtalk", 310000, "sign not match: no timestamp")
        if abs(time.time() * 1000 - stamp) > 3600 * 1000:
            return self._refuse("dingtalk", 310000, "sign not match: timestamp too old")
        mac = hmac.new(
            DINGTALK_SECRET.encode(), f"{stamp}\n{DINGTALK_SECRET}".encode(), hashlib.sha256
        )
        # aiohttp's query has the URL-decoded value: the base64 text itself.
        if not hmac.compare_digest(q.get("sign", ""), base64.b64encode(mac.digest()).decode()):
            return self._refuse("dingtalk", 310000, "sign not match")
        body = await request.json()
        md = body.get("markdown") or {}
        if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
            return self._refuse("dingtalk", 40035, "missing markdown title or text")
        self.dingtalk.append(body)
        self.arrived.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self.wecom_send)
        app.router.add_post("/robot/send", self.dingtalk_send)
        return app


def channels(base: str, secret: str = DINGTALK_SECRET, msgtype: str = "markdown") -> list[dict]:
    """The relay's channel entries for stand-ins served at ``base``."""
    return [
        {
            "name": "wecom",
            "kind": "wecom",
            "url": f"{base}/cgi-bin/webhook/send?key={WECOM_KEY}",
            "msgtype": msgtype,
        },
        {
            "name": "dingtalk",
            "kind": "dingtalk",
            "url": f"{base}/robot/send?access_token={DINGTALK_TOKEN}",
            "secret": secret,
        },
    ]
