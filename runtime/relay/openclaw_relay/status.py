"""The read-only status page: GET /status (the page) and GET /status/data (its JSON).

Per runtime host (the ``host`` label the role puts on every target): request
rate, p50 and p99 over the window as series for the plots, the model versions
loaded, the active alerts, and the host's last load-gate report. The figures
come from Prometheus's query API and Alertmanager's v2 API on the monitoring
host (both on loopback), the reports from the directory the role copies them
to. A source that does not answer is listed under ``errors``; the rest of the
page still renders.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from importlib import resources
from pathlib import Path

import aiohttp
from aiohttp import web

from .config import StatusSettings

__all__ = ["StatusPage", "queries"]

log = logging.getLogger("openclaw_relay.status")
_TIMEOUT = aiohttp.ClientTimeout(total=10)


def queries(rate_window: int) -> dict[str, str]:
    """The PromQL behind each plotted series, by host."""
    w = f"{rate_window}s"
    bucket = f"sum by (host, le) (rate(openclaw_request_duration_seconds_bucket[{w}]))"
    return {
        "rate": f"sum by (host) (rate(openclaw_inference_requests_total[{w}]))",
        "p50": f"histogram_quantile(0.5, {bucket})",
        "p99": f"histogram_quantile(0.99, {bucket})",
    }


MODELS = "max by (host, model, version) (openclaw_model_loaded) == 1"
REPLICAS = 'sum by (host) (up{job="openclaw-runtime"})'
TARGETS = 'count by (host) (up{job="openclaw-runtime"})'


def _number(text: str) -> float | None:
    value = float(text)
    return None if math.isnan(value) or math.isinf(value) else value


class StatusPage:
    """Handlers of the status page; ``session`` is the relay's client session."""

    def __init__(self, settings: StatusSettings) -> None:
        self.settings = settings
        self.session: aiohttp.ClientSession | None = None
        self._html = resources.files(__package__).joinpath("status.html").read_bytes()

    async def page(self, _request: web.Request) -> web.Response:
        """The page itself: static HTML whose script fetches ``status/data``."""
        return web.Response(
            body=self._html,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP},
        )

    async def data(self, _request: web.Request) -> web.Response:
        """Everything the page shows, as JSON."""
        return web.json_response(await self.collect(), headers={"Cache-Control": "no-store"})

    async def _prom(self, path: str, params: dict) -> list:
        url = f"{self.settings.prometheus}/api/v1/{path}"
        async with self.session.get(url, params=params, timeout=_TIMEOUT) as resp:
            doc = await resp.json(content_type=None)
        if doc.get("status") != "success":
            raise ValueError(f"Prometheus: {doc.get('error', resp.status)}")
        return doc["data"]["result"]

    async def _alerts(self) -> list[dict]:
        url = f"{self.settings.alertmanager}/api/v2/alerts"
        params = {"active": "true", "silenced": "false", "inhibited": "false"}
        async with self.session.get(url, params=params, timeout=_TIMEOUT) as resp:
            if resp.status != 200:
                raise ValueError(f"Alertmanager answered {resp.status}")
            alerts = await resp.json(content_type=None)
        return [
            {
                "name": a["labels"].get("alertname", ""),
                "severity": a["labels"].get("severity", ""),
                "host": a["labels"].get("host", ""),
                "instance": a["labels"].get("instance", ""),
                "summary": a.get("annotations", {}).get("summary", ""),
                "since": a.get("startsAt", ""),
            }
            for a in alerts
        ]

    def _reports(self) -> dict[str, dict]:
        """The newest load-gate report of each host (``<host>.json`` as the role writes them)."""
        reports: dict[str, dict] = {}
        directory = Path(self.settings.loadgate_dir) if self.settings.loadgate_dir else None
        if directory is None or not directory.is_dir():
            return reports
        for path in sorted(directory.glob("*.json")):
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                log.warning(
                    "load-gate report unreadable", extra={"path": str(path), "error": str(exc)}
                )
                continue
            if not isinstance(doc, dict):
                continue
            host = str(doc.get("host") or path.stem)
            if host not in reports or str(doc.get("time", "")) > str(reports[host].get("time", "")):
                reports[host] = {
                    k: doc.get(k)
                    for k in (
                        "time",
                        "passed",
                        "achieved_rate",
                        "p50_ms",
                        "p99_ms",
                        "error_pct",
                        "thresholds",
                    )
                }
        return reports

    async def collect(self) -> dict:
        """Query every source at once; a failing one adds to ``errors``."""
        s = self.settings
        end = time.time()
        span = {"start": end - s.window, "end": end, "step": s.step}
        series = queries(s.rate_window)
        names = [*series, "models", "replicas", "targets", "alerts"]
        jobs = [self._prom("query_range", {"query": q, **span}) for q in series.values()]
        jobs += [self._prom("query", {"query": q}) for q in (MODELS, REPLICAS, TARGETS)]
        jobs.append(self._alerts())
        results = await asyncio.gather(*jobs, return_exceptions=True)
        errors, got = [], {}
        for name, result in zip(names, results, strict=True):
            if isinstance(result, Exception):
                errors.append(f"{name}: {type(result).__name__}: {result}")
                got[name] = []
            else:
                got[name] = result
        hosts: dict[str, dict] = {}

        def host(name: str) -> dict:
            return hosts.setdefault(
                name,
                {
                    "host": name,
                    "replicas_up": None,
                    "replicas": None,
                    "series": {k: [] for k in series},
                    "models": [],
                    "alerts": [],
                    "loadgate": None,
                },
            )

        for key in series:
            for item in got[key]:
                points = [[t, _number(v)] for t, v in item["values"]]
                host(item["metric"].get("host", ""))["series"][key] = points
        for item in got["models"]:
            m = item["metric"]
            host(m.get("host", ""))["models"].append(
                {"model": m.get("model", ""), "version": m.get("version", "")}
            )
        for key, field in (("replicas", "replicas_up"), ("targets", "replicas")):
            for item in got[key]:
                host(item["metric"].get("host", ""))[field] = int(float(item["value"][1]))
        other = []
        for alert in got["alerts"]:
            (hosts[alert["host"]]["alerts"] if alert["host"] in hosts else other).append(alert)
        for name, report in self._reports().items():
            if name in hosts:
                hosts[name]["loadgate"] = report
        for h in hosts.values():
            h["models"].sort(key=lambda m: (m["model"], m["version"]))
        return {
            "generated": end,
            "window": s.window,
            "step": s.step,
            "hosts": [hosts[k] for k in sorted(hosts)],
            "other_alerts": other,
            "errors": errors,
        }


# The page loads nothing from elsewhere: its script and style are inline.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data:"
)
