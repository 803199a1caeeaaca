"""The read half of the HTTP API (docs/api.md "Queries" and "Live changes").

``setup`` adds the GET routes and the ``/api/v1/changes`` WebSocket to the app the lead
composes, and owns their resources through ``cleanup_ctx`` under typed ``AppKey``s: a
psycopg connection pool whose connections resolve names in the read-model schema, and one
LISTEN connection feeding a ``changes.Hub``. Every GET accepts ``?min_seq=N`` and waits
(at most ``settings.read_wait_max_s``) until the read model has applied sequence N, which
gives clients read-your-writes after a command's ``202``. Handlers raise
``events.problems.Problem``; the app's middleware renders it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import psycopg
from aiohttp import WSMsgType, web
from psycopg_pool import AsyncConnectionPool

from events import problems
from events.aio import cancel_and_wait
from events.host import HostState
from events.listing import listed, page_rows
from events.permissions import (
    AUTHENTICATED,
    EVENT_READ,
    HOST_READ,
    TASK_READ,
    VM_READ,
    requires,
)
from events.settings import Settings
from events.task import TaskState
from projections import changes, history_api, queries, schema
from projections.queries import BadCursor, Sort

log = logging.getLogger(__name__)

Pool = AsyncConnectionPool[psycopg.AsyncConnection[Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SETTINGS = web.AppKey("projections.settings", Settings)
POOL = web.AppKey("projections.pool", Pool)
HUB = web.AppKey("projections.hub", changes.Hub)
Sockets = set[web.WebSocketResponse]
SOCKETS: web.AppKey[Sockets] = web.AppKey("projections.sockets")
StreamEnd = Callable[[], Awaitable[int]]
STREAM_END: web.AppKey[StreamEnd] = web.AppKey("projections.stream_end")
"""The event log's last sequence, set by the app that composes the API (``lq.web``): a
``min_seq`` past it was never answered by any command, so it is refused at once (400)
instead of waiting ``read_wait_max_s`` for a sequence that may never come (504)."""

HOST_STATES: tuple[str, ...] = HostState.__args__  # type: ignore[attr-defined]
TASK_STATES: tuple[str, ...] = TaskState.__args__  # type: ignore[attr-defined]
CATCH_UP_MAX = 5000
"""Events a reconnecting WebSocket client may catch up on before it is told to resync."""

_encoder = msgspec.json.Encoder()


def setup(app: web.Application, settings: Settings) -> None:
    """Add the read routes, the change feed and their resources to ``app``."""
    schema.validate(settings.db_schema)
    app[SETTINGS] = settings
    app[HUB] = changes.Hub()
    app[SOCKETS] = set()
    app.cleanup_ctx.append(_resources)
    app.on_shutdown.append(_close_sockets)
    r = app.router
    base = "/api/v1"
    r.add_get(f"{base}/vms", requires(VM_READ)(_read(_list_vms)))
    r.add_get(f"{base}/vms/{{id}}", requires(VM_READ)(_read(_item("vms", "vm"))))
    r.add_get(f"{base}/vms/{{id}}/events", requires(VM_READ)(_read(_entity_events("vms", "vm"))))
    for part in queries.VM_PARTS:  # disks, nics, snapshots
        r.add_get(f"{base}/vms/{{id}}/{part}", requires(VM_READ)(_read(_vm_part(part))))
    r.add_get(f"{base}/hosts", requires(HOST_READ)(_read(_list_hosts)))
    r.add_get(f"{base}/hosts/{{id}}", requires(HOST_READ)(_read(_item("hosts", "host"))))
    r.add_get(
        f"{base}/hosts/{{id}}/events", requires(HOST_READ)(_read(_entity_events("hosts", "host")))
    )
    r.add_get(f"{base}/tasks", requires(TASK_READ)(_read(_list_tasks)))
    r.add_get(f"{base}/tasks/{{id}}", requires(TASK_READ)(_read(_item("tasks", "task"))))
    r.add_get(
        f"{base}/tasks/{{id}}/events", requires(TASK_READ)(_read(_entity_events("tasks", "task")))
    )
    r.add_get(f"{base}/events", requires(EVENT_READ)(_read(_list_events)))
    r.add_get(f"{base}/stats", requires(VM_READ)(_read(_stats)))
    r.add_get(f"{base}/search", requires(VM_READ)(_read(_search)))
    r.add_get(f"{base}/changes", requires(AUTHENTICATED)(_changes))
    history_api.add_routes(r, _read)


async def readiness(app: web.Application) -> dict[str, Any]:
    """``{"postgres": bool, "checkpoint": int}`` for the app's ``/ready``."""
    try:
        async with app[POOL].connection(timeout=2.0) as conn:
            seq = await queries.checkpoint(conn)
    except (psycopg.Error, TimeoutError) as exc:
        log.debug("readiness: %s", exc)
        return {"postgres": False, "checkpoint": app[HUB].seq}
    app[HUB].advance(seq, None)
    return {"postgres": True, "checkpoint": seq}


