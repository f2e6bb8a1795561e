"""Benchmark: a compute-bound model, where batching matters, against onnxruntime's own ceiling.

Usage (from the repository root)::

    .venv/bin/python runtime/bench/mlp.py [--duration 5] [--rounds 3] [--profile]

The model is an FP32 MLP 1024-1024-1024-512-10 (generated here with onnx.helper
from seeded numpy weights, about 10 MB: never committed), served with
``max_batch_size`` 64, no queue delay and the result cache off. The load is one
row per request (wrk on the same machine) at 1, 16 and 64 connections, with
JSON and binary (tensor extension) bodies.

The ceiling is pure onnxruntime on the same cores, measured in the same run:
as many processes as the runtime has workers, each with one intra-op thread,
calling ``session.run`` in a loop on a batch of B rows; a point at C connections
is judged against the best B <= C (C requests in flight can form batches of at
most C rows). Every round measures the ceiling and every runtime point in turn
(alternating rounds); the figures are medians, and the ratios are runtime
rows/s over the ceiling of the same round's medians.

Targets (issue 18): at 64 connections 0.5x the ceiling with binary bodies and
0.35x with JSON; p99 at 64 connections no worse than before the work
(11.1 ms binary, 18.7 ms JSON); at 1 connection no slower than FastAPI with one
``session.run`` per request (when that peer is available: ``.venv-bench``);
and no request slower than 1 s at any point (every point is a closed-loop load
the server sustains). ``--profile`` also records a py-spy flame graph of one
worker at 64 connections (binary) into ``artifacts/bench/mlp-flame.svg``.

Peers in the same rounds: FastAPI + uvicorn with one ``session.run`` per request
(JSON, 1 connection), and Triton Inference Server through PyTriton (every body
and connection count; Triton's HTTP front end and dynamic batcher, a Python
callable per instance running onnxruntime, ``pytriton_mlp.py``), made in
``.venv-bench-triton`` the first time (``--no-triton`` leaves it out).
Writes ``artifacts/bench/mlp-<time>.json`` and ``artifacts/bench/mlp-latest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))

from run import (  # noqa: E402  (the bench directory is not a package)
    BENCH_VENV,
    fastapi_command,
    free_port,
    setup_peers,
    stop,
    wait_ready,
    wrk,
)

DIMS = (1024, 1024, 1024, 512, 10)
TRITON_VENV = ROOT / ".venv-bench-triton"
TRITON_PACKAGES = ["nvidia-pytriton==0.7.0", "onnxruntime", "numpy"]
TRITON_READY = TRITON_VENV / ".openclaw-ready"
MAX_BATCH = 64
CONNECTIONS = (1, 16, 64)
CEILING_BATCHES = (1, 2, 4, 8, 16, 32, 64)
TARGETS = {
    "ratio_binary_c64": 0.5,
    "ratio_json_c64": 0.35,
    # p99 at 64 connections measured before this work (issue 18), ms.
    "p99_ms_binary_c64": 11.1,
    "p99_ms_json_c64": 18.7,
    "max_latency_ms": 1000.0,
}
# One pure-onnxruntime process of the ceiling: run batches of B rows for S seconds
# after a common start time, print rows done.
CEILING_CHILD = r"""
import sys, time, numpy as np, onnxruntime as ort
path, batch = sys.argv[1], int(sys.argv[2])
seconds, start_at = float(sys.argv[3]), float(sys.argv[4])
o = ort.SessionOptions()
o.intra_op_num_threads = 1
o.inter_op_num_threads = 1
o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
o.add_session_config_entry("session.intra_op.allow_spinning", "0")
s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
x = np.random.default_rng(1).random((batch, %d), dtype=np.float32)
for _ in range(3):
    s.run(None, {"input": x})
while time.time() < start_at:
    time.sleep(0.001)
rows, t0 = 0, time.perf_counter()
end = t0 + seconds
while True:
    s.run(None, {"input": x})
    rows += batch
    now = time.perf_counter()
    if now >= end:
        break
