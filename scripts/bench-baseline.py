#!/usr/bin/env python3
"""make bench, part 4: what the OS baseline (roles/openclaw_baseline) costs the runtime.

Issue 15: "nothing the baseline does may slow the runtime: compare the load
gate's p99 with and without it, in the same run". Two systemd test hosts from
the project's test image (the container settings of .config/molecule/config.yml
plus the inner engine's /var/lib/docker volume, as molecule/cluster has them),
named bench-baseline-on and bench-baseline-off, both converged with what
site.yml runs for a runtime host (playbooks/docker.yml, harden.yml,
runtime.yml), with openclaw_baseline_enabled true on one and false on the
other. Then the load gate's own generator (roles/openclaw_runtime/files/
loadgate.py) runs from the controller at the gate's rate, connections and
timeout (read from the role's defaults), alternating between the hosts in
ABBA order (on, off, off, on, ...), so drift of the machine's load falls on
both alike. Per round it also sums the CPU time of every process in the measured host
(the replicas, the inner engine and every baseline service), giving CPU per
request.

Prints medians per host and the ratios baseline / no baseline, writes
artifacts/bench/baseline.json, and exits 1 when the baselined host's median
round misses the gate's thresholds (the role's defaults: p99 200 ms, errors
0.1 %, 95 % of the rate). Both hosts run the role's own gate during converge
too (reports in artifacts/bench/baseline/loadgate/).

    scripts/bench-baseline.py [--rounds 10] [--seconds 15] [--keep] [--reuse]
                              [--lock /tmp/openclaw-heavy.lock]

--lock takes the heavy-work lock shared for the converge and exclusively for
the measured rounds (leave it out when the caller already holds the lock:
flock(1) around `make bench` and a second flock of the same file would wait
for each other). --keep leaves the hosts running, --reuse measures hosts a
--keep run left (no converge). Environment: BENCH_BASELINE_ROUNDS,
BENCH_BASELINE_SECONDS as defaults for --rounds and --seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HOSTS = {"bench-baseline-on": True, "bench-baseline-off": False}
ON, OFF = HOSTS
NETWORK = "bench-baseline"
WORK = ROOT / ".cache" / "bench" / "baseline"
ARTIFACTS = ROOT / "artifacts" / "bench"
LOADGATE = ROOT / "roles" / "openclaw_runtime" / "files" / "loadgate.py"
ROLE_DEFAULTS = ROOT / "roles" / "openclaw_runtime" / "defaults" / "main.yml"
ROLE_VARS = ROOT / "roles" / "openclaw_runtime" / "vars" / "main.yml"
PLAYBOOKS = [
    ROOT / "molecule" / "_shared" / "prepare.yml",  # remount /proc/sys, wait for systemd
    ROOT / "playbooks" / "docker.yml",
    ROOT / "playbooks" / "harden.yml",
    ROOT / "playbooks" / "runtime.yml",
]


def log(msg: str) -> None:
    print(f"==> [bench-baseline] {msg}", flush=True)


class BenchError(Exception):
    """A step failed; the message says what to look at."""


@contextlib.contextmanager
def heavy_lock(path: str | None, exclusive: bool):
    """flock(2) on the heavy-work lock file, as `flock -s|-x FILE` takes it."""
    if not path:
        yield
        return
    mode = "exclusive" if exclusive else "shared"
    with open(path, "a") as f:
        t0 = time.monotonic()
        log(f"waiting for the {mode} lock on {path}")
        fcntl.flock(f, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        log(f"{mode} lock taken after {time.monotonic() - t0:.0f} s")
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, text=True, **kw)


def docker(*args: str, check: bool = True) -> str:
    p = subprocess.run(["docker", *args], check=False, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise BenchError(f"docker {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout.strip()


# --- the hosts ---------------------------------------------------------------


def platform() -> dict:
    """The Debian 12 platform of the shared Molecule config (capabilities, cgroupns, ...)."""
    config = yaml.safe_load((ROOT / ".config" / "molecule" / "config.yml").read_text())
    return config["platforms"][0]


def destroy() -> None:
    for name in HOSTS:
        # -v: the anonymous /var/lib/docker volume goes with the container.
        docker("rm", "-fv", name, check=False)
    docker("network", "rm", NETWORK, check=False)


def create() -> None:
    p = platform()
    destroy()
    docker("network", "create", NETWORK)
    for name in HOSTS:
        argv = ["run", "-d", "--name", name, "--hostname", name, "--network", NETWORK]
        argv += [f"--cap-add={c}" for c in p["capabilities"]]
        argv += [f"--security-opt={o}" for o in p.get("security_opts", [])]
        argv += ["--cgroupns", p["cgroupns_mode"], "--stop-signal", p["stop_signal"]]
        # As molecule/cluster: the inner engine's overlay2 on a volume, not vfs.
        for v in [*p["volumes"], "/var/lib/docker"]:
            argv += ["-v", v]
        for t in p["tmpfs"]:
            argv += ["--tmpfs", t]
        for k, v in p["env"].items():
            argv += ["-e", f"{k}={v}"]
        argv += [p["image"], *p["command"].split()]
        docker(*argv)
    log(f"created {', '.join(HOSTS)} from {p['image']} on network {NETWORK}")


def inventory() -> Path:
    """Both hosts alike but for openclaw_baseline_enabled."""
    archive = str(ROOT / ".cache/images/openclaw-runtime-{{ openclaw_runtime_version }}.tar")
    inv = {
        "all": {
            "children": {
                "openclaw": {
                    "hosts": {h: {"openclaw_baseline_enabled": on} for h, on in HOSTS.items()},
                    "vars": {
                        "ansible_connection": "community.docker.docker",
                        "openclaw_docker_enabled": True,
                        "openclaw_runtime_image_source": "archive",
                        "openclaw_runtime_image_archive": archive,
                        "openclaw_runtime_models_src": str(ROOT / ".cache" / "models"),
                        # The controller sends the measured load over the
                        # Docker network; the firewall opens the replica ports
                        # to internal sources only.
                        "openclaw_firewall_internal_sources": ["172.16.0.0/12", "192.168.0.0/16"],
                        # Converge runs under the shared lock, beside other
                        # scenarios: its gate judges as Molecule's does (the
                        # guide's alert threshold), one host at a time. The
                        # measured rounds below judge at the role's defaults.
                        "openclaw_runtime_loadgate_throttle": 1,
                        "openclaw_runtime_loadgate_max_p99_ms": 500,
                    },
                },
                "debian12": {"hosts": {name: {} for name in HOSTS}},
            }
        }
    }
    path = WORK / "inventory.yml"
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    return path


def converge() -> float:
    """prepare + docker.yml + harden.yml + runtime.yml; returns the seconds it took."""
    run([str(ROOT / "scripts" / "build-test-images.sh")])
    run([str(ROOT / "scripts" / "build-runtime-image.sh")])
    create()
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        # Fresh containers under reused names: never take facts from the cache.
        ANSIBLE_CACHE_PLUGIN="memory",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_ROLES_PATH=str(ROOT / "roles"),
        ANSIBLE_COLLECTIONS_PATH=f"{ROOT}/collections:{ROOT}/.venv/lib/python3.11/site-packages",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        ANSIBLE_FORCE_COLOR="false",
        OPENCLAW_ARTIFACTS=str(ARTIFACTS / "baseline"),
    )
    logfile = WORK / "converge.log"
    argv = ["ansible-playbook", "-i", str(inventory()), *map(str, PLAYBOOKS)]
    log(f"converging both hosts ({' + '.join(p.name for p in PLAYBOOKS)}); log {logfile}")
    t0 = time.monotonic()
    with open(logfile, "w") as out:
        proc = subprocess.run(argv, check=False, cwd=ROOT, env=env, stdout=out, stderr=out)
    rc = proc.returncode
    took = time.monotonic() - t0
    if rc != 0:
        tail = logfile.read_text().splitlines()[-60:]
        print("\n".join(tail), file=sys.stderr)
        raise BenchError(f"converge failed (exit {rc}) after {took:.0f} s; full log: {logfile}")
    log(f"converged in {took:.0f} s")
    return took


# --- the measurement ---------------------------------------------------------


def role_settings() -> dict:
    """The gate's rate, connections, thresholds and replica ports from the role itself."""
    d = yaml.safe_load(ROLE_DEFAULTS.read_text())
    v = yaml.safe_load(ROLE_VARS.read_text())
    base, replicas = int(d["openclaw_runtime_port_base"]), int(d["openclaw_runtime_replicas"])
    return {
        "rate": float(d["openclaw_runtime_loadgate_rate"]),
        "connections": int(d["openclaw_runtime_loadgate_connections"]),
        "timeout": float(v["__openclaw_runtime_loadgate_timeout"]),
        "max_p99_ms": float(d["openclaw_runtime_loadgate_max_p99_ms"]),
        "max_error_pct": float(d["openclaw_runtime_loadgate_max_error_pct"]),
        "min_rate_ratio": float(d["openclaw_runtime_loadgate_min_rate_ratio"]),
        "model": d["openclaw_runtime_smoke_model"],
        "ports": list(range(base, base + replicas)),
        "key_file": d["openclaw_runtime_config_dir"] + "/inference-client.key",
    }


