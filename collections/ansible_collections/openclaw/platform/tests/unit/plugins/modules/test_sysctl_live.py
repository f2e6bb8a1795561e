"""Run the sysctl_live module through AnsibleModule, on a copy of /proc/sys and on this kernel."""

import json
from pathlib import Path

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.openclaw.platform.plugins.modules import sysctl_live


def _run(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        sysctl_live.main()
    return exc.value.code, json.loads(capsys.readouterr().out)


def _proc(tmp_path, values):
    """A /proc/sys look-alike: one file per parameter, the kernel's tab-separated style."""
    for name, value in values.items():
        path = Path(sysctl_live.proc_path(str(tmp_path), name))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    return str(tmp_path)


def test_only_differing_parameters_are_written_and_all_are_read_back(tmp_path, capsys):
    root = _proc(
        tmp_path,
        {
            "net.core.somaxconn": "128",
            "net.ipv4.tcp_rmem": "4096\t87380\t6291456",
            "vm.swappiness": "10",
        },
    )
    code, result = _run(
        {
            "proc_root": root,
            "settings": {
                "net.core.somaxconn": 4096,
                "net.ipv4.tcp_rmem": "4096 87380 6291456",  # equal, whitespace aside
                "vm.swappiness": "10",
            },
        },
        capsys,
    )
    assert code == 0 and result["changed"] is True
    assert result["changed_keys"] == {"net.core.somaxconn": {"before": "128", "after": "4096"}}
    assert (tmp_path / "net/core/somaxconn").read_text() == "4096\n"
    assert (tmp_path / "net/ipv4/tcp_rmem").read_text() == "4096\t87380\t6291456\n"  # untouched
    assert result["live"] == {
        "net.core.somaxconn": "4096",
        "net.ipv4.tcp_rmem": "4096 87380 6291456",
        "vm.swappiness": "10",
    }
    # A second run changes nothing.
    code, again = _run({"proc_root": root, "settings": {"net.core.somaxconn": 4096}}, capsys)
    assert code == 0 and again["changed"] is False and again["changed_keys"] == {}


def test_check_mode_reports_without_writing(tmp_path, capsys):
    root = _proc(tmp_path, {"net.core.somaxconn": "128"})
    code, result = _run(
        {"proc_root": root, "settings": {"net.core.somaxconn": 4096}, "_ansible_check_mode": True,
         "_ansible_diff": True},
        capsys,
    )  # fmt: skip
    assert code == 0 and result["changed"] is True
    assert (tmp_path / "net/core/somaxconn").read_text() == "128\n"
    assert result["live"] == {"net.core.somaxconn": "128"}
    assert result["diff"] == {
        "before": "net.core.somaxconn = 128\n",
        "after": "net.core.somaxconn = 4096\n",
    }


def test_a_slash_in_a_name_is_a_dot_in_one_component(tmp_path):
    assert sysctl_live.proc_path(str(tmp_path), "net.ipv4.conf.eth0/1.rp_filter") == str(
        tmp_path / "net/ipv4/conf/eth0.1/rp_filter"
    )


def test_each_parameter_is_read_after_the_writes_before_it(tmp_path, capsys, monkeypatch):
    """Linux: writing ip_forward resets conf.all.accept_redirects; the later key must see that."""
    root = _proc(tmp_path, {"net.ipv4.ip_forward": "0", "net.ipv4.conf.all.accept_redirects": "0"})
    real_open = open

    def kernel_like_open(path, mode="r", *a, **kw):
        handle = real_open(path, mode, *a, **kw)
        if "w" in mode and str(path).endswith("ip_forward"):
            (tmp_path / "net/ipv4/conf/all/accept_redirects").write_text("1\n")
        return handle

    monkeypatch.setattr("builtins.open", kernel_like_open)
    code, result = _run(
        {
            "proc_root": root,
            "settings": {"net.ipv4.ip_forward": 1, "net.ipv4.conf.all.accept_redirects": 0},
        },
        capsys,
    )
    assert code == 0
    assert set(result["changed_keys"]) == {
        "net.ipv4.ip_forward",
        "net.ipv4.conf.all.accept_redirects",
    }
    assert result["live"] == {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.accept_redirects": "0"}


def test_an_unknown_parameter_fails_naming_it_and_the_fix(tmp_path, capsys):
    root = _proc(tmp_path, {"net.core.somaxconn": "128"})
    code, result = _run(
        {"proc_root": root, "settings": {"net.core.somaxconn": 4096, "net.core.nonsense": 1}},
        capsys,
    )
    assert code == 1
    assert "no parameter net.core.nonsense" in result["msg"]
    assert "openclaw_sysctl_extra_settings" in result["msg"]
    # What was written before the failure is reported.
    assert result["changed_keys"] == {"net.core.somaxconn": {"before": "128", "after": "4096"}}


def test_an_empty_or_structured_value_is_refused_before_any_write(tmp_path, capsys):
    root = _proc(tmp_path, {"net.core.somaxconn": "128", "vm.swappiness": "60"})
    code, result = _run(
        {"proc_root": root, "settings": {"net.core.somaxconn": 4096, "vm.swappiness": None}},
        capsys,
    )
    assert code == 1 and "vm.swappiness" in result["msg"]
    assert (tmp_path / "net/core/somaxconn").read_text() == "128\n"


def test_this_kernel_in_check_mode(capsys):
    """The real /proc/sys: a parameter at its current value is unchanged, another would change."""
    current = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    other = str(int(current) + 1)
    code, result = _run(
        {"settings": {"net.core.somaxconn": current}, "_ansible_check_mode": True}, capsys
    )
    assert (
        code == 0
        and result["changed"] is False
        and result["live"] == {"net.core.somaxconn": current}
    )
    code, result = _run(
        {"settings": {"net.core.somaxconn": other}, "_ansible_check_mode": True}, capsys
    )
    assert code == 0 and result["changed"] is True
    assert Path("/proc/sys/net/core/somaxconn").read_text().strip() == current