print(rows / (now - t0))
""" % DIMS[0]


def build_model(repo: Path) -> Path:
    """Write the MLP as version 1 of ``<repo>/mlp`` (max_batch_size 64); return its model file."""
    from openclaw_runtime.toolchain.mlp import mlp_model
    from openclaw_runtime.toolchain.progress import Progress
    from openclaw_runtime.toolchain.versions import write_version

    write_version(
        repo / "mlp",
        1,
        mlp_model(DIMS),
        Progress("bench", quiet=True),
        metadata={"created_by": "runtime/bench/mlp.py", "precision": "fp32"},
        max_batch_size=MAX_BATCH,
    )
    return repo / "mlp" / "1" / "model.onnx"


def bodies(workdir: Path) -> dict[str, dict[str, str]]:
    """Write the JSON and binary request bodies: one row of 1024 FP32 values."""
    x = np.random.default_rng(3).random((1, DIMS[0]), dtype=np.float32)
    doc = {
        "inputs": [
            {"name": "input", "datatype": "FP32", "shape": [1, DIMS[0]], "data": x.ravel().tolist()}
        ]
    }
    (workdir / "mlp.json").write_bytes(json.dumps(doc).encode())
    raw = x.tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "FP32",
                    "shape": [1, DIMS[0]],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    ).encode()
    (workdir / "mlp.bin").write_bytes(header + raw)
    return {
        "json": {
            "BENCH_BODY": str(workdir / "mlp.json"),
            "BENCH_CTYPE": "application/json",
            "BENCH_HEADER_LEN": "",
        },
        "binary": {
            "BENCH_BODY": str(workdir / "mlp.bin"),
            "BENCH_CTYPE": "",
            "BENCH_HEADER_LEN": str(len(header)),
        },
    }


def ceiling(model: Path, processes: int, batch: int, seconds: float) -> float:
    """Return rows/s of ``processes`` onnxruntime processes running batches of ``batch``."""
    start_at = time.time() + 2.0  # after every child has opened its session
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CEILING_CHILD,
                str(model),
                str(batch),
                str(seconds),
                str(start_at),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    total = 0.0
    for p in procs:
        out, _ = p.communicate(timeout=seconds + 120)
        if p.returncode != 0:
            raise RuntimeError(f"ceiling process failed (exit {p.returncode})")
        total += float(out.strip())
    return total


def start_runtime(
    workdir: Path,
    repo: Path,
    workers: int,
    port: int,
    execution: str | None,
    name: str = "openclaw",
    src: str | None = None,
):
    """Start the runtime (``src``: another source tree of it, for an A/B run)."""
    cfg = workdir / f"{name}-mlp.yaml"
    batching = "batching: {max_queue_delay_us: 0"
    batching += f", execution: {execution}}}\n" if execution else "}\n"
    cfg.write_text(
        f"server: {{host: 127.0.0.1, port: {port}, workers: {workers}}}\n"
        f"models: {{repository: '{repo}', poll_interval_seconds: 0}}\n"
        "logging: {level: warning}\n"
        "cache: {enabled: false}\nauth: {enabled: false}\n" + batching
    )
    log = (workdir / f"{name}-mlp.log").open("wb")
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-m", "openclaw_runtime.cli", "serve", "--config", str(cfg)]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def start_fastapi(workdir: Path, model: Path, workers: int, port: int):
    log = (workdir / "fastapi-mlp.log").open("wb")
    env = {**os.environ, "BENCH_MODEL": str(model), "BENCH_MODEL_NAME": "mlp"}
    cmd = fastapi_command(port, workers)
    return subprocess.Popen(cmd, cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)


def setup_triton() -> None:
    """Create .venv-bench-triton with PyTriton (the wheel ships the Triton server)."""
    if not (TRITON_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(TRITON_VENV)], check=True)
    pip = [str(TRITON_VENV / "bin" / "pip"), "install", "-q", *TRITON_PACKAGES]
    subprocess.run(pip, check=True)
    # Written only once the install succeeded: an interrupted one is tried again.
    TRITON_READY.touch()


def start_triton(workdir: Path, model: Path, instances: int, port: int):
    """Start the PyTriton peer with the interpreter's own libpython first on the library path."""
    python = str(TRITON_VENV / "bin" / "python")
    libdir = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_config_var('LIBDIR'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    env = dict(os.environ)
    # Triton's Python backend stub links libpython3.11.so: without this it finds the
    # system's 3.11.2 and fails against this interpreter's 3.11.7 standard library.
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [libdir, env.get("LD_LIBRARY_PATH")]))
    log = (workdir / "triton-mlp.log").open("wb")
    cmd = [python, str(HERE / "pytriton_mlp.py"), str(model), str(port), str(instances)]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def median(values: list[float]) -> float:
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def profile(url: str, pid: int, body_env: dict, seconds: int, out: Path) -> str:
    """Record a py-spy flame graph of one worker while wrk loads the server; return a note."""
    found = [Path(sys.executable).parent / "py-spy", BENCH_VENV / "bin" / "py-spy"]
    spy = next((str(p) for p in found if p.exists()), shutil.which("py-spy"))
    if spy is None:
        return "py-spy is not installed (run.py --setup puts it into .venv-bench); no flame graph"
    import psutil

    children = psutil.Process(pid).children(recursive=True)
    # The workers, not multiprocessing's resource tracker (a child of the supervisor too).
    workers = [c for c in children if "resource_tracker" not in " ".join(c.cmdline())]
    if not workers:
        return "no worker process found; no flame graph"
    target = max(workers, key=lambda c: sum(c.cpu_times()[:2])).pid
    rec = subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(target),
            "--duration",
            str(seconds),
            "--rate",
            "250",
            "--nonblocking",
            "--output",
            str(out),
            "--format",
            "flamegraph",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    time.sleep(0.5)
    wrk(url, 64, seconds, body_env["binary"])
    text, _ = rec.communicate(timeout=seconds + 60)
    if rec.returncode != 0:
        return f"py-spy failed: {text.decode(errors='replace')[-300:]}"
    return f"flame graph of worker {target} at 64 connections (binary): {out}"