async def _configure(conn: psycopg.AsyncConnection[Any], db_schema: str) -> None:
    await conn.execute("SELECT set_config('TimeZone', 'UTC', false)")
    await schema.use_schema(conn, db_schema)


async def _resources(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]

    async def configure(conn: psycopg.AsyncConnection[Any]) -> None:
        await _configure(conn, settings.db_schema)

    pool: Pool = AsyncConnectionPool(
        settings.database_url,
        open=False,
        # Fixed size, all opened up front: no connection is ever being opened in the
        # background when the app stops (a cancelled open would leak it).
        min_size=4,
        max_size=4,
        kwargs={"autocommit": True},
        configure=configure,
        name="projections-api",
    )
    await pool.open()
    with contextlib.suppress(Exception):  # PostgreSQL may be down: served as 503 meanwhile
        await pool.wait(timeout=10.0)
    app[POOL] = pool
    try:
        async with pool.connection(timeout=10.0) as conn:
            await schema.ensure(conn, settings.db_schema)
    except (psycopg.Error, TimeoutError) as exc:  # served as 503 until PostgreSQL answers
        log.warning("read model not ready at start-up: %s", exc)
    listener = asyncio.create_task(
        changes.listen(app[HUB], settings.database_url, settings.db_schema),
        name="projections-listen",
    )
    try:
        yield
    finally:
        await cancel_and_wait([listener])
        await pool.close()


async def _close_sockets(app: web.Application) -> None:
    sockets: Sockets = app[SOCKETS]
    for ws in list(sockets):
        if ws.prepared:
            await ws.close(code=1001, message=b"server shutdown")


# -- parameters -----------------------------------------------------------------------


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise problems.invalid_param(f"{name} must be an integer, not {raw!r}") from None
    if not lo <= value <= hi:
        raise problems.invalid_param(f"{name} must be between {lo} and {hi}")
    return value


def _limit(request: web.Request) -> int:
    return _int(request, "limit", 50, 1, 500)


def _states(request: web.Request, allowed: tuple[str, ...]) -> list[str]:
    raw = request.query.get("state", "")
    states = [s for s in raw.split(",") if s]
    for s in states:
        if s not in allowed:
            raise problems.invalid_param(f"state must be one of {', '.join(allowed)}, not {s!r}")
    return states


def _sort(request: web.Request, sorts: dict[str, Sort], default: str) -> Sort:
    raw = request.query.get("sort") or default
    if raw not in sorts:
        raise problems.invalid_param(f"sort must be one of {', '.join(sorts)}, not {raw!r}")
    return sorts[raw]


def _text(request: web.Request, name: str) -> str | None:
    return request.query.get(name) or None


def _bool(request: web.Request, name: str) -> bool | None:
    """``true``/``false`` (or ``1``/``0``, as the command routes' flags); None when absent."""
    raw = (request.query.get(name) or "").lower()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    if raw:
        raise problems.invalid_param(f"{name} must be true or false, not {request.query[name]!r}")
    return None


# -- handlers -------------------------------------------------------------------------


def _json(body: Any) -> web.Response:
    return web.Response(body=_encoder.encode(body), content_type="application/json")


Query = Callable[[web.Request, psycopg.AsyncConnection[Any]], Awaitable[Any]]


def _read(query: Query) -> Handler:
    """A GET handler: honour ``min_seq``, run ``query`` on a pooled connection, answer JSON."""

    async def handler(request: web.Request) -> web.StreamResponse:
        app = request.app
        min_seq = _int(request, "min_seq", 0, 0, 2**63 - 1)
        if min_seq:
            await _wait(app, min_seq)
        chosen = _chosen_schema(request)
        try:
            async with app[POOL].connection(timeout=5.0) as conn:
                if chosen is None:
                    return _json(await query(request, conn))
                await schema.use_schema(conn, chosen)  # a replayed schema (lq replay --into)
                try:
                    return _json(await query(request, conn))
                finally:
                    await schema.use_schema(conn, app[SETTINGS].db_schema)
        except BadCursor as exc:
            raise problems.invalid_param(str(exc)) from None
        except psycopg.errors.UndefinedTable:
            if chosen is not None:  # the caller named a read model that is not there
                raise problems.invalid_param(
                    f"no read model {chosen!r} with this table (build one with"
                    f" `lq replay --into {chosen}`)"
                ) from None
            raise problems.unavailable("the read model is not built yet") from None
        except (psycopg.OperationalError, TimeoutError) as exc:
            raise problems.unavailable(f"PostgreSQL: {exc}") from None

    handler.__wrapped__ = query  # type: ignore[attr-defined]  # its Listing, if a list
    return handler


