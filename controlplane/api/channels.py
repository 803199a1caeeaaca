"""Command routes of notification channels: create, change, delete, send a test notice.

Each is a decision on the ``channel`` aggregate (``controlplane.domain.channel``). A
webhook channel's signing secret is **write-only**: given in a create or update body, kept
in the ``lq_credentials`` KV bucket under ``channel.<id>`` (never in an event, never in an
answer or a log line); the channel only records whether one is set. ``{"secret": ""}``
removes it. The channel list is a query route (``projections.alerts_api``); sending is the
alert engine's (``controlplane.alerting.engine``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from controlplane.alerting.engine import AlertEngine
from controlplane.api.alerts import ENGINE
from controlplane.api.common import (
    COMMANDS,
    decode_body,
    execute_resource,
    no_body,
    resource_problem,
)
from controlplane.domain import channel as cd
from controlplane.domain.errors import (
    DomainError,
    InvalidRequest,
)
from controlplane.handlers import Outcome
from events import alert as ae
from events import problems
from events.base import new_id
from events.permissions import ALERT_MANAGE, requires

routes = web.RouteTableDef()
PATH = "/api/v1/notification-channels"

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Secret = Annotated[str, msgspec.Meta(max_length=512)]
Recipients = Annotated[
    list[Annotated[str, msgspec.Meta(min_length=3, max_length=320)]],
    msgspec.Meta(max_length=cd.MAX_RECIPIENTS),
]


class CreateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    type: Literal["webhook", "email"]
    url: Url | None = None
    secret: Secret = ""
    to: Recipients = []
    min_severity: ae.Severity = "info"
    enabled: bool = True


class UpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    url: Url | None = None
    secret: Secret | None = None
    to: Recipients | None = None
    min_severity: ae.Severity | None = None
    enabled: bool | None = None


def secret_key(channel_id: str) -> str:
    """The credentials-bucket key of a webhook channel's signing secret."""
    return f"channel.{channel_id}"


async def _execute(request: web.Request, ident: str, command: cd.Command) -> Outcome:
    return await execute_resource(
        request, cd.KIND, ident, cd.decider(command), "notification channel"
    )


def _existing(request: web.Request) -> cd.Channel:
    ident = request.match_info["id"]
    state: cd.Channel | None = request.app[COMMANDS].repo.get(cd.KIND, ident)[0]
    if state is None or state.deleted:
        raise problems.not_found("notification channel", ident)
    return state


def _engine(request: web.Request) -> AlertEngine:
    engine = request.app.get(ENGINE)
    if engine is None:
        raise problems.unavailable("the alert engine is not running")
    return engine


def view(c: cd.Channel) -> dict[str, Any]:
    """A channel as the API shows it (never its secret)."""
    return {
        "id": c.channel_id, "name": c.name, "type": c.channel_type, "url": c.url or None,
        "to": list(c.to), "min_severity": c.min_severity, "enabled": c.enabled,
        "signed": c.signed,
    }  # fmt: skip


@routes.post(PATH)
@requires(ALERT_MANAGE)
async def create_channel(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateBody)
    if body.type == "email" and body.secret:
        raise problems.invalid_body("an e-mail channel has no secret", reason="invalid-channel")
    command = cd.Create(
        channel_id=new_id(), name=body.name, channel_type=body.type, url=body.url or "",
        to=tuple(body.to), min_severity=body.min_severity, enabled=body.enabled,
        signed=bool(body.secret),
    )  # fmt: skip
    try:  # refuse bad input before a secret is stored for it
        cd.decide(None, command)
    except InvalidRequest as exc:
        raise resource_problem(exc, "notification channel", command.channel_id) from exc
    if body.secret:
        key = secret_key(command.channel_id)
        await _engine(request).bus.put_credential(key, body.secret.encode())
    out = await _execute(request, command.channel_id, command)
    return web.json_response(view(out.state) | {"seq": out.seq}, status=201)


@routes.patch(PATH + "/{id}")
@requires(ALERT_MANAGE)
async def update_channel(request: web.Request) -> web.Response:
    state = _existing(request)
    body = await decode_body(request, UpdateBody)
    if body.secret and state.channel_type == "email":
        raise problems.invalid_body("an e-mail channel has no secret", reason="invalid-channel")
    command = cd.Update(
        name=body.name, url=body.url, to=None if body.to is None else tuple(body.to),
        min_severity=body.min_severity, enabled=body.enabled,
        signed=None if body.secret is None else bool(body.secret),
    )  # fmt: skip
    try:
        cd.decide(state, command)
    except DomainError as exc:
        raise resource_problem(exc, "notification channel", state.channel_id) from exc
    key = secret_key(state.channel_id)
    if body.secret:
        await _engine(request).bus.put_credential(key, body.secret.encode())
    out = await _execute(request, state.channel_id, command)
    if body.secret == "":
        await _engine(request).bus.delete_credential(key)
    return web.json_response({"channel_id": state.channel_id, "seq": out.seq}, status=202)


@routes.delete(PATH + "/{id}")
@requires(ALERT_MANAGE)
async def delete_channel(request: web.Request) -> web.Response:
    state = _existing(request)
    out = await _execute(request, state.channel_id, cd.Delete())
    await _engine(request).bus.delete_credential(secret_key(state.channel_id))
    return web.json_response({"channel_id": state.channel_id, "seq": out.seq}, status=202)


@routes.post(PATH + "/{id}/actions/test")
@requires(ALERT_MANAGE)
async def test_channel(request: web.Request) -> web.Response:
    """Send a test notice now (one attempt, at most a few seconds) and record its outcome
    as ``channel.tested``: ``200 {"channel_id", "ok", "target", "attempts", "error", "seq"}``."""
    state = _existing(request)
    await no_body(request)
    d = await _engine(request).test_channel(state)
    out = await _execute(
        request,
        state.channel_id,
        cd.RecordTest(target=d.target, ok=d.ok, attempts=d.attempts, error=d.error),
    )
    answer = {"channel_id": state.channel_id, "ok": d.ok, "target": d.target,
              "attempts": d.attempts, "error": d.error, "seq": out.seq}  # fmt: skip
    return web.json_response(answer)
