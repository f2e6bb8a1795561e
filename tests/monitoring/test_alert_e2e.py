"""A real alert end to end, every endpoint on this machine.

The configuration is what openclaw_monitoring renders (prometheus.yml, the
rules, alertmanager.yml, the relay's relay.yml) for an inventory whose one
runtime replica is a local /metrics endpoint. The real Prometheus and
Alertmanager of the Debian packages run on loopback ports, the relay runs as
it does under systemd, and local receivers stand in for the four channels: an
SMTP sink (aiosmtpd), a webhook receiver, and the WeCom and DingTalk robot
APIs (the DingTalk one verifies the signature). Then:

1. Prometheus scrapes the replica with its monitor:view key;
2. the replica stops: OpenClawReplicaDown (critical) fires; a drill rule set
   through openclaw_monitoring_extra_rule_groups fires at both severities;
3. every channel gets the critical alert in its exact format, warnings reach
   mail and the webhook only, the drill's warning is inhibited;
4. the replica comes back: the resolved notification arrives everywhere.
"""

from __future__ import annotations

import email
import email.policy
import os
import shutil
import subprocess
import sys

import pytest
import stack
from aiohttp import ClientError, ClientSession, web
from aiosmtpd.controller import Controller
from render import ROOT, render
from stack import ALERTMANAGER, PROMETHEUS, free_port, until

sys.path.insert(0, str(ROOT / "runtime" / "relay" / "tests"))
from standins import DINGTALK_SECRET, DINGTALK_TOKEN, WECOM_KEY, Robots

pytestmark = pytest.mark.skipif(
    not (PROMETHEUS and ALERTMANAGER and shutil.which("promtool") and shutil.which("amtool")),
    reason="prometheus / prometheus-alertmanager missing: make bootstrap (requirements/apt.txt)",
)
SCRAPE_KEY = "oc_0123456789abcdef_prometheus-scrape-test"
MAIL_TO = "ops@example.test"
# The warning fires 3 s after its critical (for: 3s): Alertmanager decides an
# inhibition when the target's group is flushed, from the source alerts its
# inhibitor has seen by then, so a source and a target that arrive in the same
# instant race (prometheus/alertmanager#2229). Seen once in a make test
# rehearsal: the warning was sent to the webhook beside its critical.
DRILL = [
    {
        "name": "e2e-drill",
        "rules": [
            {
                "alert": "OpenClawDrill",
                "expr": "vector(1)",
                "for": "0s" if severity == "critical" else "3s",
                "labels": {"severity": severity, "team": "openclaw"},
                "annotations": {"summary": f"drill ({severity})"},
            }
            for severity in ("critical", "warning")
        ],
    }
]


