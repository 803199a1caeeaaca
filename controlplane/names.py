"""Claiming a new VM's name before its ``vm.created`` is appended (docs/reliability.md).

The claim is appended to the name's claim aggregate under its expected version
(``controlplane.domain.vm_name``), so two concurrent creations of one name cannot both
pass; the loser is refused with ``NameTaken`` and appends nothing. VMs created before
claims existed hold their names without a claim: a live VM of the same name found in the
aggregate cache refuses the name too.
"""

from __future__ import annotations

from controlplane.domain import vm_name as nd
from controlplane.handlers import Handler
from controlplane.repository import Repository
from events.base import Meta, utcnow


def unclaimed_holder(repo: Repository, name: str, vm_id: str) -> str | None:
    """A live VM other than ``vm_id`` already named ``name`` (any case), if any."""
    wanted = nd.normalized(name)
    for vm in repo.all("vm"):
        if vm.vm_id != vm_id and vm.state != "deleted" and nd.normalized(vm.name) == wanted:
            return str(vm.vm_id)
    return None


async def claim(repo: Repository, handler: Handler, name: str, vm_id: str, meta: Meta) -> None:
    """Claim ``name`` for ``vm_id`` (a no-op if it already holds it); ``NameTaken`` if not."""
    if (other := unclaimed_holder(repo, name, vm_id)) is not None:
        raise nd.NameTaken(name, other)
    command = nd.ClaimName(name=name, vm_id=vm_id, now=utcnow())
    await handler.execute(nd.KIND, nd.claim_id(name), nd.decider(command, repo.vm), meta)
