"""What every command route needs: the app's command services, strict body decoding and
the envelope metadata (actor, correlation, causation, trace) of a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

import msgspec
from aiohttp import web

from controlplane.handlers import Handler
from controlplane.repository import Repository
from events import problems, tracing
from events.base import Meta, new_id, utcnow
from events.permissions import caller

T = TypeVar("T")

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Commands:
    repo: Repository
    handler: Handler


COMMANDS: web.AppKey[Commands] = web.AppKey("lq_commands", Commands)


def actor_of(request: web.Request) -> str:
    """Who is asking: the principal the auth middleware found (``user:<name>``)."""
    found = caller()
    return found.actor if found is not None else "anonymous"


def meta_for(request: web.Request, task_id: str) -> Meta:
    return Meta(
        actor=actor_of(request),
        occurred_at=utcnow(),
        correlation_id=task_id,
        causation_id=request.headers.get("X-Request-Id") or new_id(),
        traceparent=tracing.traceparent() or request.headers.get("traceparent"),
    )


async def decode_body(request: web.Request, kind: type[T]) -> T:
    """Decode a JSON body strictly into ``kind``: 400 if not JSON, 422 if not valid."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise problems.Problem(
            413, "body-too-large", "The request body is too large", f"at most {MAX_BODY} bytes"
        )
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise problems.Problem(
            413, "body-too-large", "The request body is too large", f"at most {MAX_BODY} bytes"
        )
    if not raw.strip():
        raw = b"{}"
    try:
        return msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise problems.invalid_body(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise problems.malformed(f"body is not valid JSON: {exc}") from exc
