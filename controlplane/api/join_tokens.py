"""Command routes for one-time host join tokens (``host.enroll``; docs/security.md).

``POST /api/v1/join-tokens {label?, expires_in_s?, labels?, cluster_id?}`` → ``201
{token_id, token, label, labels, cluster_id, expires_at, seq}``: the ``token`` is in this
answer and nowhere else (only its digest is stored). ``DELETE /api/v1/join-tokens/{id}``
revokes an unused token (``202``). ``GET /api/v1/join-tokens`` (``projections``) lists
them without their secrets.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api.common import COMMANDS, decode_body, meta_for
from controlplane.auth import join_tokens
from controlplane.auth.middleware import AUTH
from controlplane.domain import join_token as jd
from controlplane.domain.errors import DomainError, UnknownAggregate
from controlplane.handlers import TooMuchContention
from events import problems
from events.base import new_id, utcnow
from events.permissions import HOST_ENROLL, requires

routes = web.RouteTableDef()

LabelKey = Annotated[str, msgspec.Meta(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9._/-]+$")]
LabelValue = Annotated[str, msgspec.Meta(max_length=63, pattern=r"^[A-Za-z0-9._-]*$")]
DAY = 86400


class JoinTokenBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(max_length=128)] = ""
    expires_in_s: Annotated[int, msgspec.Meta(ge=60, le=30 * DAY)] = DAY
    labels: Annotated[dict[LabelKey, LabelValue], msgspec.Meta(max_length=32)] = {}
    cluster_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


async def _execute(request: web.Request, ident: str, command: jd.Command, task: str) -> int:
    cmds = request.app[COMMANDS]
    try:
        out = await cmds.handler.execute(
            jd.KIND, ident, jd.decider(command), meta_for(request, task)
        )
    except UnknownAggregate as exc:
        raise problems.not_found("join token", ident) from exc
    except DomainError as exc:
        raise problems.conflict(str(exc)) from exc
    except TooMuchContention as exc:
        raise problems.busy(str(exc)) from exc
    return out.seq


@routes.post("/api/v1/join-tokens")
@requires(HOST_ENROLL)
async def create_join_token(request: web.Request) -> web.Response:
    body = await decode_body(request, JoinTokenBody)
    if body.cluster_id is not None:
        cluster = request.app[COMMANDS].repo.get("cluster", body.cluster_id)[0]
        if cluster is None or cluster.deleted:
            raise problems.Problem(
                422, "unknown-cluster", "No such cluster", f"no cluster {body.cluster_id}"
            )
    token_id = new_id()
    now = utcnow()
    expires_at = now + timedelta(seconds=body.expires_in_s)
    secret = join_tokens.new_secret(token_id)
    await join_tokens.store(request.app[AUTH].creds.bus, token_id, secret)
    command = jd.Issue(
        token_id=token_id,
        label=body.label,
        labels=dict(body.labels),
        cluster_id=body.cluster_id,
        expires_at=expires_at,
        now=now,
    )
    seq = await _execute(request, token_id, command, new_id())
    return web.json_response(
        {
            "token_id": token_id,
            "token": secret,
            "label": body.label,
            "labels": dict(body.labels),
            "cluster_id": body.cluster_id,
            "expires_at": expires_at.isoformat(),
            "seq": seq,
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@routes.delete("/api/v1/join-tokens/{token_id}")
@requires(HOST_ENROLL)
async def revoke_join_token(request: web.Request) -> web.Response:
    ident = request.match_info["token_id"]
    state = request.app[COMMANDS].repo.get(jd.KIND, ident)[0]
    if state is None:
        raise problems.not_found("join token", ident)
    seq = await _execute(request, ident, jd.Revoke(), new_id())
    return web.json_response({"token_id": ident, "seq": seq}, status=202)
