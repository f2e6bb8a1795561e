"""Prometheus's view of a load-gate run agrees with the gate's own report.

The real runtime (``openclaw-runtime serve``, the demo model, two workers)
runs under the deploy's load gate (roles/openclaw_runtime/files/loadgate.py,
the generator the role runs); the real Prometheus scrapes its /metrics every
second with the configuration openclaw_monitoring renders. Over the gate's
window Prometheus's request count and rate, and the p99 it computes from the
runtime's latency histogram, are checked against the gate's figures:

- requests: the counter's increase equals the gate's responses within 2 %
  (plus the scrapes' edge: one second of rate either side);
- rate: within 10 % of the gate's achieved rate;
- p99: the histogram's bucket resolution is the tolerance. The server times
  a request inside the handler, the gate from writing it (``service_time_ms``)
  to the answer, so the server's p99 is never above the gate's by more than
  one bucket. It is not below the gate's by more than one bucket, or by more
  than the client's own overhead (CLIENT_OVERHEAD_MS: the gate's Python
  client, loopback and its event loop; measured on a quiet machine: server
  p99 0.49 ms, gate 2.1 ms, three buckets apart at this fine end), either when
  the client is not starved: when the gate's median service time is within
  twice the server's median + 1 ms, and the machine's 1-minute load is not
  above its core count (under Molecule load the medians agreed, 0.2 vs
  0.13 ms, while the p99s were 16.5 vs 1.1 ms). On a machine busy with other work the
  client's own scheduling delay dominates its figures (measured here at load
  19: gate p99 160 ms, server p99 22 ms, medians 40 ms against 3 ms); then
  that side is skipped and the figures say so.

The figures are written to artifacts/monitoring/loadgate-agreement.json.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stack
from aiohttp import ClientError, ClientSession
from render import ROOT, render
from stack import PROMETHEUS, free_port, start, until

pytest.importorskip("onnxruntime")
demo = pytest.importorskip("openclaw_runtime.models.demo")

pytestmark = pytest.mark.skipif(
    not PROMETHEUS, reason="prometheus missing: make bootstrap (requirements/apt.txt)"
)
LOADGATE = ROOT / "roles" / "openclaw_runtime" / "files" / "loadgate.py"
# The runtime's latency buckets (openclaw_runtime.metrics.prom._LATENCY), in ms.
BUCKETS_MS = [0.2, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]
RATE, DURATION = 200, 20
# What the gate's own client adds to a request's time at the tail, at most.
CLIENT_OVERHEAD_MS = 5.0


def _bucket(ms: float) -> int:
    """Index of the histogram bucket holding ``ms`` (le semantics)."""
    return bisect.bisect_left(BUCKETS_MS, ms)


def test_the_bucket_tolerance_is_what_the_docstring_says():
    assert _bucket(0.2) == 0 and _bucket(0.21) == 1 and _bucket(7) == 5 and _bucket(3000) == 13


def _serve(tmp: Path, port: int) -> subprocess.Popen:
    repo = tmp / "repo"
    demo.build_demo_model(repo, onnx_bytes=demo.to_onnx(demo.train_digits_classifier()))
    config = tmp / "runtime.yaml"
    config.write_text(
        f"server: {{host: 127.0.0.1, port: {port}, workers: 2}}\n"
        f"models: {{repository: '{repo}'}}\n"
        "logging: {level: info}\nauth: {enabled: false}\ncache: {enabled: false}\n"
    )
    return start(
        [sys.executable, "-m", "openclaw_runtime.cli", "serve", "--config", str(config)],
        tmp / "runtime.log",
    )


@pytest.mark.asyncio
async def test_prometheus_agrees_with_the_load_gate(tmp_path):
    ports = {k: free_port() for k in ("prom", "runtime")}
    extra = {
        "openclaw_monitoring_prometheus_config_dir": str(tmp_path / "etc"),
        "openclaw_monitoring_prometheus_listen": f"127.0.0.1:{ports['prom']}",
        "openclaw_monitoring_prometheus_scrape_interval": "1s",
        "openclaw_monitoring_rules_enabled": False,
    }
    inventory = {
        "all": {
            "children": {
                "monitoring": {"hosts": {"mon": {"ansible_host": "127.0.0.1"}}},
                "openclaw": {
                    "hosts": {
                        "r1": {
                            "ansible_host": "127.0.0.1",
                            "openclaw_runtime_port_base": ports["runtime"],
                            "openclaw_runtime_replicas": 1,
                        }
                    }
                },
            }
        }
    }
    out = render(tmp_path / "render", ["prometheus"], extra, inventory)
    procs = [
        _serve(tmp_path, ports["runtime"]),
        stack.prometheus(out["prometheus"], ports["prom"], tmp_path),
    ]
    prom = f"http://127.0.0.1:{ports['prom']}"
    url = f"http://127.0.0.1:{ports['runtime']}/v2/models/digits/infer"
    body = tmp_path / "request.json"
    body.write_text(
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "input",
                        "datatype": "FP32",
                        "shape": [1, demo.N_FEATURES],
                        "data": [0.5] * demo.N_FEATURES,
                    }
                ]
            }
        )
    )
    try:
        async with ClientSession() as http:

            async def query(q: str, at: float | None = None) -> list:
                params = {"query": q, **({"time": at} if at else {})}
                try:
                    async with http.get(f"{prom}/api/v1/query", params=params) as resp:
                        return (await resp.json())["data"]["result"] if resp.status == 200 else []
                except ClientError:
                    return []

            log = tmp_path / "runtime.log"
            await until(
                "both workers to load the model",
                lambda: log.read_text(errors="replace").count('"worker ready"') >= 2,
                timeout=180,
                procs=procs,
            )
            await until(
                "Prometheus to scrape the runtime",
                lambda: query('up{job="openclaw-runtime"} == 1'),
                timeout=120,
                procs=procs,
            )
            start = time.time()
            gate = await asyncio.to_thread(
                subprocess.run,
                [
                    sys.executable,
                    str(LOADGATE),
                    "--rate",
                    str(RATE),
                    "--duration",
                    str(DURATION),
                    "--connections",
                    "8",
                    "--request",
                    str(body),
                    url,
                ],
                capture_output=True,
                text=True,
                timeout=DURATION + 60,
                check=False,
            )
            assert gate.returncode == 0, gate.stderr[-2000:]
            report = json.loads(gate.stdout)
            end = time.time()
            await asyncio.sleep(3)  # the last scrape after the gate
            # Counter and histogram increases over the gate's window (plus the scrape edges).
            window = f"{round(end - start) + 2}s"
            at = end + 1.5
            (count,) = await query(
                f"sum(increase(openclaw_inference_requests_total[{window}]))", at
            )
            buckets = f"sum by (le) (increase(openclaw_request_duration_seconds_bucket[{window}]))"
            (p99,) = await query(f"histogram_quantile(0.99, {buckets})", at)
            (p50,) = await query(f"histogram_quantile(0.5, {buckets})", at)
    finally:
        stack.stop(procs, timeout=30)

    prom_count = float(count["value"][1])
    prom_rate = prom_count / report["duration_s"]
    prom_p99_ms = float(p99["value"][1]) * 1000
    prom_p50_ms = float(p50["value"][1]) * 1000
    gate_p99_ms = report["service_time_ms"]["p99"]
    gate_p50_ms = report["service_time_ms"]["p50"]
    # The machine's load over the last minute, against its cores: above them
    # the client's tail is its own scheduling delay (measured under Molecule
    # load: medians 0.2 vs 0.13 ms, yet p99 16.5 vs 1.1 ms).
    busy = os.getloadavg()[0] > (os.cpu_count() or 1)
    starved = gate_p50_ms > 2 * prom_p50_ms + 1 or busy
    figures = {
        "gate": {
            k: report[k]
            for k in ("responses", "achieved_rate", "p99_ms", "errors", "errors_by_kind")
        },
        "gate_service_ms": {"p50": gate_p50_ms, "p99": gate_p99_ms},
        "prometheus": {
            "requests": prom_count,
            "rate": prom_rate,
            "p50_ms": prom_p50_ms,
            "p99_ms": prom_p99_ms,
        },
        "p99_lower_side": "skipped: the client was starved" if starved else "checked",
        "loadavg_1m": os.getloadavg()[0],
        "tolerance": "requests 2 % + 1 s of rate; rate 10 %; p99 one histogram bucket"
        f" (below the gate's: or {CLIENT_OVERHEAD_MS} ms of client overhead)",
    }
    artifacts = Path(os.environ.get("OPENCLAW_ARTIFACTS", ROOT / "artifacts")) / "monitoring"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "loadgate-agreement.json").write_text(json.dumps(figures, indent=2) + "\n")

    assert report["errors"] == 0, report
    # Increase extrapolates to the window's edges: allow one second of rate on top.
    assert abs(prom_count - report["responses"]) <= 0.02 * report["responses"] + RATE, figures
    assert abs(prom_rate - report["achieved_rate"]) <= 0.10 * report["achieved_rate"], figures
    assert 0 < prom_p99_ms and _bucket(prom_p99_ms) <= _bucket(gate_p99_ms) + 1, figures
    if not starved:
        assert (
            _bucket(prom_p99_ms) >= _bucket(gate_p99_ms) - 1
            or gate_p99_ms - prom_p99_ms <= CLIENT_OVERHEAD_MS
        ), figures
