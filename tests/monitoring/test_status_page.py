"""The status page in a real browser: headless Chromium over the DevTools protocol.

Two stand-in runtime hosts expose the runtime's metric families (request
counter, latency histogram with the runtime's buckets, model_loaded) under
steady synthetic load: r1 fast and busy, r2 slow and quieter. The real
Prometheus scrapes them with the configuration openclaw_monitoring renders,
a drill rule raises an alert for r2 that the real Alertmanager holds, the
relay serves the page with a load-gate report for r1. Chromium loads the
page; the test reads the rendered DOM and its geometry (the plots' lines
have a size on screen), takes a screenshot and checks it shows the plots'
colours.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import stack
import yaml
from aiohttp import ClientError, ClientSession, web
from PIL import Image
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from render import ROOT, render
from stack import ALERTMANAGER, PROMETHEUS, free_port, until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    not (PROMETHEUS and ALERTMANAGER and CHROMIUM),
    reason="prometheus, prometheus-alertmanager or chromium missing: make bootstrap "
    "(requirements/apt.txt)",
)
_LATENCY = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
DRILL = [
    {
        "name": "status-drill",
        "rules": [
            {
                "alert": "OpenClawStatusDrill",
                "expr": "vector(1)",
                "for": "0s",
                "labels": {"severity": "warning", "host": "r2", "team": "openclaw"},
                "annotations": {"summary": "status page drill"},
            }
        ],
    }
]
REPORT = {
    "host": "r1",
    "time": "2026-12-05T07:00:00Z",
    "passed": True,
    "achieved_rate": 400.0,
    "p99_ms": 12.5,
    "error_pct": 0.0,
    "thresholds": {"max_p99_ms": 500.0, "max_error_pct": 1.0, "min_rate": 360.0},
}


class Replica:
    """The runtime's families for one replica, fed ``rate`` requests a second."""

    def __init__(self, port: int, rate: float, latency: float, version: str) -> None:
        self.port, self.rate, self.latency = port, rate, latency
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "openclaw_inference_requests",
            "",
            ("model", "version", "outcome"),
            registry=self.registry,
        )
        self.seconds = Histogram(
            "openclaw_request_duration_seconds",
            "",
            ("model", "version"),
            buckets=_LATENCY,
            registry=self.registry,
        )
        Gauge("openclaw_model_loaded", "", ("model", "version"), registry=self.registry).labels(
            "digits", version
        ).set(1)
        self.version = version
        self.runner: web.AppRunner | None = None
        self.task: asyncio.Task | None = None

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")

    async def load(self) -> None:
        ok = self.requests.labels("digits", self.version, "success")
        hist = self.seconds.labels("digits", self.version)
        while True:
            await asyncio.sleep(0.1)
            for _ in range(int(self.rate / 10)):
                ok.inc()
                hist.observe(random.expovariate(1 / self.latency))

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        self.task = asyncio.create_task(self.load())

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        if self.runner:
            await self.runner.cleanup()