class Mailbox:
    """aiosmtpd handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


class Replica:
    """A runtime replica's /metrics that answers only the monitor:view key."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.authorized = 0
        self.runner: web.AppRunner | None = None

    async def metrics(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {SCRAPE_KEY}":
            return web.json_response({"error": "missing or invalid API key"}, status=401)
        self.authorized += 1
        text = (
            'openclaw_requests_in_flight 0\nopenclaw_model_loaded{model="digits",version="1"} 1\n'
        )
        return web.Response(text=text, content_type="text/plain")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


async def _serve(app: web.Application, port: int) -> web.AppRunner:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def _names(payloads: list[dict], status: str | None = None) -> set[tuple[str, str]]:
    return {
        (a["labels"]["alertname"], a["labels"].get("severity", ""))
        for p in payloads
        for a in p["alerts"]
        if status is None or a["status"] == status
    }


def _arrived(hooks: list[dict], mailbox: Mailbox, robots: Robots) -> str:
    """What each channel received so far, for a timeout's message."""
    return (
        f"webhook firing {sorted(_names(hooks, 'firing'))} resolved "
        f"{sorted(_names(hooks, 'resolved'))}; mail {[m['Subject'] for m in mailbox.messages]}; "
        f"wecom {[b['markdown']['content'].splitlines()[0] for b in robots.wecom]}; "
        f"dingtalk {[b['markdown']['title'] for b in robots.dingtalk]}; "
        f"dingtalk refused {len(robots.refused)}"
    )


@pytest.mark.asyncio
async def test_a_replica_down_alert_reaches_every_channel_and_resolves(tmp_path):
    ports = {
        k: free_port() for k in ("prom", "am", "relay", "smtp", "hook", "robots", "replica", "node")
    }
    base = f"http://127.0.0.1:{ports['robots']}"
    conf = tmp_path / "etc"
    extra = {
        "openclaw_monitoring_prometheus_config_dir": str(conf),
        "openclaw_monitoring_prometheus_listen": f"127.0.0.1:{ports['prom']}",
        "openclaw_monitoring_alertmanager_listen": f"127.0.0.1:{ports['am']}",
        "openclaw_monitoring_relay_listen": f"127.0.0.1:{ports['relay']}",
        "openclaw_monitoring_node_exporter_listen": f":{ports['node']}",  # nothing listens: down
        "openclaw_monitoring_prometheus_scrape_interval": "1s",
        "openclaw_monitoring_prometheus_evaluation_interval": "1s",
        "openclaw_monitoring_alert_down_for": "3s",
        "openclaw_monitoring_alertmanager_group_wait": "1s",
        "openclaw_monitoring_alertmanager_group_interval": "2s",
        "openclaw_monitoring_runtime_api_key": SCRAPE_KEY,
        "openclaw_monitoring_smtp_to": [MAIL_TO],
        "openclaw_monitoring_smtp_from": "alertmanager@example.test",
        "openclaw_monitoring_smtp_smarthost": f"127.0.0.1:{ports['smtp']}",
        "openclaw_monitoring_smtp_require_tls": False,
        "openclaw_monitoring_webhook_urls": [f"http://127.0.0.1:{ports['hook']}/hook"],
        "openclaw_monitoring_wecom_url": f"{base}/cgi-bin/webhook/send?key={WECOM_KEY}",
        "openclaw_monitoring_dingtalk_url": f"{base}/robot/send?access_token={DINGTALK_TOKEN}",
        "openclaw_monitoring_dingtalk_secret": DINGTALK_SECRET,
        "openclaw_monitoring_relay_attempts": 2,
        "openclaw_monitoring_relay_backoff": 0.2,
        "openclaw_monitoring_extra_rule_groups": DRILL,
    }
    inventory = {
        "all": {
            "children": {
                "monitoring": {"hosts": {"mon": {"ansible_host": "127.0.0.1"}}},
                "openclaw": {
                    "hosts": {
                        "r1": {
                            "ansible_host": "127.0.0.1",
                            "openclaw_runtime_port_base": ports["replica"],
                            "openclaw_runtime_replicas": 1,
                        }
                    }
                },
            }
        }
    }
    out = render(
        tmp_path / "render", ["rules", "prometheus", "alertmanager", "relay"], extra, inventory
    )
    # Where the role puts them (the key file is the role's copy task).
    (conf / "rules").mkdir(parents=True)
    shutil.copy(out["rules"], conf / "rules" / "openclaw.rules.yml")
    (conf / "openclaw-runtime.key").write_text(SCRAPE_KEY + "\n")
    for args in (
        ["promtool", "check", "config", str(out["prometheus"])],
        ["amtool", "check-config", str(out["alertmanager"])],
        [sys.executable, "-m", "openclaw_relay", "check", "--config", str(out["relay"])],
    ):
        check = subprocess.run(
            args,
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "runtime" / "relay")},
        )
        assert check.returncode == 0, f"{args}: {check.stdout}{check.stderr}"

    mailbox, robots, hooks = Mailbox(), Robots(), []

    async def hook(request: web.Request) -> web.Response:
        hooks.append(await request.json())
        return web.Response(text="ok")

    hook_app = web.Application()
    hook_app.router.add_post("/hook", hook)
    smtp = Controller(mailbox, hostname="127.0.0.1", port=ports["smtp"])
    smtp.start()
    runners = [await _serve(robots.app(), ports["robots"]), await _serve(hook_app, ports["hook"])]
    replica = Replica(ports["replica"])
    await replica.start()
    procs = [
        stack.relay(out["relay"], tmp_path),
        stack.alertmanager(out["alertmanager"], ports["am"], tmp_path),
        stack.prometheus(out["prometheus"], ports["prom"], tmp_path),
    ]
    prom = f"http://127.0.0.1:{ports['prom']}"
    am = f"http://127.0.0.1:{ports['am']}"
    try:
        async with ClientSession() as http:

            async def query(q: str) -> list:
                try:
                    async with http.get(f"{prom}/api/v1/query", params={"query": q}) as resp:
                        return (await resp.json())["data"]["result"] if resp.status == 200 else []
                except ClientError:  # not listening yet
                    return []

            # 1. The replica is scraped with its key and up.
            await until(
                "Prometheus to scrape the replica with its key",
                lambda: query('up{job="openclaw-runtime"} == 1'),
                procs=procs,
            )
            assert replica.authorized > 0

            # 2. It stops: OpenClawReplicaDown fires and is routed.
            await replica.stop()
            await until(
                "the critical alert at every channel",
                lambda: (
                    ("OpenClawReplicaDown", "critical") in _names(hooks, "firing")
                    and any("OpenClawReplicaDown" in m["Subject"] for m in mailbox.messages)
                    and any("OpenClawReplicaDown" in b["markdown"]["content"] for b in robots.wecom)
                    and any(
                        "OpenClawReplicaDown" in b["markdown"]["title"] for b in robots.dingtalk
                    )
                ),
                procs=procs,
                detail=lambda: _arrived(hooks, mailbox, robots),
            )
            # Warnings (the node exporters do not answer) reach the webhook and mail too.
            await until(
                "a warning at the webhook and in the mail",
                lambda: (
                    ("OpenClawExporterDown", "warning") in _names(hooks, "firing")
                    and any("OpenClawExporterDown" in m["Subject"] for m in mailbox.messages)
                ),
                procs=procs,
                detail=lambda: _arrived(hooks, mailbox, robots),
            )

            async def inhibited():
                async with http.get(f"{am}/api/v2/alerts", params={"inhibited": "true"}) as resp:
                    alerts = await resp.json()
                return [
                    a
                    for a in alerts
                    if a["labels"]["alertname"] == "OpenClawDrill"
                    and a["labels"]["severity"] == "warning"
                    and a["status"]["inhibitedBy"]
                ]

            await until("the drill's warning to be inhibited by its critical", inhibited)

            # 4. The replica is back: the resolved notification arrives everywhere.
            await replica.start()
            await until(
                "the resolved notification at every channel",
                lambda: (
                    ("OpenClawReplicaDown", "critical") in _names(hooks, "resolved")
                    and any(
                        m["Subject"].startswith("[RESOLVED] OpenClawReplicaDown")
                        for m in mailbox.messages
                    )
                    and any(
                        b["markdown"]["content"].startswith("### [已恢复:1] OpenClawReplicaDown")
                        for b in robots.wecom
                    )
                    and any(
                        b["markdown"]["title"] == "[已恢复:1] OpenClawReplicaDown (critical)"
                        for b in robots.dingtalk
                    )
                ),
                procs=procs,
                detail=lambda: _arrived(hooks, mailbox, robots),
            )

        # The exact formats.
        firing = next(
            p
            for p in hooks
            if p["status"] == "firing"
            and p["commonLabels"].get("alertname") == "OpenClawReplicaDown"
        )
        assert firing["version"] == "4" and firing["receiver"] == "critical"
        (alert,) = firing["alerts"]
        assert alert["labels"] == {
            "alertname": "OpenClawReplicaDown",
            "severity": "critical",
            "team": "openclaw",
            "job": "openclaw-runtime",
            "instance": f"127.0.0.1:{ports['replica']}",
            "host": "r1",
            "replica": "1",
        }
        assert alert["annotations"]["runbook_url"].endswith("README.md#openclawreplicadown")
        assert "on r1 for 3s" in alert["annotations"]["description"]

        mail = next(m for m in mailbox.messages if "OpenClawReplicaDown" in m["Subject"])
        assert mail["To"] == MAIL_TO and mail["From"] == "alertmanager@example.test"
        assert mail["Subject"].startswith("[FIRING:1] OpenClawReplicaDown")
        html = mail.get_body(("html",)).get_content()
        assert "OpenClawReplicaDown" in html and "README.md#openclawreplicadown" in html

        wecom = next(b for b in robots.wecom if "OpenClawReplicaDown" in b["markdown"]["content"])
        assert wecom["msgtype"] == "markdown"
        content = wecom["markdown"]["content"]
        assert content.startswith("### [告警:1] OpenClawReplicaDown (critical)\n")
        assert f"- **实例**: 127.0.0.1:{ports['replica']}" in content
        assert "README.md#openclawreplicadown)" in content
        ding = next(b for b in robots.dingtalk if "OpenClawReplicaDown" in b["markdown"]["title"])
        assert ding["msgtype"] == "markdown"
        assert ding["markdown"]["title"] == "[告警:1] OpenClawReplicaDown (critical)"
        assert robots.refused == []  # every DingTalk call was correctly signed

        # Routing: robots get critical alerts only; the inhibited warning reached nobody.
        robot_text = [b["markdown"]["content"] for b in robots.wecom] + [
            b["markdown"]["text"] for b in robots.dingtalk
        ]
        assert not any("(warning)" in t for t in robot_text)
        assert ("OpenClawDrill", "critical") in _names(hooks)
        assert ("OpenClawDrill", "warning") not in _names(hooks)
        assert not any(
            "OpenClawDrill" in m["Subject"] and "warning" in m["Subject"] for m in mailbox.messages
        )
    finally:
        stack.stop(procs)
        await replica.stop()
        for runner in runners:
            await runner.cleanup()
        smtp.stop()