def measure(args, model, workers, urls, procs, body_env, kinds, conns_list):
    """Alternating rounds: the ceiling at every batch, then every runtime (and peer) point."""
    ceil_runs: dict[int, list[float]] = {}
    runs: dict[tuple[str, str, int], list[dict]] = {}
    for i in range(args.rounds):
        for batch in CEILING_BATCHES:
            rps = ceiling(model, workers, batch, args.ceiling_seconds)
            ceil_runs.setdefault(batch, []).append(rps)
            print(
                f"  round {i + 1}/{args.rounds} ceiling    batch {batch:<3} {rps:9.0f} rows/s",
                flush=True,
            )
        # Every body and connection count for the runtime and Triton; FastAPI at one point.
        grid = [name for name in procs if name != "fastapi"]
        points = [(name, k, c) for k in kinds for c in conns_list for name in grid]
        if "fastapi" in procs:
            points.append(("fastapi", "json", 1))
        for name, kind, conns in points:
            before = tcp_counters()
            result = wrk(urls[name], conns, args.duration, body_env[kind])
            after = tcp_counters()
            # A request stalled for seconds with one of these counters moving points at
            # the network (a full accept queue, a lost segment's retransmission timeout),
            # not at the server's loop.
            result["tcp"] = {k: after[k] - before.get(k, 0) for k in after}
            runs.setdefault((name, kind, conns), []).append(result)
            print(
                f"  round {i + 1}/{args.rounds} {name:10} {kind:6} c={conns:<3} "
                f"{result['rps']:9.0f} rows/s  p50 {result['p50_us'] / 1000:6.2f} ms  "
                f"p99 {result['p99_us'] / 1000:6.2f} ms  max {result['max_us'] / 1000:7.1f} ms"
                f"  non-2xx {result['non2xx']}"
                + "".join(f"  {k} +{v}" for k, v in result["tcp"].items() if v),
                flush=True,
            )
    return ceil_runs, runs


TCP_COUNTERS = ("ListenOverflows", "ListenDrops", "TCPTimeouts", "TCPSynRetrans")


def tcp_counters() -> dict[str, int]:
    """Return the kernel's TCP counters that explain multi-second stalls (this netns)."""
    found: dict[str, int] = {}
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return found
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        names, numbers = head.split()[1:], values.split()[1:]
        for key, value in zip(names, numbers, strict=False):
            if key in TCP_COUNTERS:
                found[key] = int(value)
    return found