def _chosen_schema(request: web.Request) -> str | None:
    """``?schema=<name>``: answer from a read model built by ``lq replay --into <name>``."""
    raw = request.query.get("schema")
    if not raw or raw == request.app[SETTINGS].db_schema:
        return None
    try:
        return schema.validate(raw)
    except ValueError as exc:
        raise problems.invalid_param(str(exc)) from None


async def _wait(app: web.Application, seq: int) -> None:
    settings = app[SETTINGS]
    if app[HUB].seq < seq:
        end = await _stream_end(app)
        if end is not None and seq > end:
            raise problems.invalid_param(
                f"min_seq {seq} is past the end of the event log (sequence {end}); use the"
                " seq of a command's answer"
            )

    async def poll() -> int:
        async with app[POOL].connection(timeout=1.0) as conn:
            return await queries.checkpoint(conn)

    if not await app[HUB].wait(seq, settings.read_wait_max_s, poll):
        raise problems.timeout(
            f"the read model is at sequence {app[HUB].seq}, not yet {seq}"
            f" (waited {settings.read_wait_max_s:g}s)"
        )


async def _stream_end(app: web.Application) -> int | None:
    """The event log's last sequence, or None when it cannot be asked (then ``_wait``
    waits as before: a NATS outage must not turn good tokens into errors)."""
    ask = app.get(STREAM_END)
    if ask is None:
        return None
    try:
        return await asyncio.wait_for(ask(), 1.0)
    except Exception as exc:  # any failure: fall back to waiting
        log.debug("stream end unknown: %r", exc)
        return None


