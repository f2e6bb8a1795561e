#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: OpenClaw platform team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: host_report
short_description: Check a host against the OpenClaw deployment requirements in one pass
version_added: "0.1.0"
description:
  - Reads memory (including the cgroup memory limit), usable CPU cores (affinity and CFS
    quota), AVX2 support, the kernel release, the cgroup hierarchy, free space, file system
    type and mount options of the system and data paths, and which of the given TCP ports
    are already listening and which processes hold them.
  - Evaluates these facts against the given requirements and returns one check per
    requirement, each with a message that says what to do when it is not met.
  - Never changes the host; it always runs, in check mode too.
author:
  - OpenClaw platform team
options:
  system_path:
    description: Path on the system disk.
    type: path
    default: /
  data_path:
    description: Path where models and runtime data live; need not exist yet.
    type: path
    default: /srv/openclaw
  ports:
    description: TCP ports that must be free (or held by one of I(port_owners_ok)).
    type: list
    elements: int
    default: [80, 443]
  port_owners_ok:
    description: Process names that may hold a port in I(ports) (our own services on a re-run).
    type: list
    elements: str
    default: []
  min_memory_mib:
    description: Minimum memory in MiB.
    type: int
    default: 2048
  recommended_memory_mib:
    description: Memory in MiB below which a warning is given.
    type: int
    default: 4096
  min_cpu_cores:
    description: Minimum usable CPU cores.
    type: int
    default: 2
  require_avx2:
    description: Whether the CPU must support AVX2.
    type: bool
    default: true
  min_kernel:
    description: Minimum kernel version, as C(major.minor[.patch]).
    type: str
    default: "5.4"
  require_cgroup_v2:
    description: Whether a host without the unified cgroup v2 hierarchy fails (otherwise a warning).
    type: bool
    default: false
  min_system_disk_gb:
    description: Free space required on the system disk, in GB.
    type: int
    default: 20
  min_data_disk_gb:
    description: Free space required for the data path, in GB.
    type: int
    default: 50
  data_fs_types:
    description: File system types accepted for the data path.
    type: list
    elements: str
    default: [xfs, ext4]
  require_noatime:
    description: Whether the data path must be mounted with noatime.
    type: bool
    default: true
  data_fs_severity:
    description: Whether an unsuitable data file system is an C(error) or a C(warning).
    type: str
    choices: [error, warning]
    default: warning