def summarize(ceil_runs: dict[int, list[float]], runs: dict[tuple[str, str, int], list[dict]]):
    """Print and return the ceiling by batch, the median rows and the targets."""
    ceil = {b: median(v) for b, v in ceil_runs.items()}
    rows = []
    for (name, kind, conns), results in runs.items():
        best = max((b for b in CEILING_BATCHES if b <= conns), key=lambda b: ceil[b])
        rps = median([r["rps"] for r in results])
        row = {
            "server": name,
            "body": kind,
            "connections": conns,
            "rps": rps,
            "rps_rounds": [round(r["rps"]) for r in results],
            "p50_us": median([r["p50_us"] for r in results]),
            "p99_us": median([r["p99_us"] for r in results]),
            "max_us": max(r["max_us"] for r in results),
            "max_us_rounds": [r["max_us"] for r in results],
            "tcp": {k: sum(r["tcp"].get(k, 0) for r in results) for k in TCP_COUNTERS},
            "errors": sum(
                r[k]
                for r in results
                for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
            ),
            "ceiling_batch": best,
            "ceiling_rps": ceil[best],
            "ratio_ceiling": round(rps / ceil[best], 3),
        }
        rows.append(row)
    print()
    head = (
        f"{'server':9} {'body':6} {'conns':>5} {'rows/s':>8} {'ceiling':>8} {'(batch)':>7} "
        f"{'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>8} {'errors':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['server']:9} {r['body']:6} {r['connections']:>5} {r['rps']:>8.0f} "
            f"{r['ceiling_rps']:>8.0f} {r['ceiling_batch']:>7} {r['ratio_ceiling']:>6.3f} "
            f"{r['p50_us'] / 1000:>7.2f} {r['p99_us'] / 1000:>7.2f} {r['max_us'] / 1000:>8.1f} "
            f"{r['errors']:>6}"
        )
    print("ceiling rows/s by batch:", {b: round(v) for b, v in ceil.items()})

    def find(name, kind, conns):
        return next(
            (r for r in rows if (r["server"], r["body"], r["connections"]) == (name, kind, conns)),
            None,
        )

    for triton in (r for r in rows if r["server"] == "triton" and r["rps"]):
        kind, conns = triton["body"], triton["connections"]
        ours = find("openclaw", kind, conns)
        if ours:
            print(f"  runtime / PyTriton, {kind} c={conns}: {ours['rps'] / triton['rps']:.2f}x")
    targets: dict[str, dict] = {}
    for kind in ("binary", "json"):
        r = find("openclaw", kind, 64)
        if r:
            targets[f"ratio_{kind}_c64"] = {
                "target": TARGETS[f"ratio_{kind}_c64"],
                "reached": r["ratio_ceiling"],
                "higher": True,
            }
            targets[f"p99_ms_{kind}_c64"] = {
                "target": TARGETS[f"p99_ms_{kind}_c64"],
                "reached": r["p99_us"] / 1000,
                "higher": False,
            }
    peer = find("fastapi", "json", 1)
    ours = find("openclaw", "json", 1)
    if peer and ours:
        targets["c1_over_fastapi"] = {
            "target": 1.0,
            "reached": round(ours["rps"] / peer["rps"], 3),
            "higher": True,
        }
    worst = max((r["max_us"] for r in rows if r["server"] == "openclaw"), default=0)
    targets["max_latency_ms"] = {
        "target": TARGETS["max_latency_ms"],
        "reached": worst / 1000,
        "higher": False,
    }
    errors = sum(r["errors"] for r in rows if r["server"] == "openclaw")
    targets["errors"] = {"target": 0, "reached": errors, "higher": False}
    for key, item in targets.items():
        hi = item.pop("higher")
        item["met"] = item["reached"] >= item["target"] if hi else item["reached"] <= item["target"]
        mark = "met" if item["met"] else "NOT met"
        print(f"  target {key:18} {item['target']:>8} reached {item['reached']:>10.3f}  {mark}")
    return ceil, rows, targets


def start_servers(workdir, repo, model, workers, args, peers, body_env, procs, urls):
    """Start the runtime (and the peers in ``peers``), wait until they answer, warm them up."""
    port = free_port()
    procs["openclaw"] = start_runtime(workdir, repo, workers, port, args.execution)
    urls["openclaw"] = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        src, _, execution = rest.partition("@")
        execution, _, count = execution.partition(":")
        name = f"openclaw-{name}"
        port = free_port()
        procs[name] = start_runtime(
            workdir, repo, int(count or workers), port, execution or args.execution, name, src
        )
        urls[name] = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
    if "fastapi" in peers:
        port = free_port()
        procs["fastapi"] = start_fastapi(workdir, model, workers, port)
        urls["fastapi"] = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
    if "triton" in peers:
        port = free_port()
        procs["triton"] = start_triton(workdir, model, workers, port)
        urls["triton"] = f"http://127.0.0.1:{port}/v2/models/mlp/infer"
    for name in list(procs):
        try:
            wait_ready(urls[name], Path(body_env["json"]["BENCH_BODY"]))
        except Exception as exc:
            if name.startswith("openclaw"):
                raise
            print(f"  {name}: FAILED: {exc}", file=sys.stderr)
            stop(procs.pop(name))
    for name in procs:
        for kind in args.kinds if name != "fastapi" else ["json"]:
            wrk(urls[name], 16, 2, body_env[kind])  # warm-up


