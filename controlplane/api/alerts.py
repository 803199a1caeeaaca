"""Command routes of alerting: acknowledge and resolve alerts, create and delete silences.
The rules are ``controlplane.api.alert_rules``.

Alert commands answer ``202 {"alert_id", "seq"}``; the alert list itself is a query route
(``projections.alerts_api``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import msgspec
from aiohttp import web

from controlplane.alerting.engine import AlertEngine
from controlplane.api.common import COMMANDS, actor_of, decode_body, meta_for
from controlplane.domain import alert as ad
from controlplane.domain.errors import InvalidState, UnknownAggregate
from controlplane.handlers import TooMuchContention
from events import alert as ae
from events import problems
from events.base import new_id, utcnow
from events.permissions import ALERT_MANAGE, requires

ENGINE: web.AppKey[AlertEngine] = web.AppKey("lq_alert_engine", AlertEngine)
routes = web.RouteTableDef()


class NoteBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    comment: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class SilenceBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    rule_id: str | None = None
    scope_id: str | None = None
    duration_s: Annotated[int, msgspec.Meta(ge=60, le=90 * 86400)]
    comment: Annotated[str, msgspec.Meta(max_length=1024)] = ""


def _accepted(key: str, ident: str, seq: int) -> web.Response:
    return web.json_response({key: ident, "seq": seq}, status=202)


def _problem(exc: Exception, alert_id: str) -> problems.Problem:
    if isinstance(exc, UnknownAggregate):
        return problems.not_found("alert", alert_id)
    if isinstance(exc, InvalidState):
        return problems.conflict(str(exc))
    if isinstance(exc, TooMuchContention):
        return problems.busy(str(exc))
    raise exc


@routes.post("/api/v1/alerts/{id}/actions/{verb:acknowledge|resolve}")
@requires(ALERT_MANAGE)
async def alert_action(request: web.Request) -> web.Response:
    alert_id, verb = request.match_info["id"], request.match_info["verb"]
    body = await decode_body(request, NoteBody)
    cmds = request.app[COMMANDS]
    by = actor_of(request)

    def decide(state: Any) -> list[Any]:
        if verb == "acknowledge":
            return ad.acknowledge(state, alert_id, by, body.comment)
        return ad.resolve(state, alert_id, by, automatic=False, comment=body.comment)

    try:
        outcome = await cmds.handler.execute("alert", alert_id, decide, meta_for(request, new_id()))
    except (UnknownAggregate, InvalidState, TooMuchContention) as exc:
        raise _problem(exc, alert_id) from exc
    engine = request.app.get(ENGINE)
    if verb == "resolve" and outcome.changed and engine is not None:
        fired = await engine.last_fired(alert_id)
        if fired is not None:
            engine.notify(fired, "resolved", by)
    return _accepted("alert_id", alert_id, outcome.seq)


@routes.post("/api/v1/silences")
@requires(ALERT_MANAGE)
async def create_silence(request: web.Request) -> web.Response:
    body = await decode_body(request, SilenceBody)
    silence_id = new_id()
    event = ae.SilenceCreated(
        silence_id=silence_id,
        rule_id=body.rule_id,
        scope_id=body.scope_id,
        until=utcnow() + timedelta(seconds=body.duration_s),
        by=actor_of(request),
        comment=body.comment,
    )
    outcome = await request.app[COMMANDS].handler.execute(
        "silence", silence_id, lambda _s: [event], meta_for(request, new_id())
    )
    return _accepted("silence_id", silence_id, outcome.seq)


@routes.delete("/api/v1/silences/{id}")
@requires(ALERT_MANAGE)
async def delete_silence(request: web.Request) -> web.Response:
    silence_id = request.match_info["id"]
    by = actor_of(request)

    def decide(state: ad.Silence | None) -> list[Any]:
        if state is None:
            raise UnknownAggregate("silence", silence_id)
        return [] if state.deleted else [ae.SilenceDeleted(silence_id=silence_id, by=by)]

    try:
        outcome = await request.app[COMMANDS].handler.execute(
            "silence", silence_id, decide, meta_for(request, new_id())
        )
    except UnknownAggregate as exc:
        raise problems.not_found("silence", silence_id) from exc
    return _accepted("silence_id", silence_id, outcome.seq)
