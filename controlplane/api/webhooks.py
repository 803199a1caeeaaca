"""Command routes of webhook subscriptions: create, change, delete, rotate the secret, test.

Each is a decision on the ``webhook`` aggregate (``controlplane.domain.webhook``). The
signing secret is generated here, kept in the ``lq_credentials`` KV bucket under
``webhook.<id>`` (never in an event) and shown **only** in the answer of the creation (or
of a rotation), as API tokens are. The subscription list, its deliveries and their
attempts are query routes (``projections.webhooks_api``); delivering is the dispatcher's
job (``projections.webhook_dispatch``, docs/webhooks.md).
"""

from __future__ import annotations

import secrets
from typing import Annotated

import msgspec
from aiohttp import web

from controlplane.api.common import (
    COMMANDS,
    decode_body,
    execute_resource,
    no_body,
    resource_problem,
)
from controlplane.domain import webhook as wd
from controlplane.domain.errors import (
    InvalidRequest,
)
from controlplane.handlers import Outcome
from events import problems
from events import webhook as we
from events.base import new_id
from events.bus import Bus
from events.permissions import WEBHOOK_MANAGE, requires

SECRETS: web.AppKey[Bus] = web.AppKey("lq_webhook_secrets", Bus)
"""The bus whose credentials bucket holds the signing secrets (set by the service)."""
SECRET_PREFIX = "whsec_"

routes = web.RouteTableDef()

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Patterns = Annotated[list[Annotated[str, msgspec.Meta(max_length=64)]], msgspec.Meta(max_length=32)]


class CreateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    url: Url
    kinds: Patterns = []
    types: Patterns = []
    enabled: bool = True


class UpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    url: Url | None = None
    kinds: Patterns | None = None
    types: Patterns | None = None
    enabled: bool | None = None


def secret_key(webhook_id: str) -> str:
    """The credentials-bucket key of a subscription's signing secret."""
    return f"webhook.{webhook_id}"


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


async def _execute(request: web.Request, ident: str, command: wd.Command) -> Outcome:
    return await execute_resource(request, wd.KIND, ident, wd.decider(command), "webhook")


def _existing(request: web.Request) -> str:
    ident = request.match_info["id"]
    state: wd.Webhook | None = request.app[COMMANDS].repo.get(wd.KIND, ident)[0]
    if state is None or state.deleted:
        raise problems.not_found("webhook", ident)
    return ident


@routes.post("/api/v1/webhooks")
@requires(WEBHOOK_MANAGE)
async def create_webhook(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateBody)
    command = wd.Create(
        webhook_id=new_id(),
        name=body.name,
        url=body.url,
        kinds=tuple(body.kinds),
        types=tuple(body.types),
        enabled=body.enabled,
    )
    try:  # refuse bad input before a secret is stored for it
        wd.decide(None, command)
    except InvalidRequest as exc:
        raise resource_problem(exc, "webhook", command.webhook_id) from exc
    secret = _new_secret()
    await request.app[SECRETS].put_credential(secret_key(command.webhook_id), secret.encode())
    out = await _execute(request, command.webhook_id, command)
    state: wd.Webhook = out.state
    return web.json_response(
        {
            "webhook_id": state.webhook_id,
            "secret": secret,
            "name": state.name,
            "url": state.url,
            "kinds": list(state.kinds),
            "types": list(state.types),
            "enabled": state.enabled,
            "seq": out.seq,
        },
        status=201,
        headers={"Cache-Control": "no-store"},
    )


@routes.patch("/api/v1/webhooks/{id}")
@requires(WEBHOOK_MANAGE)
async def update_webhook(request: web.Request) -> web.Response:
    ident = _existing(request)
    body = await decode_body(request, UpdateBody)
    command = wd.Update(
        name=body.name,
        url=body.url,
        kinds=None if body.kinds is None else tuple(body.kinds),
        types=None if body.types is None else tuple(body.types),
        enabled=body.enabled,
    )
    out = await _execute(request, ident, command)
    return web.json_response({"webhook_id": ident, "seq": out.seq}, status=202)


@routes.delete("/api/v1/webhooks/{id}")
@requires(WEBHOOK_MANAGE)
async def delete_webhook(request: web.Request) -> web.Response:
    ident = _existing(request)
    out = await _execute(request, ident, wd.Delete())
    await request.app[SECRETS].delete_credential(secret_key(ident))
    return web.json_response({"webhook_id": ident, "seq": out.seq}, status=202)


@routes.post("/api/v1/webhooks/{id}/actions/test")
@requires(WEBHOOK_MANAGE)
async def test_webhook(request: web.Request) -> web.Response:
    """Queue a ``webhook.pinged`` delivery to this subscription only; its delivery id is
    in the answer, so the caller can find its outcome in the delivery log."""
    ident = _existing(request)
    await no_body(request)
    out = await _execute(request, ident, wd.Ping())
    event_id = out.envelopes[0].event_id
    return web.json_response(
        {"webhook_id": ident, "seq": out.seq, "delivery_id": we.delivery_id(ident, event_id)},
        status=202,
    )


@routes.post("/api/v1/webhooks/{id}/actions/rotate-secret")
@requires(WEBHOOK_MANAGE)
async def rotate_secret(request: web.Request) -> web.Response:
    """A new signing secret, in this answer only; the old one stops signing at once.

    The rotation is recorded first (``webhook.secret_rotated``), then the secret replaced:
    if storing fails, the old secret still signs and the caller sees an error."""
    ident = _existing(request)
    await no_body(request)
    out = await _execute(request, ident, wd.RotateSecret())
    secret = _new_secret()
    await request.app[SECRETS].put_credential(secret_key(ident), secret.encode())
    return web.json_response(
        {"webhook_id": ident, "secret": secret, "seq": out.seq},
        headers={"Cache-Control": "no-store"},
    )
