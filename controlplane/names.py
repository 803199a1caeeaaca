"""Claiming a name before a resource takes it (docs/reliability.md, "Unique names").

A creation (``vm.created``, ``network.created``, ``storage_pool.defined``,
``cluster.created``, ``security_group.created``) or a rename first claims its name here:
the claim is appended to the name's claim aggregate under its expected version
(``controlplane.domain.name_claim``), so two concurrent takers of one name cannot both
pass; the loser is refused with ``NameTaken`` and appends nothing. Resources named before
claims existed hold their names without a claim: a live resource of the kind bearing the
name, found in the aggregate cache, refuses the name too.
"""

from __future__ import annotations

from typing import Any

from controlplane.domain import name_claim as nc
from controlplane.handlers import Handler
from controlplane.repository import Repository
from events.base import Meta, utcnow


def _live(state: Any) -> bool:
    """Not deleted: VMs have a ``deleted`` state, the other kinds a ``deleted`` flag."""
    return not (getattr(state, "deleted", False) or getattr(state, "state", "") == "deleted")


def holder(repo: Repository, scope: nc.Scope, holder_id: str) -> nc.Holder | None:
    """The resource ``holder_id`` of the scope's kind as it is now (``None``: not yet)."""
    state = repo.get(scope.kind, holder_id)[0]
    name = getattr(state, "name", None)
    if not isinstance(name, str):
        return None
    return nc.Holder(live=_live(state), name=name)


def unclaimed_holder(repo: Repository, scope: nc.Scope, name: str, holder_id: str) -> str | None:
    """The id of a live resource of the kind, other than ``holder_id``, named ``name``
    (any case), if any."""
    wanted = nc.normalized(name)
    for ident, state in repo.items(scope.kind):
        other = getattr(state, "name", None)
        if ident == holder_id or not isinstance(other, str) or not _live(state):
            continue
        if nc.normalized(other) == wanted:
            return ident
    return None


def check(repo: Repository, scope: nc.Scope, name: str, holder_id: str) -> nc.ClaimName:
    """Refuse a name that the aggregate cache shows taken (``NameTaken``), before anything
    is appended; answers the command that claims it. Only ``claim`` is race-free."""
    if (other := unclaimed_holder(repo, scope, name, holder_id)) is not None:
        raise nc.NameTaken(scope, name, other)
    command = nc.ClaimName(scope=scope, name=name, holder_id=holder_id, now=utcnow())
    current: nc.Claim | None = repo.get(scope.claim_kind, nc.claim_id(name))[0]
    if current is not None:
        nc.decide(current, command, holder(repo, scope, current.holder_id))
    return command


async def claim(
    repo: Repository, handler: Handler, scope: nc.Scope, name: str, holder_id: str, *, meta: Meta
) -> None:
    """Claim ``name`` for ``holder_id`` (a no-op if it holds it); ``NameTaken`` if not."""
    command = check(repo, scope, name, holder_id)
    decide = nc.decider(command, lambda ident: holder(repo, scope, ident))
    await handler.execute(scope.claim_kind, nc.claim_id(name), decide, meta)
