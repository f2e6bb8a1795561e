"""Robot messages in Chinese and English, and DingTalk's signature against openssl."""

from __future__ import annotations

import base64
import subprocess

import pytest
from conftest import alert

from openclaw_relay import PayloadError
from openclaw_relay.config import Channel
from openclaw_relay.render import MAX_BYTES, render
from openclaw_relay.robots import body_for, dingtalk_sign, signed_url


def test_chinese_markdown_names_the_alert_and_links_the_runbook(payload):
    message = render(payload, "zh")
    assert message.title == "[告警:1] OpenClawHostCpuHigh (critical)"
    assert message.markdown.startswith("### [告警:1] OpenClawHostCpuHigh (critical)\n")
    assert "- **实例**: h1:9100" in message.markdown
    assert "- **详情**: CPU use on h1 is 91.0 %" in message.markdown
    link = "https://example.org/README.md#openclawhostcpuhigh"
    assert f"- **处理手册**: [{link}]({link})" in message.markdown
    assert "**" not in message.text and link in message.text


def test_english_resolved_message_says_when(payload):
    payload["status"] = "resolved"
    payload["alerts"] = [alert("resolved")]
    message = render(payload, "en")
    assert message.title == "[RESOLVED:1] OpenClawHostCpuHigh (critical)"
    assert "- **resolved at**: 2026-12-04T19:10:00Z" in message.markdown


def test_a_large_group_is_cut_at_whole_alerts(payload):
    payload["alerts"] = [alert(instance=f"host-{i:03d}:9100") for i in range(200)]
    message = render(payload, "en")
    assert len(message.markdown.encode()) <= MAX_BYTES
    assert message.markdown.rstrip().endswith("more not shown")
    assert message.markdown.count("#### OpenClawHostCpuHigh") < 200


@pytest.mark.parametrize(
    "doc",
    [
        None,
        {"alerts": "x"},
        {"status": "weird", "alerts": [{}]},
        {"status": "firing", "alerts": []},
    ],
)
def test_not_an_alertmanager_payload(doc):
    with pytest.raises(PayloadError):
        render(doc, "en")


def test_dingtalk_signature_matches_openssl():
    secret, stamp = "SECabc", 1700000000000
    mac = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", secret, "-binary"],
        input=f"{stamp}\n{secret}".encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert dingtalk_sign(secret, stamp) == base64.b64encode(mac).decode()


def test_dingtalk_url_is_signed_and_url_encoded():
    channel = Channel("d", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t", "S")
    url = signed_url(channel, 1700000000000)
    sign = dingtalk_sign("S", 1700000000000)
    encoded = sign.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert url == f"{channel.url}&timestamp=1700000000000&sign={encoded}"


def test_robot_bodies(payload):
    message = render(payload, "en")
    wecom = Channel("w", "wecom", "http://w")
    assert body_for(wecom, message) == {
        "msgtype": "markdown",
        "markdown": {"content": message.markdown},
    }
    text = Channel("w", "wecom", "http://w", msgtype="text")
    assert body_for(text, message) == {"msgtype": "text", "text": {"content": message.text}}
    ding = Channel("d", "dingtalk", "http://d", "S")
    assert body_for(ding, message)["markdown"] == {"title": message.title, "text": message.markdown}
