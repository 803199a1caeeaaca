"""Command routes of DRS recommendations: approve, reject, apply.

``POST /api/v1/drs/recommendations/{id}/actions/approve`` marks it approved (the next DRS
tick applies it), ``.../reject`` (optional ``{"reason"}``) drops it and ``.../apply``
opens its migration task now, answering ``202 {recommendation_id, vm_id, task_id, seq}``.
An ended recommendation answers ``409 recommendation-ended``; a VM that cannot move now
``409`` with the reason (and the recommendation is then ``failed``). The list and detail
are query routes (``projections.drs_api``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api.common import actor_of, decode_body, domain_problem, no_body
from controlplane.domain import drs as dd
from controlplane.domain.errors import UnknownAggregate
from controlplane.drs import Drs
from events import problems
from events.permissions import HOST_MAINTENANCE, requires

DRS: web.AppKey[Drs] = web.AppKey("lq_controlplane_drs", Drs)
VERBS = ("approve", "reject", "apply")

routes = web.RouteTableDef()


class RejectBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=1024)] = ""


def _answer(status: int, **body: object) -> web.Response:
    return web.Response(
        status=status, body=msgspec.json.encode(body), content_type="application/json"
    )


@routes.post("/api/v1/drs/recommendations/{rec_id}/actions/{verb}")
@requires(HOST_MAINTENANCE)
async def act(request: web.Request) -> web.Response:
    rec_id = request.match_info["rec_id"]
    verb = request.match_info["verb"]
    if verb not in VERBS:
        raise problems.Problem(
            404,
            "unknown-action",
            "No such action",
            f"recommendations have no action {verb!r}; known: {', '.join(VERBS)}",
        )
    drs = request.app.get(DRS)
    if drs is None:
        raise problems.busy("the controlplane is starting")
    actor = actor_of(request)
    try:
        rec = drs.repo.get("drs", rec_id)[0]
        if rec is None:
            raise UnknownAggregate(dd.KIND, rec_id)
        if verb == "apply":
            await no_body(request)
            task_id, seq = await drs.apply(rec_id, actor)
            return _answer(202, recommendation_id=rec_id, vm_id=rec.vm_id, task_id=task_id, seq=seq)
        if verb == "approve":
            await no_body(request)
            seq = await drs.decide(rec_id, dd.Approve(), actor)
        else:
            body = await decode_body(request, RejectBody)
            seq = await drs.decide(rec_id, dd.Reject(reason=body.reason), actor)
    except UnknownAggregate as exc:
        raise problems.not_found("drs-recommendation", rec_id) from exc
    except problems.Problem:
        raise
    except Exception as exc:
        raise domain_problem(exc, rec.vm_id if rec is not None else rec_id) from exc
    state = drs.repo.get("drs", rec_id)[0]
    return _answer(200, recommendation_id=rec_id, state=state.state if state else verb, seq=seq)
