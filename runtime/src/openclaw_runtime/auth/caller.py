"""Who a request comes from (the key's principal) and where (its client address)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from .network import AddressMatcher, IPAddress, limit_key, parse_address

__all__ = ["Caller", "Principal", "direct_caller", "proxied_caller"]


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    key_id: str
    name: str
    roles: tuple[str, ...]
    permissions: frozenset[str]


class Caller(NamedTuple):  # built per request: cheaper than a frozen dataclass
    """Where a request comes from, in the form each check needs."""

    addr: IPAddress | None  # what allow-lists are matched against
    bucket: str  # the rate limit and failure key (an IPv6 client's /64)
    client: str  # the audit trail's client: never a trusted proxy, which fail2ban would ban
    via: str | None = None  # a trusted proxy that named no client (audit only)
    network: str | None = None  # an IPv6 client's /64 (audit of blocks only)

    @classmethod
    def of(cls, addr: IPAddress | None) -> Caller:
        """Return the caller at ``addr`` (None: unknown), not a trusted proxy."""
        if addr is None:
            return cls(None, "unknown", "unknown")
        bucket = limit_key(addr)
        if addr.version == 4:
            return cls(addr, bucket, bucket)
        return cls(addr, bucket, str(addr), network=bucket)


def direct_caller(peer: str | None) -> Caller:
    """Return the caller without trusted proxies: the socket peer."""
    if peer is not None and ":" not in peer:
        addr = parse_address(peer)
        if addr is not None:
            return Caller(addr, peer, peer)  # a socket's dotted quad is already str(addr)
    return Caller.of(parse_address(peer) if peer else None)


def proxied_caller(hop: str | None, trusted: AddressMatcher) -> Caller:
    """Return the caller that :func:`.network.client_hop` found behind the trusted proxies."""
    addr = parse_address(hop) if hop else None
    if addr is not None and trusted.matches(addr):
        # A trusted proxy (or a host in a trusted range) that named no client.
        return Caller(addr, limit_key(addr), "unknown", via=str(addr))
    return Caller.of(addr)
