# -*- coding: utf-8 -*-
# Copyright: OpenClaw platform team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Parsers and checks behind the host_report module.

Everything here is pure (text in, data out) so that the odd inputs real
hosts produce can be unit tested without a host: a cpuinfo with no flags
line, kernel strings like ``6.18.44-fc-v669``, a cgroup v1 hybrid mount
table, ``ss`` output with IPv6 and several processes on one socket.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

__all__ = [
    "cgroup_mode",
    "evaluate",
    "mount_for_path",
    "parse_cpu_flags",
    "parse_kernel_version",
    "parse_meminfo",
    "parse_mountinfo",
    "parse_proc_net_listeners",
    "parse_ss_listeners",
]

GIB = 1024**3
MIB = 1024**2


def parse_meminfo(text):
    """Return /proc/meminfo as a dict of byte counts (``MemTotal`` -> bytes)."""
    result = {}
    for line in text.splitlines():
        match = re.match(r"^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s+(kB))?", line)
        if not match:
            continue
        value = int(match.group(2))
        result[match.group(1)] = value * 1024 if match.group(3) else value
    return result


def parse_cpu_flags(text):
    """Return the set of CPU flags of the first processor, or None when unknown.

    x86 kernels call the line ``flags``; some others ``Features``. A cpuinfo
    without either (some virtual CPUs, containers with a masked /proc) gives
    None so that the caller can say "unknown" instead of "missing".
    """
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("flags", "Features"):
            return set(value.split())
    return None


def parse_kernel_version(release):
    """Return (major, minor, patch) from a ``uname -r`` string, or None.

    Vendor suffixes are ignored: ``6.18.44-fc-v669`` -> (6, 18, 44),
    ``5.4.0-150-generic`` -> (5, 4, 0), ``6.1`` -> (6, 1, 0).
    """
    match = re.match(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?", release or "")
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))


def _unescape_mount(path):
    # mountinfo escapes space, tab, newline and backslash as octal.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def parse_mountinfo(text):
    """Return a list of mounts from /proc/self/mountinfo.

    Each mount is a dict with ``mount_point``, ``fstype``, ``source`` and
    ``options`` (the union of per-mount and super-block options).
    """
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        tail = right.split()
        if len(fields) < 6 or len(tail) < 2:
            continue
        options = set(fields[5].split(","))
        if len(tail) >= 3:
            options |= set(tail[2].split(","))
        mounts.append(
            {
                "mount_point": _unescape_mount(fields[4]),
                "fstype": tail[0],
                "source": _unescape_mount(tail[1]),
                "options": sorted(options),
            }
        )
    return mounts


def cgroup_mode(mounts):
    """Classify the cgroup hierarchy: ``v2`` (unified), ``hybrid``, ``v1`` or ``none``."""
    root = None
    has_v1 = False
    has_unified = False
    for mount in mounts:
        if mount["mount_point"] == "/sys/fs/cgroup":
            root = mount["fstype"]
        elif mount["mount_point"].startswith("/sys/fs/cgroup/"):
            if mount["fstype"] == "cgroup2":
                has_unified = True
            elif mount["fstype"] == "cgroup":
                has_v1 = True
    if root == "cgroup2":
        return "v2"
    if has_v1 and has_unified:
        return "hybrid"
    if has_v1:
        return "v1"
    return "none"


def mount_for_path(mounts, path):
    """Return the mount that holds ``path`` (the longest matching mount point)."""
    best = None
    for mount in mounts:
        point = mount["mount_point"]
        prefix = point if point.endswith("/") else point + "/"
        if path == point or path.startswith(prefix) or point == "/":
            if best is None or len(point) >= len(best["mount_point"]):
                best = mount
    return best


_SS_USERS = re.compile(r'\("([^"]*)",pid=(\d+),fd=\d+\)')


def _split_host_port(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


def parse_ss_listeners(text):
    """Return TCP listeners from ``ss -H -ltnp`` (or ``ss -ltnp`` with a header).

    Each listener is ``{"address", "port", "processes": [{"name", "pid"}]}``;
    processes is empty when ss could not see them (not root).
    """
    listeners = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0] == "State" or len(parts) < 4:
            continue
        # With -t the state column comes first; local address is the 4th field.
        local = parts[3]
        host, port = _split_host_port(local)
        if not port.isdigit():
            continue
        processes = [{"name": name, "pid": int(pid)} for name, pid in _SS_USERS.findall(line)]
        listeners.append({"address": host, "port": int(port), "processes": processes})
    return listeners


