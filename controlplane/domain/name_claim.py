"""Names unique in scope: the name-claim aggregate of every named kind (pure).

VMs, networks, storage pools, clusters and security groups have names unique within
their kind: no two resources of one kind that are not deleted share a name, fleet-wide,
compared without regard to case (``Web`` and ``web`` are one name). A VM's cluster is
known only once it is placed, so a narrower scope could not be checked when a creation
is accepted; the other kinds have no narrower home at all.

Each kind has a ``Scope``; each lower-cased name of a kind has one claim aggregate
(``<kind>_name``/``claim_id``). Whatever takes a name (a creation, or a rename where the
kind has one) claims it in the same flow that then appends its own event
(``controlplane.names``), and the claim is appended under the aggregate's expected
version, so of two concurrent takers of one name only one can win; the other finds the
name held and is refused (``NameTaken``, ``409 name-taken``) before anything of it is
appended.

A claim is never released by an event of its own, so no release can be lost: it holds
its name while its holder is not deleted and still bears that name, and is free as soon
as the holder is deleted or renamed to another name. A claim whose holder does not
bear the name (yet) -- a creation between its claim and its ``*.created``, a rename
between its claim and its update, or one whose append failed -- holds the name for
``GRACE`` after it was made; a retried VM creation (same ``Idempotency-Key``, same VM id)
reuses its own claim at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from controlplane.domain.errors import InvalidState
from events import name_claim as nce
from events import vm_name as vne
from events.base import Event
from events.codec import Envelope

GRACE = timedelta(minutes=2)
"""How long a claim whose holder does not bear its name holds it: longer than any
append's retries, so a creation or rename between its claim and its own event is never
overtaken."""
_NAMESPACE = uuid.UUID("0b4f5c2e-9d1a-4e67-8f3b-6a2d7c9e1f40")


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of named resource: its aggregate kind and its claims' aggregate kind."""

    kind: str
    label: str  # how a problem names the kind

    @property
    def claim_kind(self) -> str:
        return f"{self.kind}_name"


VM = Scope(kind="vm", label="VM")
NETWORK = Scope(kind="network", label="network")
STORAGE_POOL = Scope(kind="storage_pool", label="storage pool")
CLUSTER = Scope(kind="cluster", label="cluster")
SECURITY_GROUP = Scope(kind="security_group", label="security group")
SCOPES = (VM, NETWORK, STORAGE_POOL, CLUSTER, SECURITY_GROUP)


class NameTaken(InvalidState):
    slug = "name-taken"

    def __init__(self, scope: Scope, name: str, holder: str) -> None:
        super().__init__(
            f"a {scope.label} named {name} exists ({holder}); {scope.label} names are unique"
        )
        self.holder = holder


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    holder_id: str
    claimed_at: datetime


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """What a claim's holder is now: not deleted (``live``) and named ``name``."""

    live: bool
    name: str


class ClaimName(msgspec.Struct, frozen=True, kw_only=True):
    scope: Scope
    name: str
    holder_id: str
    now: datetime


def normalized(name: str) -> str:
    return name.lower()


def claim_id(name: str) -> str:
    """The aggregate id of ``name``'s claim (names may hold '.', which subjects cannot)."""
    return str(uuid.uuid5(_NAMESPACE, normalized(name)))


def held(claim: Claim, holder: Holder | None, now: datetime) -> bool:
    """Whether ``claim`` still holds its name, given its holder as it is now."""
    if holder is not None and not holder.live:
        return False
    if holder is not None and normalized(holder.name) == normalized(claim.name):
        return True
    return now - claim.claimed_at < GRACE  # not yet (or no longer) named so


def claimed(scope: Scope, name: str, holder_id: str) -> Event:
    """The claim event (VM claims keep their own event type)."""
    if scope == VM:
        return vne.VmNameClaimed(name=name, vm_id=holder_id)
    return nce.NameClaimed(name=name, holder_id=holder_id)


def decide(claim: Claim | None, command: ClaimName, holder: Holder | None) -> list[Event]:
    """Claim the name for ``command.holder_id``; ``holder`` is the current claim's holder."""
    if claim is not None and held(claim, holder, command.now):
        if claim.holder_id == command.holder_id:
            return []  # already ours: a retry, or a rename to another spelling
        raise NameTaken(command.scope, claim.name, claim.holder_id)
    return [claimed(command.scope, command.name, command.holder_id)]


def decider(
    command: ClaimName, holder_of: Callable[[str], Holder | None]
) -> Callable[[Claim | None], list[Event]]:
    return lambda claim: decide(claim, command, holder_of(claim.holder_id) if claim else None)


def evolve(state: Claim | None, env: Envelope) -> Claim | None:
    e = env.event
    if isinstance(e, vne.VmNameClaimed):
        return Claim(name=e.name, holder_id=e.vm_id, claimed_at=env.occurred_at)
    if isinstance(e, nce.NameClaimed):
        return Claim(name=e.name, holder_id=e.holder_id, claimed_at=env.occurred_at)
    return state