@listed(queries.VM_LISTING)
async def _list_vms(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = queries.VM_LISTING.parse(request.query)
    return await queries.list_vms(
        conn,
        states=asked.filters["state"] or [],
        host_id=asked.filters["host_id"],
        q=asked.filters["q"],
        sort=asked.sort,
        limit=asked.limit,
        cursor=asked.cursor,
        template=asked.filters["template"],
    )


def _vm_part(part: str) -> Query:
    """``/vms/{id}/<part>``: the VM's disks, NICs or snapshots (``?as_of=`` too)."""
    spec = queries.VM_PART_LISTINGS[part]

    @listed(spec)
    async def query(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
        asked = spec.parse(request.query)
        ident = request.match_info["id"]
        at = history_api.point(request, "as_of")
        if at is not None:
            row = await history_api.item_as_of(conn, "vm", ident, at)
        else:
            row = await queries.vm_part(conn, ident, part)
            if row is None:
                raise problems.not_found("vm", ident)
        out = page_rows(row[part], asked)
        if part == "snapshots":
            out["current_snapshot_id"] = row["current_snapshot_id"]
        return out

    return query


@listed(queries.HOST_LISTING)
async def _list_hosts(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    return await queries.list_hosts(conn, queries.HOST_LISTING.parse(request.query))


@listed(queries.TASK_LISTING)
async def _list_tasks(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    return await queries.list_tasks(conn, queries.TASK_LISTING.parse(request.query))


def _item(table: str, kind: str) -> Query:
    async def query(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
        ident = request.match_info["id"]
        at = history_api.point(request, "as_of")
        if at is not None:  # time travel: folded from the entity's own events
            return await history_api.item_as_of(conn, kind, ident, at)
        row = await queries.get(conn, table, ident)
        if row is None:
            raise problems.not_found(kind, ident)
        return row

    return query


def _entity_events(table: str, kind: str) -> Query:
    @listed(queries.ENTITY_EVENT_LISTING)
    async def query(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
        asked = _event_asked(queries.ENTITY_EVENT_LISTING, request)
        ident = request.match_info["id"]
        # a removed host has no row but keeps its history
        known = await queries.get(conn, table, ident) is not None
        if not known and kind != "host":
            raise problems.not_found(kind, ident)
        if kind == "task":
            return await queries.list_events(
                conn,
                correlation_id=ident,
                limit=asked.limit,
                cursor=asked.cursor,
                **_event_filters(request, asked),
            )
        out = await queries.list_events(
            conn,
            kind=kind,
            aggregate_id=ident,
            limit=asked.limit,
            cursor=asked.cursor,
            **_event_filters(request, asked),
        )
        if not known and not out["items"] and not asked.cursor:
            raise problems.not_found(kind, ident)
        return out

    return query


def _event_asked(listing: queries.Listing, request: web.Request) -> queries.Asked:
    """An event listing's parameters; ``order=desc`` is ``sort=-seq`` (both are accepted;
    they must not disagree)."""
    query = dict(request.query)
    order = query.get("order") or ""
    if order not in ("", "asc", "desc"):
        raise problems.invalid_param(f"order must be asc or desc, not {order!r}")
    if order and query.get("sort") and (order == "desc") != query["sort"].startswith("-"):
        raise problems.invalid_param("order and sort ask for opposite orders")
    if order and not query.get("sort"):
        query["sort"] = "-seq" if order == "desc" else "seq"
    return listing.parse(query)


def _event_filters(request: web.Request, asked: queries.Asked) -> dict[str, Any]:
    """The audit filters every event listing takes (docs/history.md)."""
    return {
        "types": [t for t in request.query.get("type", "").split(",") if t],
        "actor": asked.filters["actor"],
        "q": asked.filters["q"],
        "since": history_api.point(request, "since"),
        "until": history_api.point(request, "until"),
        "desc": asked.sort.desc,
    }


@listed(queries.EVENT_LISTING)
async def _list_events(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    asked = _event_asked(queries.EVENT_LISTING, request)
    return await queries.list_events(
        conn,
        kind=asked.filters["kind"],
        aggregate_id=asked.filters["aggregate_id"],
        correlation_id=asked.filters["correlation_id"],
        after_seq=_int(request, "after_seq", 0, 0, 2**63 - 1),
        limit=asked.limit,
        cursor=asked.cursor,
        **_event_filters(request, asked),
    )


async def _stats(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    return await queries.stats(conn)


@listed(queries.SEARCH_LISTING)
async def _search(request: web.Request, conn: psycopg.AsyncConnection[Any]) -> Any:
    return await queries.search(conn, queries.SEARCH_LISTING.parse(request.query))


# -- live changes ---------------------------------------------------------------------


async def _changes(request: web.Request) -> web.StreamResponse:
    app = request.app
    since = _int(request, "since", -1, 0, 2**63 - 1) if request.query.get("since") else None
    if len(app[SOCKETS]) >= app[SETTINGS].ws_max_clients:
        # a flood of connections must not take every pooled connection and the memory
        # of their queues; the dashboard reconnects with backoff (docs/reliability.md)
        busy = problems.Problem(
            503,
            "too-many-connections",
            "Too many live-change connections",
            f"this server holds at most {app[SETTINGS].ws_max_clients}; retry later",
        )
        busy.headers["Retry-After"] = "5"
        raise busy
    # lq.v1: answered to browsers that pass their token as a subprotocol (docs/api.md)
    ws = web.WebSocketResponse(heartbeat=30.0, protocols=("lq.v1",))
    app[SOCKETS].add(ws)  # counted from before the handshake, so a burst cannot overshoot
    try:
        await ws.prepare(request)
    except BaseException:
        app[SOCKETS].discard(ws)
        raise
    hub = app[HUB]
    queue = hub.subscribe()
    pump: asyncio.Task[None] | None = None
    try:
        if not hub.listening:  # the listener may not have started (or may be reconnecting)
            await _refresh(app)
        seq = hub.seq
        await ws.send_str(_hello(seq))
        if since is not None and since < seq:
            await ws.send_str(await _catch_up(app, since, seq))
        pump = asyncio.create_task(_pump(ws, queue, seq))
        async for msg in ws:  # clients send nothing; this notices when they go away
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        hub.unsubscribe(queue)
        app[SOCKETS].discard(ws)
        if pump is not None:
            pump.cancel()
            # a send to a client that just went away fails; nothing is left to tell it
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await pump
    return ws


async def _refresh(app: web.Application) -> None:
    try:
        async with app[POOL].connection(timeout=2.0) as conn:
            app[HUB].advance(await queries.checkpoint(conn), None)
    except (psycopg.Error, TimeoutError) as exc:
        log.debug("checkpoint refresh failed: %s", exc)


def _hello(seq: int) -> str:
    return _encoder.encode({"type": "hello", "seq": seq}).decode()


async def _catch_up(app: web.Application, since: int, seq: int) -> str:
    try:
        async with app[POOL].connection(timeout=5.0) as conn:
            rows = await queries.changes_between(conn, since, seq, CATCH_UP_MAX)
    except (psycopg.Error, TimeoutError) as exc:
        log.warning("change catch-up failed: %s", exc)
        rows = None
    if rows is None:
        return _encoder.encode({"type": "resync", "seq": seq}).decode()
    return _encoder.encode({"type": "changes", "seq": seq, "changes": rows}).decode()


async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[changes.Message], seq: int) -> None:
    """Forward hub messages newer than what the client already has."""
    while not ws.closed:
        msg = await queue.get()
        if msg["type"] == "changes" and msg["seq"] <= seq:
            continue
        seq = max(seq, msg["seq"])
        await ws.send_str(_encoder.encode(msg).decode())