def container_ip(name: str) -> str:
    fmt = f'{{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}'
    ip = docker("inspect", "-f", fmt, name)
    if not ip:
        raise BenchError(f"{name} has no address on network {NETWORK}: is it running?")
    return ip


# CPU of every process in the host's PID namespace (the replicas' workers, the
# inner dockerd and containerd, the baseline's services), children that exited
# included (cutime/cstime): Docker's own stats read the cgroup of the host
# container, which on this machine's cgroup v1 layout (cpu and cpuacct mounted
# apart) reads 0, and which the nested engine's containers may leave.
_CPU_SNIPPET = """
import os
t = 0
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            s = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        t += sum(int(x) for x in s[s.rindex(")") + 2 :].split()[11:15])
print(t * 1000000 // os.sysconf("SC_CLK_TCK"))
"""


def cpu_us(name: str) -> int:
    """CPU microseconds used so far by all processes of host ``name`` (clock-tick resolution)."""
    return int(docker("exec", name, "python3", "-c", _CPU_SNIPPET))


def request_body(ip: str, port: int, model: str, key: str) -> dict:
    """One row of zeros per input, from the model's metadata (as the role's request.yml does)."""
    req = urllib.request.Request(
        f"http://{ip}:{port}/v2/models/{model}", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        meta = json.load(resp)
    zeros = {"BOOL": False, "FP16": 0.0, "FP32": 0.0, "FP64": 0.0}
    inputs = []
    for t in meta["inputs"]:
        shape = [abs(int(d)) for d in t["shape"]]
        n = 1
        for dim in shape:
            n *= dim
        data = [zeros.get(t["datatype"], 0)] * n
        inputs.append({"name": t["name"], "datatype": t["datatype"], "shape": shape, "data": data})
    return {"inputs": inputs}


def targets(s: dict) -> dict:
    """Per host: URLs, key file, request file and container id."""
    out = {}
    for name in HOSTS:
        ip = container_ip(name)
        key = docker("exec", name, "cat", s["key_file"])
        if not key:
            raise BenchError(f"{s['key_file']} is empty on {name}: did runtime.yml converge there?")
        key_file = WORK / f"{name}.key"
        key_file.touch(mode=0o600)
        key_file.write_text(key + "\n")
        req_file = WORK / f"{name}-request.json"
        req_file.write_text(json.dumps(request_body(ip, s["ports"][0], s["model"], key)))
        out[name] = {
            "urls": [f"http://{ip}:{p}/v2/models/{s['model']}/infer" for p in s["ports"]],
            "key_file": key_file,
            "request": req_file,
            "name": name,
        }
    return out


# Files only the baseline writes: present on the baselined host, absent on the
# other, or the two hosts do not differ the way the comparison assumes.
BASELINE_MARKS = (
    "/etc/modprobe.d/openclaw-blacklist.conf",
    "/etc/audit/rules.d/50-openclaw.rules",
    "/etc/aide/aide.conf",
    "/etc/profile.d/openclaw-tmout.sh",
)


def exists(name: str, path: str) -> bool:
    return subprocess.run(["docker", "exec", name, "test", "-e", path], check=False).returncode == 0


def check_hosts() -> dict:
    """Assert the baseline is on one host and off the other; what runs from it on each."""
    out = {}
    for name, enabled in HOSTS.items():
        found = [f for f in BASELINE_MARKS if exists(name, f)]
        want = list(BASELINE_MARKS) if enabled else []
        if found != want:
            raise BenchError(
                f"{name} should {'have' if enabled else 'lack'} the baseline's files "
                f"{', '.join(BASELINE_MARKS)} but has {found or 'none'}: converge it again "
                "(without --reuse)"
            )
        units = "acct sysstat auditd openclaw-aide-check.timer openclaw-chkrootkit.timer"
        states = docker("exec", name, "systemctl", "is-active", *units.split(), check=False)
        out[name] = dict(zip(units.split(), states.split(), strict=False))
    return out


def gate_round(t: dict, s: dict, seconds: float) -> dict:
    argv = [
        sys.executable, str(LOADGATE), "--rate", str(s["rate"]), "--duration", str(seconds),
        "--connections", str(s["connections"]), "--timeout", str(s["timeout"]),
        "--key-file", str(t["key_file"]), "--request", str(t["request"]), *t["urls"],
    ]  # fmt: skip
    cpu0 = cpu_us(t["name"])
    p = subprocess.run(argv, check=False, capture_output=True, text=True)
    cpu1 = cpu_us(t["name"])
    if p.returncode != 0:
        raise BenchError(f"loadgate.py failed (exit {p.returncode}): {p.stderr.strip()}")
    r = json.loads(p.stdout)
    r["host_cpu_us_per_request"] = round((cpu1 - cpu0) / max(r["responses"], 1), 1)
    r["loadavg_1m"] = os.getloadavg()[0]
    r.pop("replicas", None)
    return r


def passes(r: dict, s: dict) -> bool:
    return (
        r["p99_ms"] < s["max_p99_ms"]
        and r["error_pct"] < s["max_error_pct"]
        and r["achieved_rate"] >= s["rate"] * s["min_rate_ratio"]
    )


FIELDS = (
    "p50_ms",
    "p99_ms",
    "achieved_rate",
    "error_pct",
    "host_cpu_us_per_request",
    "generator_cpu_pct",
)


def measure(rounds: int, seconds: float) -> dict:
    s = role_settings()
    units = check_hosts()
    for name, states in units.items():
        log(f"{name}: " + ", ".join(f"{u} {st}" for u, st in states.items()))
    t = targets(s)
    log(
        f"{rounds} rounds of {seconds:g} s per host at the gate's {s['rate']:g} req/s, "
        f"{s['connections']} connections (ABBA order), after a 5 s warm-up each"
    )
    for name in HOSTS:
        gate_round(t[name], s, 5)
    results: dict[str, list[dict]] = {name: [] for name in HOSTS}
    order = list(HOSTS)
    for i in range(rounds):
        pair = order if i % 2 == 0 else order[::-1]
        for name in pair:
            r = gate_round(t[name], s, seconds)
            results[name].append(r)
            log(
                f"round {i + 1}/{rounds} {name:19s} p50 {r['p50_ms']:7.2f} ms  "
                f"p99 {r['p99_ms']:8.2f} ms  "
                f"{r['achieved_rate']:7.1f} req/s  errors {r['error_pct']:.3f} %  "
                f"host CPU {r['host_cpu_us_per_request']:6.1f} us/req  load {r['loadavg_1m']:.1f}"
                f"{'  BEHIND schedule' if r['behind_schedule'] else ''}"
            )
    med = {
        name: {f: round(statistics.median(r[f] for r in rs), 3) for f in FIELDS}
        for name, rs in results.items()
    }
    for name, rs in results.items():
        med[name]["p99_ms_rounds"] = [r["p99_ms"] for r in rs]
        med[name]["rounds_passing_gate"] = sum(passes(r, s) for r in rs)
        med[name]["gate_passed"] = passes(med[name], s)
    ratio = {f: round(med[ON][f] / med[OFF][f], 3) if med[OFF][f] else None for f in FIELDS}
    # Round i of each host ran back to back: the ratio within a pair cancels
    # the machine's drift. A pair where the generator fell behind its schedule
    # (short of CPU: the latencies are overstated) is left out when at least
    # half of the pairs are clean.
    pairs = list(zip(results[ON], results[OFF], strict=True))
    clean = [(a, b) for a, b in pairs if not (a["behind_schedule"] or b["behind_schedule"])]
    used = clean if len(clean) * 2 >= len(pairs) else pairs
    pair_ratio = {
        f: round(statistics.median(a[f] / b[f] for a, b in used if b[f]), 3)
        for f in ("p50_ms", "p99_ms", "achieved_rate", "host_cpu_us_per_request")
    }
    return {"settings": {**s, "rounds": rounds, "seconds": seconds}, "units": units,
            "median": med, "ratio": ratio, "pair_ratio": pair_ratio,
            "pairs": {"total": len(pairs), "clean": len(clean), "used": len(used)},
            "rounds": results}  # fmt: skip


def converge_gates() -> dict:
    out = {}
    for name in HOSTS:
        f = ARTIFACTS / "baseline" / "loadgate" / f"{name}.json"
        if f.exists():
            r = json.loads(f.read_text())
            keys = ("p50_ms", "p99_ms", "achieved_rate", "error_pct", "duration_s")
            out[name] = {k: r.get(k) for k in keys}
    return out


def report(res: dict) -> None:
    med, ratio, s = res["median"], res["ratio"], res["settings"]
    print(f"\n{'':24s}{'baseline':>14s}{'no baseline':>14s}{'ratio':>9s}")
    rows = [
        ("p50 ms", "p50_ms"),
        ("p99 ms", "p99_ms"),
        ("req/s", "achieved_rate"),
        ("errors %", "error_pct"),
        ("host CPU us/request", "host_cpu_us_per_request"),
    ]
    for label, f in rows:
        r = f"{ratio[f]:8.3f}x" if ratio[f] is not None else "-"
        print(f"{label:24s}{med[ON][f]:14.3f}{med[OFF][f]:14.3f}{r:>9s}")
    pr, n = res["pair_ratio"], res["pairs"]
    print(
        f"median of the per-pair ratios ({n['used']} of {n['total']} pairs; {n['clean']} with "
        f"the generator on schedule): p50 {pr['p50_ms']}x, p99 {pr['p99_ms']}x, "
        f"req/s {pr['achieved_rate']}x, host CPU per request {pr['host_cpu_us_per_request']}x"
    )
    for name in HOSTS:
        m = med[name]
        print(
            f"{name}: p99 per round {m['p99_ms_rounds']} ms; "
            f"{m['rounds_passing_gate']}/{s['rounds']} rounds within the gate "
            f"(p99 < {s['max_p99_ms']:g} ms, errors < {s['max_error_pct']:g} %, "
            f">= {s['min_rate_ratio'] * s['rate']:g} req/s); "
            f"median {'passes' if m['gate_passed'] else 'MISSES'}"
        )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env = os.environ.get
    p.add_argument("--rounds", type=int, default=int(env("BENCH_BASELINE_ROUNDS", "10")))
    p.add_argument("--seconds", type=float, default=float(env("BENCH_BASELINE_SECONDS", "15")))
    p.add_argument("--keep", action="store_true", help="leave the two hosts running afterwards")
    p.add_argument(
        "--reuse", action="store_true", help="measure the hosts a --keep run left (no converge)"
    )
    p.add_argument(
        "--lock", metavar="FILE", help="heavy-work lock: shared for converge, exclusive for rounds"
    )
    a = p.parse_args(argv)
    if a.rounds < 1 or a.seconds <= 0:
        p.error("--rounds must be at least 1 and --seconds above 0")
    WORK.mkdir(parents=True, exist_ok=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    took = None
    try:
        if a.reuse:
            for name in HOSTS:
                if docker("inspect", "-f", "{{.State.Running}}", name, check=False) != "true":
                    raise BenchError(f"--reuse: {name} is not running; run with --keep first")
        else:
            with heavy_lock(a.lock, exclusive=False):
                took = converge()
        with heavy_lock(a.lock, exclusive=True):
            res = measure(a.rounds, a.seconds)
    except (BenchError, subprocess.CalledProcessError, OSError, KeyError, ValueError) as err:
        log(f"error: {err}")
        if not a.keep:
            destroy()
        return 2
    res["converge_s"] = round(took) if took else None
    res["converge_gates"] = converge_gates()
    res["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = ARTIFACTS / "baseline.json"
    out.write_text(json.dumps(res, indent=2) + "\n")
    report(res)
    log(f"results in {out.relative_to(ROOT)}")
    if not a.keep:
        destroy()
        log("removed the two hosts")
    if not res["median"][ON]["gate_passed"]:
        log("the baselined host MISSED the load gate (median round); did the other one too?")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
