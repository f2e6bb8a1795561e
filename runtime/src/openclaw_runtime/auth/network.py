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
    "client_hop",
    "limit_key",
    "parse_address",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The longest address text (IPv4-mapped IPv6 with a zone index) is well below this; a longer
# X-Forwarded-For hop is garbage and is not parsed (nor kept in parse_address's cache).
_MAX_HOP = 64


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

    __slots__ = ("_memo", "_nets", "_text_memo", "texts")

    def __init__(self, cidrs: Iterable[str]) -> None:
        self.texts = tuple(cidrs)
        try:
            self._nets = tuple(_parse_network(c) for c in self.texts)
        except ValueError as exc:
            raise ValueError(f"invalid network in {list(self.texts)!r}: {exc}") from None
        self._memo: dict[IPAddress, bool] = {}
        # By text as well: hashing an address object costs more than a short string.
        self._text_memo: dict[str, bool] = {}

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

    def matches_text(self, text: str) -> bool:
        """Return :meth:`matches` of the address written ``text`` (False if it is none)."""
        found = self._text_memo.get(text)
        if found is None:
            addr = parse_address(text) if len(text) <= _MAX_HOP else None
            found = addr is not None and self.matches(addr)
            if len(self._text_memo) >= 4096:
                self._text_memo.clear()
            self._text_memo[text] = found
        return found


def client_hop(
    peer: str | None, forwarded_for: str | None, trusted_proxies: AddressMatcher
) -> str | None:
    """Return the text of the client's address (see :func:`client_address`); None if unknown."""
    if not peer or not forwarded_for or not trusted_proxies:
        return peer
    if not trusted_proxies.matches_text(peer):
        return peer
    found = peer
    rest = forwarded_for
    while True:
        # rpartition: only the hops up to the client are looked at, not the whole header.
        rest, comma, hop = rest.rpartition(",")
        hop = hop.strip()
        if len(hop) > _MAX_HOP or parse_address(hop) is None:
            return None
        if not trusted_proxies.matches_text(hop):
            return hop
        found = hop
        if not comma:
            return found  # every hop is a trusted proxy


def client_address(
    peer: str | None, forwarded_for: str | None, trusted_proxies: AddressMatcher
) -> IPAddress | None:
    """Return the client address: the socket peer, or X-Forwarded-For behind trusted proxies.

    ``forwarded_for`` must hold every ``X-Forwarded-For`` header line of the
    request, joined with commas in the order received: a proxy that appends its
    own line (HAProxy's ``option forwardfor``) puts the client's real address
    last, after any line the client forged. The hops are read right to left,
    skipping trusted proxies; the first untrusted hop is the client. A hop that
    is not an address makes the client unknown (None), so that it matches no
    allow-list. A peer that is not a trusted proxy cannot influence the result.
    """
    hop = client_hop(peer, forwarded_for, trusted_proxies)
    return parse_address(hop) if hop else None


@lru_cache(maxsize=8192)
def limit_key(addr: IPAddress) -> str:
    """Return the rate limit and failure key of an address: IPv4 itself, IPv6 its /64.

    One IPv6 host usually holds a whole /64, so per-address limits would not limit it.
    """
    if addr.version == 4:
        return str(addr)
    return str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))
