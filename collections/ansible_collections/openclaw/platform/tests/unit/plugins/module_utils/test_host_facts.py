"""Parsers and checks of host_report, fed with real-world and odd inputs."""

import copy

import pytest
from ansible_collections.openclaw.platform.plugins.module_utils import host_facts as hf

MEMINFO = """MemTotal:       24605932 kB
MemFree:        20000000 kB
MemAvailable:   22000000 kB
HugePages_Total:       0
Hugepagesize:       2048 kB
"""

CPUINFO_X86 = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU @ 2.20GHz
flags\t\t: fpu vme de pse sse sse2 avx avx2 fma bmi2
processor\t: 1
flags\t\t: fpu vme de pse sse sse2 avx
"""

CPUINFO_NO_FLAGS = """processor\t: 0
model name\t: QEMU Virtual CPU version 2.5+
"""

CPUINFO_ARM = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32
"""

# Debian 12 host with systemd's hybrid layout (cgroup v1 controllers plus
# the unified hierarchy at /sys/fs/cgroup/unified).
MOUNTINFO_HYBRID = """22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw,errors=remount-ro
25 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
27 26 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw
28 26 0:24 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,memory
40 22 8:16 / /srv/openclaw rw,noatime shared:20 - xfs /dev/sdb rw,attr2,inode64,noquota
41 22 0:30 / /srv/with\\040space rw,relatime shared:21 - ext4 /dev/sdc rw
"""

MOUNTINFO_V2 = """22 1 254:0 / / rw,relatime shared:1 - xfs /dev/nvme0n1p2 rw,attr2
26 25 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:8 - cgroup2 cgroup2 rw,nsdelegate
"""

MOUNTINFO_V1 = """22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
26 25 0:22 / /sys/fs/cgroup rw shared:8 - tmpfs tmpfs rw,mode=755
28 26 0:24 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct
"""

SS_OUTPUT = """LISTEN 0      511          0.0.0.0:80         0.0.0.0:*    users:(("nginx",pid=123,fd=6),("nginx",pid=124,fd=6))
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*    users:(("sshd",pid=501,fd=3))
LISTEN 0      4096      127.0.0.1:6379        0.0.0.0:*    users:(("redis-server",pid=77,fd=6))
LISTEN 0      128             [::]:22            [::]:*    users:(("sshd",pid=501,fd=4))
LISTEN 0      5                  *:8001             *:*
"""

