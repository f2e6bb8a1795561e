"""The relay server against local stand-ins of the robot APIs, over real HTTP."""

from __future__ import annotations

import json

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from standins import Robots, channels

from openclaw_relay.config import settings_from_dict
from openclaw_relay.http import build_app


@pytest.fixture
async def robots():
    state = Robots()
    server = TestServer(state.app())
    await server.start_server()
    state.base = str(server.make_url("")).rstrip("/")
    yield state
    await server.close()


async def _relay(robots, sleeps: list, **overrides):
    doc = {"attempts": 3, "backoff": 0.5, "channels": channels(robots.base), **overrides}
    if "secret" in overrides:
        doc["channels"] = channels(robots.base, secret=overrides.pop("secret"))
        doc.pop("secret")

    async def sleep(seconds):
        sleeps.append(seconds)

    server = TestServer(build_app(settings_from_dict(doc), sleep=sleep))
    await server.start_server()
    return server


async def _post(server, path: str, body) -> tuple[int, dict]:
    async with ClientSession() as s:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with s.post(server.make_url(path), data=data) as resp:
            return resp.status, await resp.json()


async def _metrics(server) -> str:
    async with ClientSession() as s, s.get(server.make_url("/metrics")) as resp:
        return await resp.text()


async def test_wecom_and_dingtalk_receive_their_formats(robots, payload):
    relay = await _relay(robots, [])
    try:
        assert await _post(relay, "/alert/wecom", payload) == (
            200,
            {"status": "delivered", "channel": "wecom"},
        )
        assert (await _post(relay, "/alert/dingtalk", payload))[0] == 200
        (wecom,) = robots.wecom
        assert wecom["msgtype"] == "markdown"
        assert wecom["markdown"]["content"].startswith("### [告警:1] OpenClawHostCpuHigh")
        (ding,) = robots.dingtalk
        assert ding["markdown"]["title"] == "[告警:1] OpenClawHostCpuHigh (critical)"
        assert robots.refused == []
        metrics = await _metrics(relay)
        delivered = 'channel="dingtalk",outcome="delivered",status="firing"} 1.0'
        assert "openclaw_relay_notifications_total{" + delivered in metrics
    finally:
        await relay.close()


async def test_a_wrong_dingtalk_secret_is_refused_at_once(robots, payload):
    sleeps: list = []
    relay = await _relay(robots, sleeps, secret="SECwrong")
    try:
        status, answer = await _post(relay, "/alert/dingtalk", payload)
        assert status == 502 and answer["code"] == "delivery_failed"
        assert "310000" in answer["error"] and "signing secret" in answer["error"]
        assert robots.refused == [("dingtalk", 310000)] and sleeps == []
        metrics = await _metrics(relay)
        assert 'openclaw_relay_attempts_total{channel="dingtalk",result="error"} 1.0' in metrics
    finally:
        await relay.close()


async def test_server_errors_are_retried_with_backoff(robots, payload):
    sleeps: list = []
    robots.fail_first = 2
    relay = await _relay(robots, sleeps)
    try:
        assert (await _post(relay, "/alert/dingtalk", payload))[0] == 200
        assert sleeps == [0.5, 1.0] and len(robots.dingtalk) == 1
        metrics = await _metrics(relay)
        assert 'openclaw_relay_attempts_total{channel="dingtalk",result="retry"} 2.0' in metrics
    finally:
        await relay.close()


async def test_an_unreachable_robot_fails_after_every_attempt(payload):
    sleeps: list = []
    doc = {"attempts": 3, "backoff": 0.1, "channels": channels("http://127.0.0.1:9")}

    async def sleep(seconds):
        sleeps.append(seconds)

    relay = TestServer(build_app(settings_from_dict(doc), sleep=sleep))
    await relay.start_server()
    try:
        status, answer = await _post(relay, "/alert/wecom", payload)
        assert status == 502 and "after 3 attempts" in answer["error"]
        assert sleeps == [0.1, 0.2]
    finally:
        await relay.close()


async def test_unknown_channel_and_bad_payload(robots, payload):
    relay = await _relay(robots, [])
    try:
        status, answer = await _post(relay, "/alert/slack", payload)
        assert status == 404 and "configured: wecom, dingtalk" in answer["error"]
        assert (await _post(relay, "/alert/wecom", b"not json"))[0] == 400
        assert (await _post(relay, "/alert/wecom", {"alerts": []}))[0] == 400
        assert robots.wecom == []
    finally:
        await relay.close()