notes:
  - Listening sockets are read with C(ss -H -ltnp) when available, otherwise from
    C(/proc/net/tcp*) and C(/proc/*/fd). Process names need root.
"""

EXAMPLES = r"""
- name: Check the host against the deployment guide
  openclaw.platform.host_report:
    data_path: /srv/openclaw
    ports: [80, 443, 8001, 8002]
    port_owners_ok: [haproxy, docker-proxy]
  register: preflight

- name: Show what failed
  ansible.builtin.debug:
    msg: "{{ preflight.failures }}"
"""

RETURN = r"""
facts:
  description: What was read from the host.
  returned: always
  type: dict
  contains:
    memory:
      description: C(total_bytes) (/proc/meminfo), C(cgroup_limit_bytes) (null if unlimited) and C(effective_bytes).
      type: dict
    cpu:
      description: C(online_cores), C(usable_cores) (affinity and CFS quota), C(quota_cores), C(avx2) (null when unknown), C(model).
      type: dict
    kernel:
      description: C(release) and parsed C(version) [major, minor, patch].
      type: dict
    cgroup:
      description: C(mode) is one of v2, hybrid, v1, none.
      type: dict
    disks:
      description: C(system) and C(data), each with path, mount_point, source, fstype, options, total_bytes, free_bytes, rotational.
      type: dict
    ports:
      description: One entry per requested port with C(port), C(in_use) and C(processes) [{name, pid}].
      type: list
checks:
  description: One result per requirement with name, ok, severity (ok, warning, error), message, value, required.
  returned: always
  type: list
failures:
  description: Messages of the checks with severity error.
  returned: always
  type: list
  sample: ["port 80: already in use by nginx PID 123; stop or reconfigure that service, or change the OpenClaw port"]
warnings_list:
  description: Messages of the checks with severity warning.
  returned: always
  type: list
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.openclaw.platform.plugins.module_utils.host_facts import (
    cgroup_mode,
    evaluate,
    mount_for_path,
    parse_cpu_flags,
    parse_kernel_version,
    parse_meminfo,
    parse_mountinfo,
    parse_proc_net_listeners,
    parse_ss_listeners,
)


def _read(path, default=""):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return default


def _own_cgroup_paths():
    """Return {controller: path} from /proc/self/cgroup ('' is the v2 entry)."""
    paths = {}
    for line in _read("/proc/self/cgroup").splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                paths[controller] = parts[2]
    return paths


def _cgroup_limits(mode):
    """Return (memory_limit_bytes or None, cpu_quota_cores or None)."""
    own = _own_cgroup_paths()
    memory = None
    quota = None
    if mode == "v2":
        base = "/sys/fs/cgroup" + own.get("", "/")
        raw = _read(os.path.join(base, "memory.max")).strip()
        if raw.isdigit():
            memory = int(raw)
        fields = _read(os.path.join(base, "cpu.max")).split()
        if len(fields) == 2 and fields[0].isdigit():
            quota = int(fields[0]) / float(fields[1])
    else:
        mem_base = "/sys/fs/cgroup/memory" + own.get("memory", "/")
        raw = _read(os.path.join(mem_base, "memory.limit_in_bytes")).strip()
        # v1 reports "no limit" as a huge page-aligned number.
        if raw.isdigit() and int(raw) < 2**60:
            memory = int(raw)
        cpu_base = "/sys/fs/cgroup/cpu,cpuacct" + own.get("cpu", "/")
        if not os.path.isdir(cpu_base):
            cpu_base = "/sys/fs/cgroup/cpu" + own.get("cpu", "/")
        q = _read(os.path.join(cpu_base, "cpu.cfs_quota_us")).strip()
        p = _read(os.path.join(cpu_base, "cpu.cfs_period_us")).strip()
        if q.lstrip("-").isdigit() and int(q) > 0 and p.isdigit():
            quota = int(q) / float(p)
    return memory, quota


def _rotational(source):
    if not source.startswith("/dev/"):
        return None
    name = os.path.basename(os.path.realpath(source))
    sys_path = os.path.realpath(os.path.join("/sys/class/block", name))
    if os.path.exists(os.path.join(sys_path, "partition")):
        sys_path = os.path.dirname(sys_path)
    raw = _read(os.path.join(sys_path, "queue", "rotational")).strip()
    return raw == "1" if raw in ("0", "1") else None


def _disk(mounts, path):
    existing = path
    while not os.path.exists(existing) and existing != "/":
        existing = os.path.dirname(existing) or "/"
    mount = mount_for_path(mounts, os.path.realpath(existing)) or {
        "mount_point": "/",
        "fstype": "unknown",
        "source": "unknown",
        "options": [],
    }
    stat = os.statvfs(existing)
    return {
        "path": path,
        "exists": existing == path,
        "mount_point": mount["mount_point"],
        "source": mount["source"],
        "fstype": mount["fstype"],
        "options": mount["options"],
        "total_bytes": stat.f_blocks * stat.f_frsize,
        "free_bytes": stat.f_bavail * stat.f_frsize,
        "rotational": _rotational(mount["source"]),
    }


def _listeners_from_proc():
    inodes = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for port, inode in parse_proc_net_listeners(_read(name)):
            inodes.setdefault(inode, set()).add(port)
    by_port = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        fd_dir = "/proc/%s/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                comm = _read("/proc/%s/comm" % pid).strip()
                for port in inodes[target[8:-1]]:
                    proc = {"name": comm, "pid": int(pid)}
                    if proc not in by_port.setdefault(port, []):
                        by_port[port].append(proc)
    for ports in inodes.values():
        for port in ports:
            by_port.setdefault(port, [])
    return by_port


def _listeners(module):
    ss = module.get_bin_path("ss")
    if ss:
        rc, out, _err = module.run_command([ss, "-H", "-ltnp"])
        if rc == 0:
            by_port = {}
            for entry in parse_ss_listeners(out):
                procs = by_port.setdefault(entry["port"], [])
                for proc in entry["processes"]:
                    if proc not in procs:
                        procs.append(proc)
            return by_port
    return _listeners_from_proc()


def gather(module):
    """Read everything the checks need from the host."""
    params = module.params
    meminfo = parse_meminfo(_read("/proc/meminfo"))
    mounts = parse_mountinfo(_read("/proc/self/mountinfo"))
    mode = cgroup_mode(mounts)
    mem_limit, quota = _cgroup_limits(mode)
    total = meminfo.get("MemTotal", 0)
    cpuinfo = _read("/proc/cpuinfo")
    flags = parse_cpu_flags(cpuinfo)
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        None,
    )
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    usable = affinity if quota is None else min(affinity, quota)
    release = platform.release()
    listeners = _listeners(module)
    return {
        "memory": {
            "total_bytes": total,
            "cgroup_limit_bytes": mem_limit,
            "effective_bytes": min(total, mem_limit) if mem_limit else total,
        },
        "cpu": {
            "online_cores": os.cpu_count(),
            "usable_cores": round(usable, 2),
            "quota_cores": quota,
            "avx2": None if flags is None else "avx2" in flags,
            "model": model,
        },
        "kernel": {"release": release, "version": parse_kernel_version(release)},
        "cgroup": {"mode": mode},
        "disks": {
            "system": _disk(mounts, params["system_path"]),
            "data": _disk(mounts, params["data_path"]),
        },
        "ports": [
            {"port": port, "in_use": port in listeners, "processes": listeners.get(port, [])}
            for port in params["ports"]
        ],
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            system_path=dict(type="path", default="/"),
            data_path=dict(type="path", default="/srv/openclaw"),
            ports=dict(type="list", elements="int", default=[80, 443]),
            port_owners_ok=dict(type="list", elements="str", default=[]),
            min_memory_mib=dict(type="int", default=2048),
            recommended_memory_mib=dict(type="int", default=4096),
            min_cpu_cores=dict(type="int", default=2),
            require_avx2=dict(type="bool", default=True),
            min_kernel=dict(type="str", default="5.4"),
            require_cgroup_v2=dict(type="bool", default=False),
            min_system_disk_gb=dict(type="int", default=20),
            min_data_disk_gb=dict(type="int", default=50),
            data_fs_types=dict(type="list", elements="str", default=["xfs", "ext4"]),
            require_noatime=dict(type="bool", default=True),
            data_fs_severity=dict(type="str", choices=["error", "warning"], default="warning"),
        ),
        supports_check_mode=True,
    )
    if parse_kernel_version(module.params["min_kernel"]) is None:
        module.fail_json(
            msg="min_kernel must look like 5.4 or 5.4.0, got %r" % module.params["min_kernel"]
        )
    facts = gather(module)
    checks = evaluate(facts, module.params)
    module.exit_json(
        changed=False,
        facts=facts,
        checks=checks,
        failures=[c["message"] for c in checks if c["severity"] == "error"],
        warnings_list=[c["message"] for c in checks if c["severity"] == "warning"],
    )


if __name__ == "__main__":
    main()