def parse_proc_net_listeners(text):
    """Return ``[(port, inode)]`` of listening sockets in /proc/net/tcp or tcp6."""
    result = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != "0A":
            continue
        port = int(parts[1].rsplit(":", 1)[1], 16)
        result.append((port, parts[9]))
    return result


def _check(name, ok, message, value=None, required=None, severity="error"):
    return {
        "name": name,
        "ok": bool(ok),
        "severity": "ok" if ok else severity,
        "message": message,
        "value": value,
        "required": required,
    }


def _gb(value):
    return round(value / 1e9, 1)


def evaluate(facts, req):
    """Check gathered facts against the requirements; return a list of checks.

    ``req`` keys: min_memory_mib, recommended_memory_mib, min_cpu_cores,
    require_avx2, min_kernel (string), require_cgroup_v2, min_system_disk_gb,
    min_data_disk_gb, data_fs_types, data_fs_severity, require_noatime,
    ports, port_owners_ok.
    Every failing check carries a message that says what to do.
    """
    checks = []

    mem_mib = facts["memory"]["effective_bytes"] // MIB
    if mem_mib < req["min_memory_mib"]:
        checks.append(
            _check(
                "memory",
                False,
                "memory: %d MiB available, at least %d MiB required; resize the instance "
                "or raise the container's memory limit" % (mem_mib, req["min_memory_mib"]),
                mem_mib,
                req["min_memory_mib"],
            )
        )
    elif mem_mib < req["recommended_memory_mib"]:
        checks.append(
            _check(
                "memory",
                False,
                "memory: %d MiB is enough to start, but %d MiB is recommended for "
                "production" % (mem_mib, req["recommended_memory_mib"]),
                mem_mib,
                req["recommended_memory_mib"],
                severity="warning",
            )
        )
    else:
        checks.append(
            _check("memory", True, "memory: %d MiB" % mem_mib, mem_mib, req["min_memory_mib"])
        )

    cores = facts["cpu"]["usable_cores"]
    checks.append(
        _check(
            "cpu_cores",
            cores >= req["min_cpu_cores"],
            "cpu: %s usable cores" % cores
            if cores >= req["min_cpu_cores"]
            else "cpu: %s usable cores, at least %d required; choose a larger instance type "
            "or raise the CPU quota" % (cores, req["min_cpu_cores"]),
            cores,
            req["min_cpu_cores"],
        )
    )

    avx2 = facts["cpu"]["avx2"]
    if req["require_avx2"]:
        if avx2 is None:
            checks.append(
                _check(
                    "avx2",
                    False,
                    "cpu: flags could not be read from /proc/cpuinfo, so AVX2 support is "
                    "unknown; check the host CPU model",
                    None,
                    True,
                    severity="warning",
                )
            )
        else:
            checks.append(
                _check(
                    "avx2",
                    avx2,
                    "cpu: AVX2 supported"
                    if avx2
                    else "cpu: no AVX2 in the CPU flags; onnxruntime needs it for its fast "
                    "kernels: use an instance type with AVX2 (Haswell or newer)",
                    avx2,
                    True,
                )
            )

    kernel = facts["kernel"]["version"]
    wanted = parse_kernel_version(req["min_kernel"])
    if kernel is None:
        checks.append(
            _check(
                "kernel",
                False,
                "kernel: cannot parse release %r" % facts["kernel"]["release"],
                facts["kernel"]["release"],
                req["min_kernel"],
                severity="warning",
            )
        )
    else:
        ok = tuple(kernel) >= wanted
        checks.append(
            _check(
                "kernel",
                ok,
                "kernel: %s" % facts["kernel"]["release"]
                if ok
                else "kernel: %s is older than %s; upgrade the kernel (for example the "
                "distribution's backports kernel) and reboot"
                % (facts["kernel"]["release"], req["min_kernel"]),
                facts["kernel"]["release"],
                req["min_kernel"],
            )
        )

    mode = facts["cgroup"]["mode"]
    if mode == "v2":
        checks.append(_check("cgroup", True, "cgroup: v2 (unified)", mode, "v2"))
    else:
        blocking = req["require_cgroup_v2"]
        checks.append(
            _check(
                "cgroup",
                False,
                "cgroup: %s hierarchy, not the unified v2 hierarchy; Docker and the runtime "
                "still work on it (the runtime reads cfs_quota_us), but memory accounting is "
                "coarser. %s boot with systemd.unified_cgroup_hierarchy=1"
                % (mode, "This host must" if blocking else "To switch,"),
                mode,
                "v2",
                severity="error" if blocking else "warning",
            )
        )

    disks = facts["disks"]
    system = disks["system"]
    data = disks["data"]
    same = system["mount_point"] == data["mount_point"] and system["source"] == data["source"]
    need_system = req["min_system_disk_gb"]
    need_data = req["min_data_disk_gb"]
    free_system = _gb(system["free_bytes"])
    if same:
        need = need_system + need_data
        ok = free_system >= need
        checks.append(
            _check(
                "disk",
                ok,
                "disk: %s GB free on %s (system and data share it)"
                % (free_system, system["mount_point"])
                if ok
                else "disk: system and data paths share %s with %s GB free; %d GB needed "
                "(%d system + %d data): attach a data disk of %d GB or more and run the "
                "openclaw_storage role, or free space"
                % (system["mount_point"], free_system, need, need_system, need_data, need_data),
                free_system,
                need,
            )
        )
    else:
        ok = free_system >= need_system
        checks.append(
            _check(
                "system_disk",
                ok,
                "system disk: %s GB free on %s" % (free_system, system["mount_point"])
                if ok
                else "system disk: %s GB free on %s, %d GB required; grow the root volume or "
                "free space" % (free_system, system["mount_point"], need_system),
                free_system,
                need_system,
            )
        )
        free_data = _gb(data["free_bytes"])
        ok = free_data >= need_data
        checks.append(
            _check(
                "data_disk",
                ok,
                "data disk: %s GB free on %s" % (free_data, data["mount_point"])
                if ok
                else "data disk: %s GB free on %s, %d GB required; attach a larger data disk "
                "(SSD recommended)" % (free_data, data["mount_point"], need_data),
                free_data,
                need_data,
            )
        )

    fs_ok = data["fstype"] in req["data_fs_types"]
    atime_ok = "noatime" in data["options"] or not req["require_noatime"]
    if fs_ok and atime_ok:
        checks.append(
            _check(
                "data_fs",
                True,
                "data fs: %s (%s)"
                % (data["fstype"], "noatime" if "noatime" in data["options"] else "atime"),
                data["fstype"],
                req["data_fs_types"],
            )
        )
    else:
        problems = []
        if not fs_ok:
            problems.append("is %s, not %s" % (data["fstype"], " or ".join(req["data_fs_types"])))
        if not atime_ok:
            problems.append("is mounted without noatime")
        checks.append(
            _check(
                "data_fs",
                False,
                "data fs: %s (on %s) %s; run the openclaw_storage role with a data device "
                "(openclaw_storage_device) to create an XFS file system mounted noatime"
                % (data["path"], data["mount_point"], " and ".join(problems)),
                {"fstype": data["fstype"], "options": data["options"]},
                req["data_fs_types"],
                severity=req["data_fs_severity"],
            )
        )

    if data.get("rotational"):
        checks.append(
            _check(
                "data_ssd",
                False,
                "data disk: %s is a rotational disk; the guide recommends an SSD" % data["source"],
                "hdd",
                "ssd",
                severity="warning",
            )
        )

    owners_ok = set(req["port_owners_ok"])
    for entry in facts["ports"]:
        if entry["port"] not in req["ports"]:
            continue
        holders = entry["processes"]
        if not entry["in_use"]:
            checks.append(
                _check(
                    "port_%d" % entry["port"], True, "port %d: free" % entry["port"], "free", "free"
                )
            )
            continue
        names = (
            ", ".join("%s PID %d" % (p["name"], p["pid"]) for p in holders)
            or "an unknown process (run as root to see it)"
        )
        if holders and all(p["name"] in owners_ok for p in holders):
            checks.append(
                _check(
                    "port_%d" % entry["port"],
                    True,
                    "port %d: held by %s (ours)" % (entry["port"], names),
                    names,
                    "free",
                )
            )
            continue
        checks.append(
            _check(
                "port_%d" % entry["port"],
                False,
                "port %d: already in use by %s; stop or reconfigure that service, or change "
                "the OpenClaw port" % (entry["port"], names),
                names,
                "free",
            )
        )
    return checks