class DevTools:
    """A minimal Chrome DevTools protocol client on aiohttp's websocket."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id = ws, 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            msg = await self.ws.receive_json(timeout=60)
            if msg.get("id") == self.next_id:
                assert "error" not in msg, msg
                return msg["result"]

    async def evaluate(self, expression: str):
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")


# What the test reads from the rendered page: text, counts and on-screen geometry.
_READ = """
JSON.stringify([...document.querySelectorAll('section.host')].map(s => ({
  host: s.dataset.host,
  replicas: s.querySelector('.replicas').textContent,
  now: Object.fromEntries(
    [...s.querySelectorAll('[data-now]')].map(b => [b.dataset.now, b.textContent])),
  models: [...s.querySelectorAll('tr[data-model]')].map(r => r.textContent),
  alerts: [...s.querySelectorAll('li.alert')].map(a => a.dataset.alert),
  verdict: s.querySelector('[data-verdict]')?.dataset.verdict ?? null,
  p99_report: s.querySelector('[data-field=p99_ms]')?.textContent ?? null,
  lines: [...s.querySelectorAll('polyline')].map(p => {
    const r = p.getBoundingClientRect();
    return {series: p.dataset.series, points: p.points.numberOfItems, width: r.width,
            top: r.top, bottom: r.bottom,
            visible: r.width > 0 && getComputedStyle(p).visibility === 'visible'};
  }),
})))
"""


async def _chromium_read(url: str, shot: Path) -> list[dict]:
    port = free_port()
    profile = tempfile.mkdtemp(prefix="openclaw-chromium-")
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            "--window-size=1280,1600",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        async with ClientSession() as http:

            async def pages():
                try:
                    async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
                        return [p for p in await resp.json() if p["type"] == "page"]
                except ClientError:
                    return []

            (page, *_) = await until("Chromium's DevTools endpoint", pages, timeout=60)
            async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                cdp = DevTools(ws)
                await cdp.call("Page.enable")
                await cdp.call(
                    "Emulation.setDeviceMetricsOverride",
                    width=1280,
                    height=1400,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                await cdp.call("Page.navigate", url=url)

                async def rendered():
                    return await cdp.evaluate("document.body?.dataset.rendered ?? ''")

                await until("the page to render its data", rendered, timeout=60)
                hosts = json.loads(await cdp.evaluate(_READ))
                errors = await cdp.evaluate("document.getElementById('errors').textContent")
                assert errors == "", errors
                shot_data = await cdp.call("Page.captureScreenshot", format="png")
                shot.write_bytes(base64.b64decode(shot_data["data"]))
                return hosts
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.asyncio
async def test_the_status_page_renders_plots_models_alerts_and_reports(tmp_path):
    ports = {k: free_port() for k in ("prom", "am", "relay", "r1", "r2", "node")}
    conf = tmp_path / "etc"
    extra = {
        "openclaw_monitoring_prometheus_config_dir": str(conf),
        "openclaw_monitoring_prometheus_listen": f"127.0.0.1:{ports['prom']}",
        "openclaw_monitoring_alertmanager_listen": f"127.0.0.1:{ports['am']}",
        "openclaw_monitoring_relay_listen": f"127.0.0.1:{ports['relay']}",
        "openclaw_monitoring_node_exporter_listen": f":{ports['node']}",
        "openclaw_monitoring_prometheus_scrape_interval": "1s",
        "openclaw_monitoring_prometheus_evaluation_interval": "1s",
        "openclaw_monitoring_alertmanager_group_wait": "1s",
        "openclaw_monitoring_webhook_urls": ["http://127.0.0.1:9/hook"],
        "openclaw_monitoring_extra_rule_groups": DRILL,
        "openclaw_monitoring_status_window": "10m",
        "openclaw_monitoring_status_step": "2s",
        "openclaw_monitoring_status_rate_window": "5s",
    }
    runtime = {"ansible_host": "127.0.0.1", "openclaw_runtime_replicas": 1}
    inventory = {
        "all": {
            "children": {
                "monitoring": {"hosts": {"mon": {"ansible_host": "127.0.0.1"}}},
                "openclaw": {
                    "hosts": {
                        "r1": {**runtime, "openclaw_runtime_port_base": ports["r1"]},
                        "r2": {**runtime, "openclaw_runtime_port_base": ports["r2"]},
                    }
                },
            }
        }
    }
    out = render(
        tmp_path / "render", ["rules", "prometheus", "alertmanager", "relay"], extra, inventory
    )
    (conf / "rules").mkdir(parents=True)
    shutil.copy(out["rules"], conf / "rules" / "openclaw.rules.yml")
    reports = tmp_path / "loadgate"
    reports.mkdir()
    (reports / "r1.json").write_text(json.dumps(REPORT))
    relay_conf = yaml.safe_load(out["relay"].read_text())
    assert relay_conf["status"]["prometheus"] == f"http://127.0.0.1:{ports['prom']}"
    relay_conf["status"]["loadgate_dir"] = str(reports)  # the role copies them to its own dir
    out["relay"].write_text(yaml.safe_dump(relay_conf))

    replicas = [
        Replica(ports["r1"], rate=200, latency=0.002, version="3"),
        Replica(ports["r2"], rate=50, latency=0.04, version="2"),
    ]
    for replica in replicas:
        await replica.start()
    procs = [
        stack.relay(out["relay"], tmp_path),
        stack.alertmanager(out["alertmanager"], ports["am"], tmp_path),
        stack.prometheus(out["prometheus"], ports["prom"], tmp_path),
    ]
    relay = f"http://127.0.0.1:{ports['relay']}"
    try:
        async with ClientSession() as http:

            async def data():
                try:
                    async with http.get(f"{relay}/status/data") as resp:
                        doc = await resp.json() if resp.status == 200 else None
                except ClientError:
                    return None
                if not doc or doc["errors"] or len(doc["hosts"]) != 2:
                    return None
                r1, r2 = doc["hosts"]
                enough = all(
                    sum(v is not None for _, v in h["series"]["p99"]) >= 6 for h in (r1, r2)
                )
                return doc if enough and r2["alerts"] else None

            # About 12 s of scrapes make 6 points of each series at a 2 s step.
            doc = await until(
                "six plotted points a host and the drill alert", data, timeout=120, procs=procs
            )
        shot = tmp_path / "status.png"
        hosts = await _chromium_read(f"{relay}/status", shot)
    finally:
        stack.stop(procs)
        for replica in replicas:
            await replica.stop()

    artifacts = Path(os.environ.get("OPENCLAW_ARTIFACTS", ROOT / "artifacts")) / "monitoring"
    artifacts.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, artifacts / "status-page.png")

    r1, r2 = hosts
    assert (r1["host"], r2["host"]) == ("r1", "r2")
    assert r1["replicas"] == "1/1 replicas up"
    assert r1["models"] == ["digits3"] and r2["models"] == ["digits2"]
    assert r2["alerts"] == ["OpenClawStatusDrill"] and r1["alerts"] == []
    assert r1["verdict"] == "passed" and r1["p99_report"].startswith("12.5 ms")
    assert r2["verdict"] is None
    # The figures the page prints agree with Prometheus's: r1 ~200 req/s, r2 ~50.
    rate1 = float(r1["now"]["rate"].split()[0])
    rate2 = float(r2["now"]["rate"].split()[0])
    assert 150 < rate1 < 250 and 35 < rate2 < 65, (r1["now"], r2["now"])
    # r2 is the slow one (mean 40 ms against 2 ms).
    p99_1 = float(r1["now"]["p99"].split()[0])
    p99_2 = float(r2["now"]["p99"].split()[0])
    assert p99_1 < 25 < p99_2, (r1["now"], r2["now"])
    for h in hosts:
        lines = {line["series"]: line for line in h["lines"]}
        assert set(lines) == {"rate", "p50", "p99"}
        for line in lines.values():
            assert line["points"] >= 6 and line["visible"], line
            assert line["width"] > 5, line  # spans at least a few steps on screen
        # p99 >= p50 at every point on a shared axis: the p99 line reaches higher on screen.
        assert lines["p99"]["top"] < lines["p50"]["top"], lines
    # The same data the page rendered came from the relay's JSON.
    assert {h["host"] for h in doc["hosts"]} == {"r1", "r2"}

    image = Image.open(io.BytesIO(shot.read_bytes())).convert("RGB")
    assert image.size == (1280, 1400)
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}

    def near(target: tuple[int, int, int]) -> bool:
        return any(sum(abs(a - b) for a, b in zip(c, target, strict=True)) < 40 for c in colours)

    # The plots' strokes are on the screenshot: rate blue, p50 green, p99 red.
    assert near((0x1F, 0x6F, 0xEB)) and near((0x2D, 0xA4, 0x4E)) and near((0xCF, 0x22, 0x2E))
