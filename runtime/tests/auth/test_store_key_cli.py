"""`keys generate-store-key`: an owner-only file, never overwritten by mistake."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet

from openclaw_runtime.cli import main


@pytest.fixture
def open_umask():
    """A umask of 0: whatever mode the command asks for is what the file gets."""
    old = os.umask(0)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_writes_an_owner_only_key(tmp_path, open_umask, capsys):
    out = tmp_path / "store.key"
    assert main(["keys", "generate-store-key", "-o", str(out)]) == 0
    assert _mode(out) == 0o600
    Fernet(out.read_bytes().strip())  # a usable key
    assert "0600" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["store.key"]  # no temporary file left


def test_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "store.key"
    out.write_bytes(b"the key of an existing store\n")
    assert main(["keys", "generate-store-key", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "exists" in err and "--force" in err
    assert out.read_bytes() == b"the key of an existing store\n"
    assert [p.name for p in tmp_path.iterdir()] == ["store.key"]


def test_force_replaces_the_file_whole_and_owner_only(tmp_path, open_umask):
    out = tmp_path / "store.key"
    out.write_bytes(b"old\n")
    out.chmod(0o644)
    inode = out.stat().st_ino
    assert main(["keys", "generate-store-key", "-o", str(out), "--force"]) == 0
    assert _mode(out) == 0o600
    assert out.stat().st_ino != inode  # a new file renamed over the old: never half written
    Fernet(out.read_bytes().strip())
    assert [p.name for p in tmp_path.iterdir()] == ["store.key"]


def test_missing_directory_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "nope" / "store.key"
    assert main(["keys", "generate-store-key", "-o", str(out)]) == 2
    assert "create the directory" in capsys.readouterr().err
