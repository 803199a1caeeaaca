"""The user aggregate: identity, role bindings, and when its sessions stop being valid.

A user's id is derived from the lower-cased user name (``user_id_for``), so two concurrent
creations of one name land on one subject and the optimistic check lets only one win: the
name registry costs nothing extra. Role bindings live on the user, so granting the same
role twice is one event. The password itself is not here: ``user.password_changed`` only
marks the moment, and every session started before it is refused from then on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidState, UnknownAggregate
from events import auth as ae
from events.base import Event
from events.codec import Envelope
from events.permissions import Binding

KIND = "user"
_NAMESPACE = uuid.UUID("0b5e4c3e-2f51-4f0e-9b0a-5f1c1e6c7a21")


def user_id_for(username: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, username.lower()))


class User(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    username: str
    display_name: str = ""
    bindings: tuple[Binding, ...] = ()
    disabled: bool = False
    deleted: bool = False
    created_at: datetime
    password_changed_at: datetime | None = None

    @property
    def active(self) -> bool:
        return not (self.disabled or self.deleted)


class Create(msgspec.Struct, frozen=True, kw_only=True):
    username: str
    display_name: str = ""
    bindings: tuple[Binding, ...] = ()


class PasswordChanged(msgspec.Struct, frozen=True, kw_only=True):
    by_admin: bool = False


class Bind(msgspec.Struct, frozen=True, kw_only=True):
    binding: Binding


class Unbind(msgspec.Struct, frozen=True, kw_only=True):
    binding: Binding


class Disable(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Enable(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


Command = Create | PasswordChanged | Bind | Unbind | Disable | Enable | Delete


def decide(user: User | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if user is not None and not user.deleted:
            raise AlreadyExists(f"user {command.username} already exists")
        uid = user_id_for(command.username)
        events: list[Event] = [
            ae.UserCreated(
                user_id=uid, username=command.username, display_name=command.display_name
            )
        ]
        events += [
            ae.UserRoleBound(user_id=uid, binding=b) for b in dict.fromkeys(command.bindings)
        ]
        return events
    if user is None or user.deleted:
        raise UnknownAggregate(KIND, "" if user is None else user.user_id)
    uid = user.user_id
    match command:
        case PasswordChanged():
            return [ae.UserPasswordChanged(user_id=uid, by_admin=command.by_admin)]
        case Bind():
            if command.binding in user.bindings:
                return []
            return [ae.UserRoleBound(user_id=uid, binding=command.binding)]
        case Unbind():
            if command.binding not in user.bindings:
                return []
            return [ae.UserRoleUnbound(user_id=uid, binding=command.binding)]
        case Disable():
            return [] if user.disabled else [ae.UserDisabled(user_id=uid)]
        case Enable():
            return [ae.UserEnabled(user_id=uid)] if user.disabled else []
        case Delete():
            return [ae.UserDeleted(user_id=uid)]
    raise InvalidState(f"unknown command {command!r}")


def evolve(user: User | None, env: Envelope) -> User | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, ae.UserCreated):
        return User(
            user_id=e.user_id,
            username=e.username,
            display_name=e.display_name,
            created_at=env.occurred_at,
        )
    if user is None:
        return None
    match e:
        case ae.UserPasswordChanged():
            return r(user, password_changed_at=env.occurred_at)
        case ae.UserRoleBound():
            return r(user, bindings=(*user.bindings, e.binding))
        case ae.UserRoleUnbound():
            return r(user, bindings=tuple(b for b in user.bindings if b != e.binding))
        case ae.UserDisabled():
            return r(user, disabled=True)
        case ae.UserEnabled():
            return r(user, disabled=False)
        case ae.UserDeleted():
            return r(user, deleted=True, bindings=())
    return user


def decider(command: Command) -> Callable[[User | None], list[Event]]:
    return lambda user: decide(user, command)