def write_results(args, workers, ceil, rows, targets, notes) -> None:
    """Write artifacts/bench/mlp-<time>.json and mlp-latest.json."""
    doc = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "model": {
            "dims": DIMS,
            "max_batch_size": MAX_BATCH,
            "max_queue_delay_us": 0,
            "cache": False,
        },
        "workers": workers,
        "execution": args.execution or "default",
        "duration_s": args.duration,
        "rounds": args.rounds,
        "ceiling": {str(b): v for b, v in ceil.items()},
        "results": rows,
        "targets": targets,
        "notes": notes,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (out / f"mlp-{stamp}.json").write_text(json.dumps(doc, indent=2))
    (out / "mlp-latest.json").write_text(json.dumps(doc, indent=2))
    print(f"\nwrote {out / 'mlp-latest.json'}")


def available_peers(args) -> set[str]:
    """The peers asked for whose virtualenv exists or can be made now."""
    wanted = {
        "fastapi": (args.no_fastapi, BENCH_VENV / "bin" / "uvicorn", setup_peers),
        "triton": (args.no_triton, TRITON_READY, setup_triton),
    }
    peers = set()
    for name, (left_out, ready, setup) in wanted.items():
        if left_out:
            continue
        if not ready.exists():
            try:
                setup()
            except Exception as exc:  # a peer is a comparison, not the subject
                print(f"  {name} peer unavailable: {exc}", file=sys.stderr)
                continue
        peers.add(name)
    return peers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk point")
    parser.add_argument("--ceiling-seconds", type=float, default=1.5, help="per ceiling batch")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--workers", type=int, default=0, help="processes (0 = the CPU quota)")
    parser.add_argument("--execution", choices=("thread", "inline"), help="batching.execution")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=SRC[@EXECUTION[:WORKERS]]",
        help="also serve the runtime from another source tree, execution mode or worker "
        "count (A/B in the same rounds)",
    )
    parser.add_argument("--no-fastapi", action="store_true", help="leave the per-request peer out")
    parser.add_argument("--no-triton", action="store_true", help="leave the PyTriton peer out")
    parser.add_argument("--bodies", default="binary,json")
    parser.add_argument("--connections", default=",".join(map(str, CONNECTIONS)))
    parser.add_argument("--profile", action="store_true", help="py-spy flame graph of a worker")
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "bench"))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian package 'wrk')", file=sys.stderr)
        return 2
    from openclaw_runtime.supervisor import cpu_quota

    workers = args.workers or cpu_quota()
    args.kinds = kinds = [k.strip() for k in args.bodies.split(",") if k.strip()]
    conns_list = [int(c) for c in args.connections.split(",") if c.strip()]
    peers = available_peers(args)
    workdir = Path(tempfile.mkdtemp(prefix="openclaw-bench-mlp-"))
    repo = workdir / "repo"
    model = build_model(repo)
    body_env = bodies(workdir)
    print(
        f"mlp benchmark: MLP {'-'.join(map(str, DIMS))} FP32, max_batch_size {MAX_BATCH}, "
        f"{workers} processes, {args.rounds} alternating rounds ({args.duration}s per wrk point, "
        f"{args.ceiling_seconds}s per ceiling batch), {os.cpu_count()} CPUs; logs in {workdir}"
    )
    procs: dict[str, subprocess.Popen] = {}
    urls: dict[str, str] = {}
    notes: list[str] = []
    try:
        start_servers(workdir, repo, model, workers, args, peers, body_env, procs, urls)
        ceil_runs, runs = measure(args, model, workers, urls, procs, body_env, kinds, conns_list)
        if args.profile:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            notes.append(
                profile(
                    urls["openclaw"], procs["openclaw"].pid, body_env, 10, out / "mlp-flame.svg"
                )
            )
    finally:
        for proc in procs.values():
            stop(proc)
    ceil, rows, targets = summarize(ceil_runs, runs)
    for note in notes:
        print(" ", note)
    write_results(args, workers, ceil, rows, targets, notes)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(item["met"] for item in targets.values()) else 3


if __name__ == "__main__":
    sys.exit(main())
