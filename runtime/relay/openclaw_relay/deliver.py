"""Post one message to a robot, retrying with exponential backoff."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp

from .config import Channel, RelaySettings
from .errors import DeliveryError
from .metrics import RelayMetrics
from .robots import RETRYABLE_ERRCODES, signed_url

__all__ = ["Deliverer"]

log = logging.getLogger("openclaw_relay.deliver")


class _Retry(Exception):
    """This attempt failed in a way a later one may not."""


class Deliverer:
    """Sends robot messages: each attempt re-signs (DingTalk rejects old timestamps)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: RelaySettings,
        metrics: RelayMetrics,
        *,
        clock=time.time,
        sleep=asyncio.sleep,
    ) -> None:
        self.session = session
        self.settings = settings
        self.metrics = metrics
        self._clock = clock
        self._sleep = sleep

    async def _attempt(self, channel: Channel, body: dict) -> None:
        url = signed_url(channel, int(self._clock() * 1000))
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        try:
            async with self.session.post(url, json=body, timeout=timeout) as resp:
                raw = await resp.read()
                status = resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        if status >= 500 or status == 429:
            raise _Retry(f"HTTP {status}")
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {}
        errcode = answer.get("errcode") if isinstance(answer, dict) else None
        if status == 200 and errcode == 0:
            return
        detail = f"HTTP {status}, errcode {errcode}, errmsg {answer.get('errmsg')!r}"
        if errcode in RETRYABLE_ERRCODES:
            raise _Retry(detail)
        raise DeliveryError(
            f"{channel.kind} robot {channel.name!r} refused the message ({detail}); "
            "check the robot's key/access_token and, for DingTalk, its signing secret"
        )

    async def send(self, channel: Channel, body: dict, status: str) -> None:
        """Deliver ``body`` to ``channel`` or raise DeliveryError after the last attempt."""
        started = time.monotonic()
        delay = self.settings.backoff
        try:
            for attempt in range(1, self.settings.attempts + 1):
                try:
                    await self._attempt(channel, body)
                except _Retry as exc:
                    self.metrics.attempts.labels(channel.name, "retry").inc()
                    log.warning(
                        "robot call failed",
                        extra={"channel": channel.name, "attempt": attempt, "error": str(exc)},
                    )
                    if attempt == self.settings.attempts:
                        raise DeliveryError(
                            f"{channel.kind} robot {channel.name!r} unreachable after "
                            f"{attempt} attempts: {exc}"
                        ) from None
                    await self._sleep(delay)
                    delay *= 2
                    continue
                self.metrics.attempts.labels(channel.name, "ok").inc()
                self.metrics.notifications.labels(channel.name, status, "delivered").inc()
                return
        except DeliveryError:
            self.metrics.attempts.labels(channel.name, "error").inc()
            self.metrics.notifications.labels(channel.name, status, "failed").inc()
            raise
        finally:
            self.metrics.seconds.labels(channel.name).observe(time.monotonic() - started)
