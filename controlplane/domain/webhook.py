"""The webhook-subscription aggregate (subject ``lq.evt.webhook.<id>``): pure decide/evolve.

A subscription is a name, a target URL, filters (kind and type globs) and an enabled flag.
Creation, every change, deletion, each secret rotation and each test delivery ("ping")
are decisions here. The signing secret never reaches the domain: the route generates it
and keeps it in the credentials bucket (docs/webhooks.md). URLs are checked here, not only
in the route, so the rule (http or https, a host, no user:password part, which would land
in the event log) holds for every way a command arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidRequest, InvalidState, UnknownAggregate
from events import webhook as we
from events.base import Event
from events.codec import Envelope

KIND = we.KIND
MAX_FILTERS = 32
_PATTERN = re.compile(r"^[a-z0-9_*?\[\]!.-]{1,64}$")


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    name: str
    url: str
    kinds: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    enabled: bool = True
    deleted: bool = False


class Create(msgspec.Struct, frozen=True, kw_only=True):
    webhook_id: str
    name: str
    url: str
    kinds: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    enabled: bool = True


class Update(msgspec.Struct, frozen=True, kw_only=True):
    """Fields left ``None`` keep their value."""

    name: str | None = None
    url: str | None = None
    kinds: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    enabled: bool | None = None


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Ping(msgspec.Struct, frozen=True, kw_only=True):
    pass


class RotateSecret(msgspec.Struct, frozen=True, kw_only=True):
    pass


Command = Create | Update | Delete | Ping | RotateSecret


def check_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host and no credentials in it."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as exc:
        raise InvalidRequest(f"url is not valid: {exc}", slug="invalid-url") from exc
    del port
    if parts.scheme not in ("http", "https"):
        raise InvalidRequest("url must start with https:// or http://", slug="invalid-url")
    if not parts.hostname:
        raise InvalidRequest("url must name a host", slug="invalid-url")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest(
            "url must not carry a user or password (it is recorded in the event log);"
            " receivers authenticate deliveries by their signature",
            slug="invalid-url",
        )
    if any(c.isspace() for c in url):
        raise InvalidRequest("url must not contain spaces", slug="invalid-url")
    return url


def check_filters(name: str, patterns: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct, valid glob patterns in a stable order."""
    if len(patterns) > MAX_FILTERS:
        raise InvalidRequest(f"at most {MAX_FILTERS} {name}", slug="invalid-filter")
    for p in patterns:
        if not _PATTERN.match(p):
            raise InvalidRequest(
                f"{name} entry {p!r} is not a pattern of lower-case letters, digits, '.', '_',"
                " '-' and the globs '*', '?', '[...]'",
                slug="invalid-filter",
            )
    return tuple(sorted(set(patterns)))


def _config(w: Webhook) -> dict[str, object]:
    return {
        "name": w.name,
        "url": w.url,
        "kinds": list(w.kinds),
        "types": list(w.types),
        "enabled": w.enabled,
    }


def decide(state: Webhook | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if state is not None:
            raise AlreadyExists(f"webhook {command.webhook_id} already exists")
        return [
            we.WebhookCreated(
                webhook_id=command.webhook_id,
                name=command.name,
                url=check_url(command.url),
                kinds=list(check_filters("kinds", command.kinds)),
                types=list(check_filters("types", command.types)),
                enabled=command.enabled,
            )
        ]
    if state is None or state.deleted:
        raise UnknownAggregate(KIND, state.webhook_id if state else "")
    if isinstance(command, Delete):
        return [we.WebhookDeleted(webhook_id=state.webhook_id)]
    if isinstance(command, RotateSecret):
        return [we.WebhookSecretRotated(webhook_id=state.webhook_id)]
    if isinstance(command, Ping):
        if not state.enabled:
            raise InvalidState(f"webhook {state.webhook_id} is disabled", slug="webhook-disabled")
        return [we.WebhookPinged(webhook_id=state.webhook_id)]
    new = Webhook(
        webhook_id=state.webhook_id,
        name=state.name if command.name is None else command.name,
        url=state.url if command.url is None else check_url(command.url),
        kinds=state.kinds if command.kinds is None else check_filters("kinds", command.kinds),
        types=state.types if command.types is None else check_filters("types", command.types),
        enabled=state.enabled if command.enabled is None else command.enabled,
    )
    if _config(new) == _config(state):
        return []
    return [
        we.WebhookUpdated(
            webhook_id=new.webhook_id,
            name=new.name,
            url=new.url,
            kinds=list(new.kinds),
            types=list(new.types),
            enabled=new.enabled,
        )
    ]


def evolve(state: Webhook | None, env: Envelope) -> Webhook | None:
    e = env.event
    if isinstance(e, we.WebhookCreated | we.WebhookUpdated):
        return Webhook(
            webhook_id=e.webhook_id,
            name=e.name,
            url=e.url,
            kinds=tuple(e.kinds),
            types=tuple(e.types),
            enabled=e.enabled,
        )
    if isinstance(e, we.WebhookDeleted) and state is not None:
        return msgspec.structs.replace(state, deleted=True, enabled=False)
    return state


def decider(command: Command) -> Callable[[Webhook | None], list[Event]]:
    return lambda state: decide(state, command)
