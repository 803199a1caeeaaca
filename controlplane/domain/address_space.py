"""The address space: every network's subnet claim on one subject, pure.

Why one aggregate: "no two networks overlap" is a rule across networks, which no single
network aggregate can decide. Checking the other networks in the aggregate cache is not
enough when two creations arrive at the same instant: each sees the other's network
missing and both would pass. So a network creation first claims its subnet here
(``lq.evt.address_space.ipv4``), appended with the registry's version as the expected
last subject sequence: of two overlapping claims decided against the same version one
append wins, the other is decided again against the winner's claim and refused (409
``subnet-claimed``). A network's deletion releases its claim.

A claim whose network never came (the creation failed after claiming, or its
controlplane stopped in between) would hold its subnet for good; a claim therefore only
counts while its network is live or for ``GRACE`` after it was made, and the caller says
which networks are live (``Claim.live``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from controlplane.domain.errors import InvalidState
from events import network as ne
from events.base import Event
from events.codec import Envelope

KIND = ne.ADDRESS_SPACE_KIND
SPACE_ID = "ipv4"
GRACE = timedelta(minutes=2)
"""How long a claim holds its subnet before its network exists."""


class Claimed(msgspec.Struct, frozen=True, kw_only=True):
    cidr: str
    name: str
    at: datetime


class AddressSpace(msgspec.Struct, frozen=True, kw_only=True):
    claims: dict[str, Claimed] = {}  # network id → its subnet


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str
    cidr: str
    name: str
    now: datetime
    live: frozenset[str] = frozenset()
    """Ids of the networks that exist now (their claims count whatever their age)."""


class Release(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str


Command = Claim | Release


def _counts(network_id: str, claim: Claimed, c: Claim) -> bool:
    return network_id in c.live or c.now - claim.at < GRACE


def decide(space: AddressSpace | None, command: Command) -> list[Event]:
    space = space or AddressSpace()
    match command:
        case Claim():
            if command.network_id in space.claims:
                return []
            mine = ipaddress.ip_network(command.cidr)
            for other_id, other in space.claims.items():
                if not _counts(other_id, other, command):
                    continue
                theirs = ipaddress.ip_network(other.cidr)
                if mine.overlaps(theirs):
                    raise InvalidState(
                        f"subnet {mine} overlaps the subnet {theirs} claimed by network"
                        f" {other.name or other_id}",
                        slug="subnet-claimed",
                    )
            return [
                ne.AddressSpaceClaimed(
                    network_id=command.network_id, cidr=str(mine), name=command.name
                )
            ]
        case Release():
            if command.network_id not in space.claims:
                return []
            return [ne.AddressSpaceReleased(network_id=command.network_id)]
    raise TypeError(f"unknown command {command!r}")


def evolve(space: AddressSpace | None, env: Envelope) -> AddressSpace:
    space = space or AddressSpace()
    e = env.event
    if isinstance(e, ne.AddressSpaceClaimed):
        claim = Claimed(cidr=e.cidr, name=e.name, at=env.occurred_at)
        return AddressSpace(claims={**space.claims, e.network_id: claim})
    if isinstance(e, ne.AddressSpaceReleased):
        return AddressSpace(claims={k: v for k, v in space.claims.items() if k != e.network_id})
    return space


def decider(command: Command) -> Callable[[AddressSpace | None], list[Event]]:
    return lambda space: decide(space, command)
