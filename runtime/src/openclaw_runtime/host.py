"""Host facts shared by the supervisor and its workers: the listening socket, the CPU quota.

Both sides import them from here (neither imports the other), and this module
imports neither aiohttp nor onnxruntime.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from pathlib import Path

__all__ = ["bind_socket", "cpu_quota", "port_holder"]

log = logging.getLogger("openclaw.host")


def cpu_quota(root: str = "/sys/fs/cgroup") -> int:
    """Return the CPUs this container may use: cgroup v2 cpu.max, v1 cfs quota, or affinity."""
    cpus = len(os.sched_getaffinity(0))
    base = Path(root)
    try:
        quota, period = (base / "cpu.max").read_text().split()[:2]
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
        return max(1, cpus)
    except (OSError, ValueError):
        pass
    for v1 in (base / "cpu", base / "cpu,cpuacct"):
        try:
            quota_us = int((v1 / "cpu.cfs_quota_us").read_text())
            period_us = int((v1 / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        if quota_us > 0 and period_us > 0:
            cpus = min(cpus, math.ceil(quota_us / period_us))
        break
    return max(1, cpus)


def port_holder(port: int) -> str:
    """Describe the process listening on ``port`` (for a port-conflict message)."""
    try:
        import psutil

        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == "LISTEN":
                if conn.pid:
                    try:
                        name = psutil.Process(conn.pid).name()
                    except psutil.Error:
                        name = "?"
                    return f"PID {conn.pid} ({name})"
                return "another process (run 'ss -ltnp' as root to see which)"
    except Exception:
        log.debug("cannot list listening sockets", exc_info=True)
    return "another process (run 'ss -ltnp' as root to see which)"


def bind_socket(host: str, port: int, backlog: int, *, listen: bool = True) -> socket.socket:
    """Return a TCP socket bound with SO_REUSEPORT (listening unless ``listen`` is False)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        if listen:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
