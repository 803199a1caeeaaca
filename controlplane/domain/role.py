"""The custom-role aggregate (subject ``lq.evt.role.<name>``).

A role is a named set of permissions. The built-in roles (admin, operator, viewer) are
code, not events (``events.permissions.BUILTIN_ROLES``): they cannot be changed or deleted,
and no custom role may take their names. The role's name is its id, so creating a name
twice races on one subject and only one creation can win.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidState, UnknownAggregate
from events import auth as ae
from events.base import Event
from events.codec import Envelope
from events.permissions import BUILTIN_ROLES, unknown

KIND = "role"


class Role(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    description: str = ""
    permissions: frozenset[str] = frozenset()
    deleted: bool = False


class Define(msgspec.Struct, frozen=True, kw_only=True):
    """Create the role, or (``update``) replace its description and permissions."""

    role: str
    description: str = ""
    permissions: tuple[str, ...] = ()
    update: bool = False


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


Command = Define | Delete


def decide(role: Role | None, command: Command) -> list[Event]:
    if isinstance(command, Define):
        if command.role in BUILTIN_ROLES:
            raise InvalidState(f"{command.role} is a built-in role and cannot be changed")
        bad = unknown(command.permissions)
        if bad:
            raise InvalidState(f"unknown permissions: {', '.join(bad)}")
        perms = sorted(set(command.permissions))
        exists = role is not None and not role.deleted
        if command.update:
            if not exists:
                raise UnknownAggregate(KIND, command.role)
            assert role is not None
            if (role.description, role.permissions) == (command.description, frozenset(perms)):
                return []
            return [
                ae.RoleUpdated(
                    role=command.role, description=command.description, permissions=perms
                )
            ]
        if exists:
            raise AlreadyExists(f"role {command.role} already exists")
        return [
            ae.RoleCreated(role=command.role, description=command.description, permissions=perms)
        ]
    if role is None or role.deleted:
        raise UnknownAggregate(KIND, "" if role is None else role.role)
    return [ae.RoleDeleted(role=role.role)]


def evolve(role: Role | None, env: Envelope) -> Role | None:
    e = env.event
    match e:
        case ae.RoleCreated() | ae.RoleUpdated():
            return Role(
                role=e.role, description=e.description, permissions=frozenset(e.permissions)
            )
        case ae.RoleDeleted():
            return None if role is None else msgspec.structs.replace(role, deleted=True)
    return role


def decider(command: Command) -> Callable[[Role | None], list[Event]]:
    return lambda role: decide(role, command)
