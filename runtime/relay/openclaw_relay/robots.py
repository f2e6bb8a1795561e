"""The two robot APIs: request bodies, DingTalk's signed URL, and what counts as success."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

from .config import Channel
from .render import Message

__all__ = ["RETRYABLE_ERRCODES", "body_for", "dingtalk_sign", "signed_url"]

# Robot answers that mean "later" rather than "never": WeCom 45009 (API rate
# limit), DingTalk 130101 (sending too fast), -1 (system busy, both).
RETRYABLE_ERRCODES = frozenset({-1, 45009, 130101})


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64 of HMAC-SHA256 (key: the secret) of "timestamp\\nsecret"."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signed_url(channel: Channel, now_ms: int) -> str:
    """The URL to post to: DingTalk's gets &timestamp=..&sign=.. (URL-encoded), WeCom's as is."""
    if channel.kind != "dingtalk":
        return channel.url
    query = urlencode({"timestamp": now_ms, "sign": dingtalk_sign(channel.secret, now_ms)})
    return f"{channel.url}{'&' if '?' in channel.url else '?'}{query}"


def body_for(channel: Channel, message: Message) -> dict:
    """The JSON body of the robot's message."""
    if channel.kind == "dingtalk":
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": message.markdown},
        }
    if channel.msgtype == "text":
        return {"msgtype": "text", "text": {"content": message.text}}
    return {"msgtype": "markdown", "markdown": {"content": message.markdown}}