PROC_NET_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F41 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
"""


def test_meminfo_converts_kib_to_bytes():
    info = hf.parse_meminfo(MEMINFO)
    assert info["MemTotal"] == 24605932 * 1024
    assert info["HugePages_Total"] == 0


def test_cpu_flags_of_first_processor():
    assert "avx2" in hf.parse_cpu_flags(CPUINFO_X86)


def test_cpu_flags_missing_line_is_unknown_not_empty():
    assert hf.parse_cpu_flags(CPUINFO_NO_FLAGS) is None
    assert hf.parse_cpu_flags("") is None


def test_cpu_flags_arm_features_line():
    flags = hf.parse_cpu_flags(CPUINFO_ARM)
    assert "asimd" in flags and "avx2" not in flags


@pytest.mark.parametrize(
    "release,expected",
    [
        ("6.18.44-fc-v669", (6, 18, 44)),
        ("5.4.0-150-generic", (5, 4, 0)),
        ("6.1", (6, 1, 0)),
        ("4.18.0-513.el8.x86_64", (4, 18, 0)),
        ("6.12.0+deb13-amd64", (6, 12, 0)),
        ("garbage", None),
        ("", None),
    ],
)
def test_kernel_versions(release, expected):
    assert hf.parse_kernel_version(release) == expected


def test_mountinfo_options_unescaping_and_fstype():
    mounts = hf.parse_mountinfo(MOUNTINFO_HYBRID)
    data = next(m for m in mounts if m["mount_point"] == "/srv/openclaw")
    assert data["fstype"] == "xfs"
    assert "noatime" in data["options"] and "inode64" in data["options"]
    assert any(m["mount_point"] == "/srv/with space" for m in mounts)


@pytest.mark.parametrize(
    "text,mode",
    [(MOUNTINFO_HYBRID, "hybrid"), (MOUNTINFO_V2, "v2"), (MOUNTINFO_V1, "v1"), ("", "none")],
)
def test_cgroup_modes(text, mode):
    assert hf.cgroup_mode(hf.parse_mountinfo(text)) == mode


def test_mount_for_path_prefers_longest_and_respects_boundaries():
    mounts = hf.parse_mountinfo(MOUNTINFO_HYBRID)
    assert hf.mount_for_path(mounts, "/srv/openclaw/models")["fstype"] == "xfs"
    # /srv/openclaw2 is not under /srv/openclaw.
    assert hf.mount_for_path(mounts, "/srv/openclaw2")["mount_point"] == "/"


def test_ss_listeners_with_processes_ipv6_and_unknown_owner():
    listeners = hf.parse_ss_listeners(SS_OUTPUT)
    by_port = {}
    for entry in listeners:
        by_port.setdefault(entry["port"], []).extend(entry["processes"])
    assert by_port[80] == [{"name": "nginx", "pid": 123}, {"name": "nginx", "pid": 124}]
    assert {"name": "sshd", "pid": 501} in by_port[22]
    assert by_port[8001] == []
    assert [e["address"] for e in listeners if e["port"] == 22] == ["0.0.0.0", "::"]


def test_ss_header_line_is_skipped():
    text = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n" + SS_OUTPUT
    assert len(hf.parse_ss_listeners(text)) == 5


def test_proc_net_tcp_only_listening_sockets():
    assert hf.parse_proc_net_listeners(PROC_NET_TCP) == [(80, "4242")]


def _facts(**over):
    facts = {
        "memory": {"effective_bytes": 8 * hf.GIB},
        "cpu": {"usable_cores": 4, "avx2": True},
        "kernel": {"release": "6.1.0-18-amd64", "version": (6, 1, 0)},
        "cgroup": {"mode": "v2"},
        "disks": {
            "system": {
                "path": "/",
                "mount_point": "/",
                "source": "/dev/vda1",
                "fstype": "ext4",
                "options": ["rw"],
                "free_bytes": 100 * 10**9,
                "rotational": False,
            },
            "data": {
                "path": "/srv/openclaw",
                "mount_point": "/srv/openclaw",
                "source": "/dev/vdb",
                "fstype": "xfs",
                "options": ["noatime"],
                "free_bytes": 200 * 10**9,
                "rotational": False,
            },
        },
        "ports": [
            {"port": 80, "in_use": False, "processes": []},
            {"port": 443, "in_use": True, "processes": [{"name": "nginx", "pid": 123}]},
            {"port": 8001, "in_use": True, "processes": [{"name": "docker-proxy", "pid": 9}]},
        ],
    }
    for key, value in over.items():
        facts[key] = value
    return facts


REQ = {
    "min_memory_mib": 2048,
    "recommended_memory_mib": 4096,
    "min_cpu_cores": 2,
    "require_avx2": True,
    "min_kernel": "5.4",
    "require_cgroup_v2": False,
    "min_system_disk_gb": 20,
    "min_data_disk_gb": 50,
    "data_fs_types": ["xfs", "ext4"],
    "require_noatime": True,
    "data_fs_severity": "warning",
    "ports": [80, 443, 8001],
    "port_owners_ok": ["docker-proxy"],
}


def _by_name(checks):
    return {c["name"]: c for c in checks}


def test_healthy_host_only_fails_on_the_foreign_port():
    checks = _by_name(hf.evaluate(_facts(), REQ))
    errors = [c for c in checks.values() if c["severity"] == "error"]
    assert [c["name"] for c in errors] == ["port_443"]
    assert "nginx PID 123" in checks["port_443"]["message"]
    assert checks["port_8001"]["ok"] and "ours" in checks["port_8001"]["message"]


def test_memory_below_minimum_says_what_to_do():
    req = dict(REQ, min_memory_mib=10 * 1024 * 1024 * 1024)
    check = _by_name(hf.evaluate(_facts(), req))["memory"]
    assert check["severity"] == "error"
    assert "resize the instance" in check["message"]


def test_memory_between_minimum_and_recommendation_warns():
    facts = _facts(memory={"effective_bytes": 3 * hf.GIB})
    check = _by_name(hf.evaluate(facts, REQ))["memory"]
    assert check["severity"] == "warning" and "recommended" in check["message"]


def test_unknown_avx2_warns_and_missing_avx2_fails():
    facts = _facts(cpu={"usable_cores": 4, "avx2": None})
    assert _by_name(hf.evaluate(facts, REQ))["avx2"]["severity"] == "warning"
    facts = _facts(cpu={"usable_cores": 4, "avx2": False})
    assert _by_name(hf.evaluate(facts, REQ))["avx2"]["severity"] == "error"


def test_old_kernel_fails_and_vendor_suffix_passes():
    facts = _facts(kernel={"release": "4.19.0-25-amd64", "version": (4, 19, 0)})
    assert _by_name(hf.evaluate(facts, REQ))["kernel"]["severity"] == "error"
    facts = _facts(kernel={"release": "6.18.44-fc-v669", "version": (6, 18, 44)})
    assert _by_name(hf.evaluate(facts, REQ))["kernel"]["ok"]


def test_cgroup_v1_is_a_warning_unless_required():
    facts = _facts(cgroup={"mode": "hybrid"})
    assert _by_name(hf.evaluate(facts, REQ))["cgroup"]["severity"] == "warning"
    req = dict(REQ, require_cgroup_v2=True)
    assert _by_name(hf.evaluate(facts, req))["cgroup"]["severity"] == "error"


def test_shared_disk_needs_system_plus_data_space():
    facts = _facts()
    data = copy.deepcopy(facts["disks"]["system"])
    data["path"] = "/srv/openclaw"
    data["free_bytes"] = 60 * 10**9
    facts["disks"]["data"] = data
    facts["disks"]["system"]["free_bytes"] = 60 * 10**9
    check = _by_name(hf.evaluate(facts, REQ))["disk"]
    assert check["severity"] == "error" and "70 GB needed" in check["message"]


def test_data_fs_without_noatime_points_to_storage_role():
    facts = _facts()
    facts["disks"]["data"]["options"] = ["rw", "relatime"]
    facts["disks"]["data"]["fstype"] = "overlay"
    check = _by_name(hf.evaluate(facts, REQ))["data_fs"]
    assert check["severity"] == "warning"
    assert "overlay" in check["message"] and "noatime" in check["message"]
    assert "openclaw_storage" in check["message"]
