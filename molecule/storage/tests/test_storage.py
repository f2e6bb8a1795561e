"""Behaviour of openclaw_storage on a loop device: XFS, by UUID, noatime."""

import json

import pytest

DATA = "/srv/openclaw"
SCRATCH = "/mnt/openclaw-scratch"


def _mount(host, target):
    out = json.loads(
        host.check_output(f"findmnt -J -o SOURCE,FSTYPE,OPTIONS --mountpoint {target}")
    )
    return out["filesystems"][0]


def _fstab_fields(host, target):
    for line in host.file("/etc/fstab").content_string.splitlines():
        fields = line.split()
        if len(fields) >= 4 and not line.startswith("#") and fields[1] == target:
            return fields
    pytest.fail(f"no /etc/fstab line for {target}")


def test_data_path_is_xfs_with_noatime(host):
    mnt = _mount(host, DATA)
    assert mnt["fstype"] == "xfs"
    assert "noatime" in mnt["options"].split(",")


def test_data_path_is_on_the_given_device(host):
    dev = host.file("/etc/openclaw-mol-storage.dev").content_string.strip()
    assert _mount(host, DATA)["source"] == dev


def test_fstab_mounts_by_uuid_with_noatime(host):
    dev = host.file("/etc/openclaw-mol-storage.dev").content_string.strip()
    uuid = host.check_output(f"blkid -p -s UUID -o value {dev}")
    fields = _fstab_fields(host, DATA)
    assert fields[0] == f"UUID={uuid}"
    assert fields[2] == "xfs"
    assert "noatime" in fields[3].split(",")


def test_reading_a_file_does_not_update_its_atime(host):
    path = f"{DATA}/atime-probe"
    # An old atime: relatime would refresh it on the next read, noatime must not.
    host.check_output(f"echo data > {path} && touch -a -d '2020-01-01 00:00:00' {path}")
    before = host.check_output(f"stat -c %X {path}")
    host.check_output(f"cat {path}")
    after = host.check_output(f"stat -c %X {path}")
    assert before == after


def test_existing_relatime_mount_was_switched_to_noatime(host):
    options = _mount(host, SCRATCH)["options"].split(",")
    assert "noatime" in options
    assert "relatime" not in options
    fstab_options = _fstab_fields(host, SCRATCH)[3].split(",")
    assert "noatime" in fstab_options and "relatime" not in fstab_options
    assert "size=16m" in fstab_options


def test_fstab_entry_mounts_again(host):
    # The persisted line (not only the live mount) must work after a reboot.
    host.check_output(f"umount {DATA} && mount {DATA}")
    assert _mount(host, DATA)["fstype"] == "xfs"
