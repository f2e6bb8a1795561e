"""Client addresses: CIDR allow-lists (IPv4, IPv6, IPv4-mapped IPv6) and trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

__all__ = [
    "AddressMatcher",
    "IPAddress",
    "IPNetwork",
    "client_address",
    "parse_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=65536)  # peers repeat; parsing is the costliest step of a request's auth
def parse_address(text: str) -> IPAddress | None:
    """Parse an address, unwrapping IPv4-mapped IPv6 (``::ffff:10.0.0.1`` -> ``10.0.0.1``)."""
    try:
        addr = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _parse_network(text: str) -> IPNetwork:
    net = ipaddress.ip_network(text.strip(), strict=False)
    # ::ffff:10.0.0.0/104 -> 10.0.0.0/8, so that mapped networks match plain IPv4 peers.
    if (
        isinstance(net, ipaddress.IPv6Network)
        and net.network_address.ipv4_mapped is not None
        and net.prefixlen >= 96
    ):
        mapped = net.network_address.ipv4_mapped
        return ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
    return net


class AddressMatcher:
    """A set of networks; an empty set matches every address."""

    __slots__ = ("_memo", "_nets", "texts")

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.texts = tuple(cidrs)
        try:
            self._nets = tuple(_parse_network(c) for c in self.texts)
        except ValueError as exc:
            raise ValueError(f"invalid network in {list(self.texts)!r}: {exc}") from None
        self._memo: dict[IPAddress, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._nets)

    def matches(self, addr: IPAddress | None) -> bool:
        """Return True when ``addr`` lies in one of the networks (or when there are none)."""
        if not self._nets:
            return True
        if addr is None:
            return False
        found = self._memo.get(addr)
        if found is None:
            found = any(addr.version == n.version and addr in n for n in self._nets)
            if len(self._memo) >= 4096:
                self._memo.clear()
            self._memo[addr] = found
        return found


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: AddressMatcher
) -> IPAddress | None:
    """Return the client address: the socket peer, or X-Forwarded-For behind trusted proxies.

    ``X-Forwarded-For`` is read right to left, skipping hops that are trusted
    proxies themselves; the first untrusted hop is the client. A peer that is
    not a trusted proxy cannot influence the result.
    """
    addr = parse_address(peer) if peer else None
    if not forwarded_for or not trusted_proxies or not trusted_proxies.matches(addr):
        return addr
    for hop in reversed(forwarded_for.split(",")):
        hop_addr = parse_address(hop)
        if hop_addr is None:
            # A garbled header from a trusted proxy: fall back to the proxy itself.
            return addr
        if not trusted_proxies.matches(hop_addr):
            return hop_addr
        addr = hop_addr
    return addr
