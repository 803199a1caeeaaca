"""What every command route needs: the app's command services, strict body decoding, the
envelope metadata (actor, correlation, causation, trace) of a request, running one VM
command with ``Idempotency-Key`` answered and domain refusals turned into problems, and
claiming the name a creation or rename takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
from aiohttp import web

from controlplane import names
from controlplane.domain import vm as vm_domain
from controlplane.domain.errors import (
    AlreadyExists,
    DomainError,
    InsufficientCapacity,
    InvalidRequest,
    InvalidState,
    UnknownAggregate,
    UnknownPart,
)
from controlplane.domain.name_claim import NameTaken, Scope
from controlplane.handlers import Handler, Outcome, TooMuchContention
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
        decoded = msgspec.json.decode(raw, type=kind)
    except msgspec.ValidationError as exc:
        raise problems.invalid_body(str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise problems.malformed(f"body is not valid JSON: {exc}") from exc
    if b"\\u0000" in raw and _has_nul(msgspec.json.decode(raw)):
        # PostgreSQL text and jsonb cannot hold U+0000: such an event would stop the
        # projector at its sequence for good (docs/reliability.md)
        raise problems.invalid_body("text must not contain the NUL character (U+0000)")
    return decoded


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


# ---------------------------------------------------------------- command answers

Name = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=63,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="1 to 63 letters, digits, '.', '_' or '-'; starts alphanumeric",
    ),
]


class Accepted(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``202`` answer of every long operation; a new part's id when the operation made one."""

    vm_id: str
    task_id: str
    seq: int
    snapshot_id: str | None = None
    disk_id: str | None = None
    nic_id: str | None = None


def accepted(vm_id: str, task_id: str, seq: int, **part: str) -> web.Response:
    body = msgspec.json.encode(Accepted(vm_id=vm_id, task_id=task_id, seq=seq, **part))
    return web.Response(status=202, body=body, content_type="application/json")


def idempotency_key(request: web.Request) -> str:
    raw = request.headers.get("Idempotency-Key", "")
    if len(raw) > 255:
        raise problems.invalid_param("Idempotency-Key must be at most 255 characters")
    return f"{actor_of(request)}|{request.method} {request.path}|{raw}" if raw else ""


def domain_problem(exc: Exception, ident: str, what: str = "vm") -> problems.Problem:
    """The problem for a refused command (``what`` ``ident`` names the aggregate in a 404);
    others re-raise."""
    if isinstance(exc, UnknownAggregate):
        return problems.not_found(what, ident)
    if isinstance(exc, UnknownPart):
        return problems.not_found(exc.kind, exc.ident)
    if isinstance(exc, InvalidRequest):
        return problems.Problem(422, exc.slug, "The request cannot be carried out", str(exc))
    if isinstance(exc, InvalidState | AlreadyExists | InsufficientCapacity):
        return problems.conflict(str(exc), slug=exc.slug)
    if isinstance(exc, TooMuchContention):
        return problems.busy(str(exc))
    raise exc


def resource_problem(exc: Exception, what: str, ident: str) -> problems.Problem:
    """The problem for a refused command on a configuration resource (a webhook, a
    notification channel, an alert rule): a refused body is ``invalid-body`` with the
    domain's reason, a refused state a ``409`` with its slug; others re-raise."""
    if isinstance(exc, UnknownAggregate):
        return problems.not_found(what, ident)
    if isinstance(exc, InvalidRequest):
        return problems.invalid_body(str(exc), reason=exc.slug)
    if isinstance(exc, InvalidState | AlreadyExists):
        return problems.conflict(str(exc), slug=exc.slug)
    if isinstance(exc, TooMuchContention):
        return problems.busy(str(exc))
    raise exc


async def execute_resource(
    request: web.Request,
    kind: str,
    ident: str,
    decide: Callable[[Any], list[Any]],
    what: str,
) -> Outcome:
    """One decision on a configuration resource, refusals answered as problems."""
    try:
        return await request.app[COMMANDS].handler.execute(
            kind, ident, decide, meta_for(request, new_id())
        )
    except (DomainError, TooMuchContention) as exc:
        raise resource_problem(exc, what, ident) from exc


async def run_command(
    request: web.Request,
    vm_id: str,
    command_of: Callable[[str, str], Any],
    part: Callable[[Outcome], dict[str, str]] | None = None,
    known: dict[str, str] | None = None,
) -> web.Response:
    """Decide ``command_of(task_id, idempotency_key)`` on the VM and answer ``202``.

    A request repeated with the same ``Idempotency-Key`` gets the first answer (also when
    the repeat lost the race to append), with ``known`` part ids. ``part`` picks a new
    part's id from the outcome.
    """
    cmds = request.app[COMMANDS]
    key = idempotency_key(request)
    if key and (seen := cmds.repo.idempotent(key)) is not None:
        return accepted(seen.target_id, seen.task_id, seen.seq, **(known or {}))
    task_id = new_id()
    try:
        command = command_of(task_id, key)
        out = await cmds.handler.execute(
            "vm", vm_id, vm_domain.decider(command), meta_for(request, task_id)
        )
    except Exception as exc:
        if key and (seen := cmds.repo.idempotent(key)) is not None:
            return accepted(seen.target_id, seen.task_id, seen.seq, **(known or {}))
        raise domain_problem(exc, vm_id) from exc
    return accepted(vm_id, task_id, out.seq, **(part(out) if part else {}))


class NoBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Actions without options accept an empty body or ``{}``."""


async def no_body(request: web.Request) -> None:
    if await request.read():
        await decode_body(request, NoBody)


def flag(request: web.Request, name: str) -> bool:
    """A boolean query parameter: ``true``/``false`` (or ``1``/``0``), absent = false."""
    raw = request.query.get(name)
    if raw is None:
        return False
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise problems.invalid_param(f"{name} must be true or false, not {raw!r}")


def check_name(request: web.Request, scope: Scope, name: str, holder_id: str) -> None:
    """``409 name-taken`` now if the aggregate cache shows ``name`` taken in the scope (a
    cheap early refusal; ``claim_name`` is what makes the name the holder's)."""
    try:
        names.check(request.app[COMMANDS].repo, scope, name, holder_id)
    except NameTaken as exc:
        raise domain_problem(exc, holder_id) from exc


async def claim_name(request: web.Request, scope: Scope, name: str, holder_id: str) -> None:
    """Claim ``name`` for ``holder_id`` before it takes it (``controlplane.names``): a name
    taken in the scope answers ``409 name-taken`` with nothing appended."""
    cmds = request.app[COMMANDS]
    meta = meta_for(request, new_id())
    try:
        await names.claim(cmds.repo, cmds.handler, scope, name, holder_id, meta=meta)
    except (NameTaken, TooMuchContention) as exc:
        raise domain_problem(exc, holder_id) from exc
