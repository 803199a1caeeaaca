"""VM names unique in scope: the name-claim aggregate (pure).

The scope is the fleet: no two VMs that are not deleted share a name, compared without
regard to case (``Web`` and ``web`` are one name). A VM's cluster is known only once it is
placed, so a per-cluster scope could not be checked when the creation is accepted.

Each lower-cased name has one aggregate (``claim_id``). A creation claims the name in the
same decision flow that appends ``vm.created`` (``controlplane.names``), and the claim is
appended under the aggregate's expected version, so of two concurrent creations of one
name only one can win; the other finds the name held and is refused (``NameTaken``,
``409 name-taken``) before anything of it is appended.

A claim is released by the deletion of the VM holding it: the claim stays as written and
is free as soon as its holder is ``deleted`` (a state no VM leaves), so no release can be
lost between the deletion and a separate event. A claim whose VM was never created (the
creation's append failed after the claim) is free after ``GRACE``; a retry with the same
``Idempotency-Key`` derives the same VM id and reuses its own claim at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import msgspec

from controlplane.domain.errors import InvalidState
from controlplane.domain.vm_state import Vm
from events import vm_name as ne
from events.base import Event
from events.codec import Envelope

KIND = "vm_name"
GRACE = timedelta(minutes=2)
"""How long a claim whose VM does not exist (yet) is held: longer than any append's retries,
so a creation between its claim and its ``vm.created`` is never overtaken."""
_NAMESPACE = uuid.UUID("0b4f5c2e-9d1a-4e67-8f3b-6a2d7c9e1f40")


class NameTaken(InvalidState):
    slug = "name-taken"

    def __init__(self, name: str, holder: str) -> None:
        super().__init__(f"a VM named {name} exists ({holder}); VM names are unique")
        self.holder = holder


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    vm_id: str
    claimed_at: datetime


class ClaimName(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    vm_id: str
    now: datetime


def normalized(name: str) -> str:
    return name.lower()


def claim_id(name: str) -> str:
    """The aggregate id of ``name``'s claim (names may hold '.', which subjects cannot)."""
    return str(uuid.uuid5(_NAMESPACE, normalized(name)))


def held(claim: Claim, holder: Vm | None, now: datetime) -> bool:
    """Whether ``claim`` still holds its name, given its holder's state."""
    if holder is None:
        return now - claim.claimed_at < GRACE
    return holder.state != "deleted"


def decide(claim: Claim | None, command: ClaimName, holder: Vm | None) -> list[Event]:
    """Claim the name for ``command.vm_id``; ``holder`` is the current claim's VM."""
    if claim is not None and claim.vm_id == command.vm_id:
        return []  # already ours: a retry of the same creation
    if claim is not None and held(claim, holder, command.now):
        raise NameTaken(claim.name, claim.vm_id)
    return [ne.VmNameClaimed(name=command.name, vm_id=command.vm_id)]


def decider(
    command: ClaimName, vm_of: Callable[[str], Vm | None]
) -> Callable[[Claim | None], list[Event]]:
    return lambda claim: decide(claim, command, vm_of(claim.vm_id) if claim else None)


def evolve(state: Claim | None, env: Envelope) -> Claim | None:
    e = env.event
    if isinstance(e, ne.VmNameClaimed):
        return Claim(name=e.name, vm_id=e.vm_id, claimed_at=env.occurred_at)
    return state
