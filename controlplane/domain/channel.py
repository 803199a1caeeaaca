"""The notification-channel aggregate (``channel``/<id>): pure decide and evolve.

A channel is where alert notices go: a webhook (a URL, signed when a secret is set) or
e-mail (recipients, sent through the fleet's SMTP settings), with a minimum severity and
an enabled flag. Creation, changes, deletion and the outcome of each test notification
are decisions here. The signing secret never reaches the domain (the route keeps it in
the credentials bucket); the state only knows whether one is set. Addresses and URLs are
checked here, so the rules hold for every way a command arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidRequest, UnknownAggregate
from controlplane.domain.webhook import check_url
from events import alert as ae
from events.base import Event
from events.codec import Envelope

KIND = "channel"
MAX_RECIPIENTS = 32
SEVERITY_RANK: dict[ae.Severity, int] = {"info": 0, "warning": 1, "critical": 2}
_EMAIL = re.compile(r"^[^@\s,<>]{1,64}@[^@\s,<>]{1,255}$")


class Channel(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: str
    name: str
    channel_type: ae.ChannelType
    url: str = ""
    to: tuple[str, ...] = ()
    min_severity: ae.Severity = "info"
    enabled: bool = True
    signed: bool = False
    deleted: bool = False

    def wants(self, severity: ae.Severity) -> bool:
        """Whether a notice about an alert of ``severity`` goes to this channel."""
        return (
            self.enabled
            and not self.deleted
            and SEVERITY_RANK[severity] >= SEVERITY_RANK[self.min_severity]
        )

    @property
    def target(self) -> str:
        return self.url if self.channel_type == "webhook" else ", ".join(self.to)


class Create(msgspec.Struct, frozen=True, kw_only=True):
    channel_id: str
    name: str
    channel_type: ae.ChannelType
    url: str = ""
    to: tuple[str, ...] = ()
    min_severity: ae.Severity = "info"
    enabled: bool = True
    signed: bool = False


class Update(msgspec.Struct, frozen=True, kw_only=True):
    """Fields left ``None`` keep their value."""

    name: str | None = None
    url: str | None = None
    to: tuple[str, ...] | None = None
    min_severity: ae.Severity | None = None
    enabled: bool | None = None
    signed: bool | None = None


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


class RecordTest(msgspec.Struct, frozen=True, kw_only=True):
    target: str
    ok: bool
    attempts: int
    error: str = ""


Command = Create | Update | Delete | RecordTest


def check_recipients(to: tuple[str, ...]) -> tuple[str, ...]:
    """Distinct, plausible addresses in their given order (at least one)."""
    if not to:
        raise InvalidRequest("an e-mail channel needs at least one address in to",
                             slug="invalid-recipients")  # fmt: skip
    if len(to) > MAX_RECIPIENTS:
        raise InvalidRequest(f"at most {MAX_RECIPIENTS} addresses", slug="invalid-recipients")
    for address in to:
        if not _EMAIL.match(address):
            raise InvalidRequest(f"{address!r} is not an e-mail address",
                                 slug="invalid-recipients")  # fmt: skip
    return tuple(dict.fromkeys(to))


def _checked(c: Channel) -> Channel:
    if c.channel_type == "webhook":
        return msgspec.structs.replace(c, url=check_url(c.url), to=())
    if c.url:
        raise InvalidRequest("an e-mail channel has no url", slug="invalid-channel")
    return msgspec.structs.replace(c, to=check_recipients(c.to), signed=False)


def _event(cls: type[ae.ChannelCreated] | type[ae.ChannelUpdated], c: Channel) -> Event:
    return cls(channel_id=c.channel_id, name=c.name, channel_type=c.channel_type, url=c.url,
               to=list(c.to), min_severity=c.min_severity, enabled=c.enabled,
               signed=c.signed)  # fmt: skip


def decide(state: Channel | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if state is not None:
            raise AlreadyExists(f"channel {command.channel_id} already exists")
        new = _checked(Channel(**msgspec.structs.asdict(command)))
        return [_event(ae.ChannelCreated, new)]
    if state is None or state.deleted:
        raise UnknownAggregate(KIND, state.channel_id if state else "")
    if isinstance(command, Delete):
        return [ae.ChannelDeleted(channel_id=state.channel_id)]
    if isinstance(command, RecordTest):
        return [ae.ChannelTested(channel_id=state.channel_id, target=command.target,
                                 ok=command.ok, attempts=command.attempts,
                                 error=command.error)]  # fmt: skip
    changes = {k: v for k, v in msgspec.structs.asdict(command).items() if v is not None}
    new = _checked(msgspec.structs.replace(state, **changes))
    if new == state:
        return []
    return [_event(ae.ChannelUpdated, new)]


def evolve(state: Channel | None, env: Envelope) -> Channel | None:
    e = env.event
    if isinstance(e, ae.ChannelCreated | ae.ChannelUpdated):
        return Channel(channel_id=e.channel_id, name=e.name, channel_type=e.channel_type,
                       url=e.url, to=tuple(e.to), min_severity=e.min_severity,
                       enabled=e.enabled, signed=e.signed)  # fmt: skip
    if isinstance(e, ae.ChannelDeleted) and state is not None:
        return msgspec.structs.replace(state, deleted=True, enabled=False)
    return state


def decider(command: Command) -> Callable[[Channel | None], list[Event]]:
    return lambda state: decide(state, command)
