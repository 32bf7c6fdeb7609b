"""Login throttling rules: exponential backoff per (account, client) and per client. Pure.

Failed logins are counted twice: for the pair (normalised username, client address), which
slows down guessing one account's password, and for the client address alone, which slows
down spraying one password over many usernames. Neither counter is the account's alone,
so failures from an attacker's address never block the right password from another one.
After :attr:`Backoff.free` failures each further one makes the counter wait
``base * 2**(n - free)``, at most :attr:`Backoff.cap`; a counter is forgotten
:attr:`ThrottlePolicy.forget` after its last failure (once its wait is over).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from atexpert.domain.staff import normalize_username

#: IPv6 clients are counted per /64: one host usually holds the whole block.
IPV6_CLIENT_PREFIX = 64


class ThrottleKind(StrEnum):
    ACCOUNT = "account"  # one username from one client
    CLIENT = "client"  # one client, every username


@dataclass(frozen=True)
class Backoff:
    free: int
    base: timedelta
    cap: timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    account: Backoff = field(
        default_factory=lambda: Backoff(5, timedelta(seconds=1), timedelta(minutes=15))
    )
    client: Backoff = field(
        default_factory=lambda: Backoff(30, timedelta(seconds=1), timedelta(hours=1))
    )
    forget: timedelta = timedelta(hours=1)


class Throttle(BaseModel):
    """One failure counter, as an admin sees it."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: ThrottleKind
    username: str | None
    client: str
    failures: int
    #: Seconds before this counter lets a login through; 0 when it doesn't block.
    retry_after: int


def throttle_username(raw: str) -> str:
    """The name failures are counted under: ``" BFUSER "``, ``Bfuser`` and ``bfuser`` alike."""
    return normalize_username(raw) or raw.strip().casefold()


def client_bucket(address: str) -> str:
    """The client a failure is counted for: the address, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def throttle_id(kind: ThrottleKind, username: str, client: str) -> str:
    """The id of a counter (key-safe, reveals nothing): ``a-<hash>`` or ``c-<hash>``."""
    subject = f"{username}\n{client}" if kind is ThrottleKind.ACCOUNT else client
    return f"{kind.value[0]}-{hashlib.sha256(subject.encode()).hexdigest()[:32]}"
