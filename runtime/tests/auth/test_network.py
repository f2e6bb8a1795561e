"""CIDR allow-lists (v4, v6, IPv4-mapped IPv6) and client addresses behind trusted proxies."""

from __future__ import annotations

import pytest

from openclaw_runtime.auth import AddressMatcher, client_address, parse_address
from openclaw_runtime.auth.network import client_hop, limit_key


@pytest.mark.parametrize(
    ("cidrs", "addr", "expected"),
    [
        (["10.0.0.0/8"], "10.1.2.3", True),
        (["10.0.0.0/8"], "11.0.0.1", False),
        (["10.0.0.0/8"], "::ffff:10.1.2.3", True),  # mapped peer, v4 rule
        (["::ffff:10.0.0.0/104"], "10.9.9.9", True),  # mapped rule, v4 peer
        (["::ffff:10.0.0.0/104"], "11.9.9.9", False),
        (["2001:db8::/32"], "2001:db8::1", True),
        (["2001:db8::/32"], "2001:db9::1", False),
        (["2001:db8::/32"], "10.0.0.1", False),
        (["127.0.0.1/32"], "127.0.0.2", False),
        (["127.0.0.2"], "127.0.0.2", True),
        (["fe80::/10"], "fe80::1%eth0", True),
        ([], "192.0.2.1", True),  # no list: any address
        (["10.0.0.0/8"], "not-an-ip", False),
    ],
)
def test_matching(cidrs, addr, expected):
    assert AddressMatcher(cidrs).matches(parse_address(addr)) is expected


def test_invalid_network_is_refused_with_its_text():
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        AddressMatcher(["10.0.0.300/8"])


def test_forwarded_for_ignored_from_untrusted_peer():
    trusted = AddressMatcher(["10.0.0.5"])
    assert str(client_address("192.0.2.9", "203.0.113.7", trusted)) == "192.0.2.9"


def test_forwarded_for_used_from_trusted_proxy():
    trusted = AddressMatcher(["10.0.0.5"])
    assert str(client_address("10.0.0.5", "203.0.113.7", trusted)) == "203.0.113.7"


def test_forwarded_for_spoofed_prefix_does_not_win():
    # The client sends its own X-Forwarded-For; the proxy appends the real address.
    trusted = AddressMatcher(["10.0.0.0/24"])
    got = client_address("10.0.0.5", "1.2.3.4, 203.0.113.7, 10.0.0.6", trusted)
    assert str(got) == "203.0.113.7"


def test_no_trusted_proxies_means_socket_address():
    assert str(client_address("::ffff:127.0.0.2", "1.2.3.4", AddressMatcher([]))) == "127.0.0.2"


def test_garbled_hop_makes_the_client_unknown_not_the_proxy():
    # Falling back to the proxy would pass allow-lists that contain the proxy's address.
    trusted = AddressMatcher(["10.0.0.5"])
    assert client_address("10.0.0.5", "junk", trusted) is None
    assert client_address("10.0.0.5", "203.0.113.7, " + "1" * 10_000, trusted) is None
    assert client_hop("10.0.0.5", "junk, 203.0.113.7", trusted) == "203.0.113.7"


def test_header_lines_joined_the_last_one_written_by_the_proxy_wins():
    # HAProxy's option forwardfor appends its own line after the client's forged one.
    trusted = AddressMatcher(["10.0.0.5"])
    lines = ["198.51.100.7", "203.0.113.9"]
    assert str(client_address("10.0.0.5", ",".join(lines), trusted)) == "203.0.113.9"


def test_a_chain_of_trusted_proxies_only_names_the_first_proxy():
    trusted = AddressMatcher(["10.0.0.0/24"])
    assert str(client_address("10.0.0.5", "10.0.0.7, 10.0.0.6", trusted)) == "10.0.0.7"
    assert str(client_address("10.0.0.5", "", trusted)) == "10.0.0.5"


@pytest.mark.parametrize(
    ("addr", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::", "2001:db8:1:2::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
    ],
)
def test_limit_key_is_the_ipv4_address_or_the_ipv6_64(addr, key):
    assert limit_key(parse_address(addr)) == key
