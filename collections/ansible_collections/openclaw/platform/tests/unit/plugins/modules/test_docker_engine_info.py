"""Run the docker_engine_info module on this machine through AnsibleModule."""

import json
import shutil
import subprocess

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.openclaw.platform.plugins.modules import docker_engine_info


def _run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        docker_engine_info.main()
    result = json.loads(capsys.readouterr().out)
    assert exc.value.code == 0 and result["changed"] is False, result
    return result


def test_an_installed_dockerd_means_present(tmp_path, capsys):
    # Debian's docker.io path second, as in the default list: the first that exists wins.
    sbin = tmp_path / "sbin-dockerd"
    sbin.write_text("")
    args = {"dockerd_paths": [str(tmp_path / "bin-dockerd"), str(sbin)], "docker_user_chain": False}
    result = _run(args, capsys)
    assert result["present"] is True
    assert result["dockerd"] == str(sbin)
    assert result["docker_user_chain"] is False
    assert result["reason"] == f"{sbin} exists"


def test_no_dockerd_and_no_chain_check_means_absent(tmp_path, capsys):
    result = _run(
        {"dockerd_paths": [str(tmp_path / "dockerd")], "docker_user_chain": False}, capsys
    )
    assert result["present"] is False and result["dockerd"] == ""
    assert str(tmp_path / "dockerd") in result["reason"]


def test_the_docker_user_chain_alone_means_present(tmp_path, capsys):
    """Compared with iptables itself on this machine (Docker runs here for the tests)."""
    iptables = shutil.which("iptables") or shutil.which("iptables", path="/usr/sbin:/sbin")
    chain = bool(iptables) and (
        subprocess.run(
            [iptables, "-w", "-n", "-L", "DOCKER-USER"], check=False, capture_output=True
        ).returncode
        == 0
    )
    result = _run({"dockerd_paths": [str(tmp_path / "dockerd")]}, capsys)
    assert result["docker_user_chain"] is chain
    assert result["present"] is chain
    if chain:
        assert result["reason"] == "the DOCKER-USER iptables chain exists"
