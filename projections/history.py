"""Time travel for one entity: its read-model row as of a sequence or time, diffs, traces.

Why from the audit log and the projector's own folds: the ``events`` table already holds
every event of an entity under an index on (kind, id, seq), so "the VM as it was at 03:00"
is one index range scan plus an in-memory fold of those events through
``projections.batch.fold_events`` — the same fold rules that build the live row, so a past
row can never disagree with what the live read model showed at that moment. No second
fold is written and nothing is replayed from NATS.

A VM's row names its host; the host's name as of the same point comes from that host's
``host.enrolled`` events. A task's row names its target; the target is folded too.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from psycopg.rows import dict_row

from events.codec import Envelope, StoredEvent, decode_event_data
from projections.batch import fold_events
from projections.schema import Conn
from projections.tables import Batch, Row

KINDS = {"vms": "vm", "hosts": "host", "tasks": "task"}
"""Collection name → aggregate kind of the entities that can travel in time."""

_COLUMNS = (
    "seq, index, event_id, type, schema_version, aggregate_kind, aggregate_id, occurred_at,"
    " actor, correlation_id, causation_id, traceparent, data::text AS data,"
    " changes::text AS changes, hash"
)
_json = msgspec.json.Decoder()


class BadPoint(ValueError):
    """An ``as_of``/``from``/``to`` value that is neither a sequence nor a time."""


@dataclass(frozen=True)
class Point:
    """A point in history: a stream sequence, or a time (events that occurred by then)."""

    seq: int | None = None
    time: datetime | None = None

    def includes(self, seq: int, occurred_at: datetime) -> bool:
        if self.seq is not None:
            return seq <= self.seq
        assert self.time is not None
        return occurred_at <= self.time

    def sql(self) -> tuple[str, list[Any]]:
        if self.seq is not None:
            return "seq <= %s", [self.seq]
        return "occurred_at <= %s", [self.time]

    def __str__(self) -> str:
        return str(self.seq) if self.seq is not None else str(self.time)


def parse_point(raw: str) -> Point:
    """``"1234"`` → sequence 1234; ``"2026-11-28T03:00:00Z"`` → that time (UTC if naive)."""
    text = raw.strip()
    if text.isdigit():
        return Point(seq=int(text))
    try:
        when = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        raise BadPoint(f"{raw!r} is neither a stream sequence nor an ISO 8601 time") from None
    return Point(time=when if when.tzinfo else when.replace(tzinfo=UTC))


def to_stored(row: Row) -> StoredEvent:
    """An audit-log row back as the stored event the projector folded."""
    env = Envelope(
        event_id=row["event_id"],
        schema_version=row["schema_version"],
        aggregate_kind=row["aggregate_kind"],
        aggregate_id=row["aggregate_id"],
        occurred_at=row["occurred_at"],
        actor=row["actor"],
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        traceparent=row["traceparent"],
        event=decode_event_data(row["data"], row["schema_version"]),  # type: ignore[arg-type]
        hash=row["hash"],
    )
    return StoredEvent(seq=row["seq"], index=row["index"], envelope=env)


def audit_row(row: Row) -> Row:
    """An audit-log row as the API shows it (``data`` and ``changes`` as JSON)."""
    out = dict(row)
    out["data"] = _json.decode(row["data"])
    out["changes"] = _json.decode(row["changes"]) if row["changes"] else None
    return out


async def _events(conn: Conn, where: str, params: list[Any], until: Point | None) -> list[Row]:
    if until is not None:
        cond, args = until.sql()
        where, params = f"{where} AND {cond}", [*params, *args]
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM events WHERE {where} ORDER BY seq, index".encode(), params
        )
        return await cur.fetchall()


async def entity_events(conn: Conn, kind: str, ident: str, until: Point | None) -> list[Row]:
    """Audit rows of one entity (a task's: the task events of its correlation)."""
    if kind == "task":
        return await _events(conn, "correlation_id = %s AND type LIKE 'task.%%'", [ident], until)
    return await _events(conn, "aggregate_kind = %s AND aggregate_id = %s", [kind, ident], until)


async def correlated(conn: Conn, correlation_id: str, until: Point | None = None) -> list[Row]:
    """Audit rows of every event of one task (its correlation id), in stream order."""
    return await _events(conn, "correlation_id = %s", [correlation_id], until)


async def _prepare(conn: Conn, b: Batch, kind: str, rows: list[Row], until: Point) -> None:
    """Fold into ``b`` what the entity's rows refer to (host names, a task's target)."""
    if kind == "vm":
        host_ids = {r["data"] for r in rows if r["type"] in ("vm.placed", "vm.defined")}
        for data in host_ids:
            host_id = _json.decode(data).get("host_id")
            enrolled = await _events(
                conn,
                "aggregate_kind = 'host' AND aggregate_id = %s AND type = 'host.enrolled'",
                [host_id],
                until,
            )
            fold_events(b, [to_stored(r) for r in enrolled])
    elif kind == "task" and rows and rows[0]["type"] == "task.queued":
        queued = _json.decode(rows[0]["data"])
        target_kind, target_id = queued.get("target_kind"), queued.get("target_id")
        if target_kind in ("vm", "host") and isinstance(target_id, str):
            target = await entity_events(conn, target_kind, target_id, until)
            fold_events(b, [to_stored(r) for r in target if not r["type"].startswith("task.")])


def _table(b: Batch, kind: str) -> dict[str, Row]:
    return {"vm": b.vms, "host": b.hosts, "task": b.tasks}[kind]


async def as_of(conn: Conn, kind: str, ident: str, point: Point) -> Row | None:
    """The entity's read-model row as it was at ``point`` (None: it did not exist yet)."""
    rows = await entity_events(conn, kind, ident, point)
    b = Batch()
    await _prepare(conn, b, kind, rows, point)
    fold_events(b, [to_stored(r) for r in rows])
    return _table(b, kind).get(ident)


def row_diff(a: Row | None, b: Row | None) -> dict[str, list[Any]]:
    """``{column: [old, new]}`` for every column that differs (bookkeeping left out)."""
    x, y = a or {}, b or {}
    skip = {"seq", "updated_at"}
    return {
        k: [x.get(k), y.get(k)]
        for k in sorted(x.keys() | y.keys())
        if k not in skip and x.get(k) != y.get(k)
    }


async def diff(conn: Conn, kind: str, ident: str, start: Point, end: Point) -> Row:
    """The entity at ``start`` and at ``end``, what changed, and the events in between."""
    rows = await entity_events(conn, kind, ident, end)
    b = Batch()
    await _prepare(conn, b, kind, rows, end)
    stored = [to_stored(r) for r in rows]
    cut = next(
        (i for i, se in enumerate(stored) if not start.includes(se.seq, se.envelope.occurred_at)),
        len(stored),
    )
    while 0 < cut < len(stored) and stored[cut].seq == stored[cut - 1].seq:
        cut -= 1  # never split a message
    fold_events(b, stored[:cut])
    old = copy.deepcopy(_table(b, kind).get(ident))
    fold_events(b, stored[cut:])
    new = _table(b, kind).get(ident)
    return {
        "kind": kind,
        "id": ident,
        "from": old,
        "to": new,
        "changes": row_diff(old, new),
        "events": [audit_row(r) for r in rows[cut:]][:1000],
    }


def trace_id(traceparent: str | None) -> str | None:
    """The OpenTelemetry trace id of a W3C ``traceparent`` (``00-<trace>-<span>-<flags>``)."""
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _role(actor: str) -> str:
    if actor.startswith("agent:"):
        return "agent"
    if actor.startswith("system:"):
        return "system"
    return "user"


async def trace(conn: Conn, task_id: str) -> Row:
    """The causal tree of one task: request(s) → events → agent actions → state.

    Every event of the task shares its correlation id; an event's parent is the event its
    causation id names, or, when that is no event (the HTTP request id), a request node.
    """
    rows = await correlated(conn, task_id)
    nodes: dict[str, Row] = {}
    for r in rows:
        nodes[r["event_id"]] = {
            "seq": r["seq"],
            "index": r["index"],
            "event_id": r["event_id"],
            "type": r["type"],
            "aggregate_kind": r["aggregate_kind"],
            "aggregate_id": r["aggregate_id"],
            "actor": r["actor"],
            "role": _role(r["actor"]),
            "occurred_at": r["occurred_at"],
            "causation_id": r["causation_id"],
            "trace_id": trace_id(r["traceparent"]),
            "changes": _json.decode(r["changes"]) if r["changes"] else None,
            "children": [],
        }
    requests: dict[str, Row] = {}
    for node in nodes.values():
        parent = nodes.get(node["causation_id"] or "")
        if parent is not None and parent is not node:
            parent["children"].append(node)
            continue
        key = node["causation_id"] or ""
        if key not in requests:
            requests[key] = {
                "request_id": node["causation_id"],
                "actor": node["actor"],
                "occurred_at": node["occurred_at"],
                "children": [],
            }
        requests[key]["children"].append(node)
    ids = [trace_id(r["traceparent"]) for r in rows]
    return {
        "task_id": task_id,
        "trace_id": next((t for t in ids if t), None),
        "events": len(rows),
        "requests": list(requests.values()),
    }
