"""What the read API asks PostgreSQL: one function per endpoint of docs/api.md.

Lists use keyset pagination: rows are ordered by the requested sort column plus a unique
tiebreak, and the opaque cursor carries the last row's values of those columns, so page N
costs the same as page 1 (an index range scan) even at tens of thousands of VMs. The
partial indexes of ``sql/schema.sql`` match the literal ``state <> 'deleted'`` filter used
when no state is asked for. Substring search is ``ILIKE``; with pg_trgm on the server the
same predicate uses trigram indexes. Parameters arrive validated (``projections.api``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec
from psycopg.rows import dict_row

from projections.schema import CHECKPOINT, Conn
from projections.tables import VM_LIST_COLUMNS

Row = dict[str, Any]


@dataclass(frozen=True)
class Sort:
    """An ordering: columns with their SQL types (the last ones make it unique)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    desc: bool = False


def _sorts(names: dict[str, str]) -> dict[str, Sort]:
    out: dict[str, Sort] = {}
    for name, cast in names.items():
        out[name] = Sort(name, ((name, cast), ("id", "text")))
        out["-" + name] = Sort("-" + name, ((name, cast), ("id", "text")), desc=True)
    return out


VM_SORTS = _sorts(
    {
        "name": "text",
        "state": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "vcpus": "int",
        "memory_mib": "bigint",
    }
)
HOST_SORTS = _sorts(
    {
        "name": "text",
        "state": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "cpus": "int",
        "memory_mib": "bigint",
        "vm_count": "int",
    }
)
TASK_SORT = Sort("-created_at", (("created_at", "timestamptz"), ("id", "text")), desc=True)
EVENT_SORT = Sort("seq", (("seq", "bigint"), ("index", "int")))
EVENT_SORT_DESC = Sort("-seq", (("seq", "bigint"), ("index", "int")), desc=True)


class BadCursor(ValueError):
    """The cursor was not made by this API for this ordering."""


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(list[Any])


def encode_cursor(sort: Sort, row: Row) -> str:
    raw = _enc.encode([sort.name, *(row[c] for c, _ in sort.columns)])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> list[Any]:
    try:
        data = _dec.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if len(data) != len(sort.columns) + 1 or data[0] != sort.name:
        raise BadCursor("cursor belongs to another listing or sort order")
    return data[1:]


def like(q: str) -> str:
    """An ILIKE pattern matching ``q`` anywhere, with its wildcards taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _rows(conn: Conn, sql: str, params: list[Any]) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.encode(), params)
        return await cur.fetchall()


async def _scalar(conn: Conn, sql: str, params: list[Any]) -> Any:
    cur = await conn.execute(sql.encode(), params)
    row = await cur.fetchone()
    return row[0] if row else None


async def page(
    conn: Conn,
    table: str,
    *,
    where: list[str],
    params: list[Any],
    sort: Sort,
    limit: int,
    cursor: str | None,
    count: bool = True,
    scan: bool = False,
    columns: str = "*",
) -> Row:
    """One page of ``table``: ``{"items", "next_cursor", "total"}``.

    ``scan`` says the filter cannot use an index (a substring search): the total is then
    counted by the same statement (``count(*) OVER ()`` over the filtered rows, before
    the cursor applies) instead of a second scan of the table. ``columns`` is the select
    list of the items (it must include the sort columns)."""
    cond, args = list(where), list(params)
    if cursor:
        values = decode_cursor(sort, cursor)
        cols = ", ".join(c for c, _ in sort.columns)
        marks = ", ".join(f"%s::{t}" for _, t in sort.columns)
        cond.append(f"({cols}) {'<' if sort.desc else '>'} ({marks})")
        args.extend(values)
    direction = " DESC" if sort.desc else ""
    order = ", ".join(c + direction for c, _ in sort.columns)
    if count and scan:
        base = f" WHERE {' AND '.join(where)}" if where else ""
        after = f" WHERE {' AND '.join(cond[len(where) :])}" if len(cond) > len(where) else ""
        rows = await _rows(
            conn,
            f"SELECT * FROM (SELECT {columns}, count(*) OVER () AS _total FROM {table}{base}) m"
            f"{after} ORDER BY {order} LIMIT %s",
            [*args, limit + 1],
        )
        total = int(rows[0]["_total"]) if rows else 0
        if not rows and cursor:  # past the last row: count without the cursor
            total = int(await _scalar(conn, f"SELECT count(*) FROM {table}{base}", params))
        for r in rows:
            del r["_total"]
        next_cursor = encode_cursor(sort, rows[limit - 1]) if len(rows) > limit else None
        return {"items": rows[:limit], "next_cursor": next_cursor, "total": total}
    clause = f" WHERE {' AND '.join(cond)}" if cond else ""
    rows = await _rows(
        conn,
        f"SELECT {columns} FROM {table}{clause} ORDER BY {order} LIMIT %s",
        [*args, limit + 1],
    )
    next_cursor = encode_cursor(sort, rows[limit - 1]) if len(rows) > limit else None
    total = 0
    if count:
        base = f" WHERE {' AND '.join(where)}" if where else ""
        total = int(await _scalar(conn, f"SELECT count(*) FROM {table}{base}", params))
    return {"items": rows[:limit], "next_cursor": next_cursor, "total": total}


async def list_vms(
    conn: Conn,
    *,
    states: list[str],
    host_id: str | None,
    q: str | None,
    sort: Sort,
    limit: int,
    cursor: str | None,
    template: bool | None = None,
) -> Row:
    """A page of VMs (without their snapshot trees); ``template`` None lists both kinds."""
    where: list[str] = []
    params: list[Any] = []
    if states:
        where.append("state = ANY(%s)")
        params.append(states)
    else:
        where.append("state <> 'deleted'")
    if host_id:
        where.append("host_id = %s")
        params.append(host_id)
    if template is not None:
        where.append("template" if template else "NOT template")
    if q:
        where.append("(name ILIKE %s OR id ILIKE %s)")
        params += [like(q), like(q)]
    return await page(
        conn,
        "vms",
        where=where,
        params=params,
        sort=sort,
        limit=limit,
        cursor=cursor,
        scan=bool(q),
        columns=_VM_LIST,
    )


_VM_LIST = ", ".join(VM_LIST_COLUMNS)
VM_PARTS = ("disks", "nics", "snapshots")
"""The per-VM collections ``/vms/{id}/<part>`` lists."""


async def vm_part(conn: Conn, ident: str, part: str) -> Row | None:
    """One of a VM's collections (``VM_PARTS``) with ``current_snapshot_id``; None: no VM."""
    if part not in VM_PARTS:
        raise ValueError(f"not a VM collection: {part}")
    rows = await _rows(conn, f"SELECT {part}, current_snapshot_id FROM vms WHERE id = %s", [ident])
    return rows[0] if rows else None


async def list_hosts(
    conn: Conn, *, states: list[str], q: str | None, sort: Sort, limit: int, cursor: str | None
) -> Row:
    where: list[str] = []
    params: list[Any] = []
    if states:
        where.append("state = ANY(%s)")
        params.append(states)
    if q:
        where.append("(name ILIKE %s OR id ILIKE %s)")
        params += [like(q), like(q)]
    return await page(
        conn, "hosts", where=where, params=params, sort=sort, limit=limit, cursor=cursor
    )


async def list_tasks(
    conn: Conn, *, states: list[str], target_id: str | None, limit: int, cursor: str | None
) -> Row:
    where: list[str] = []
    params: list[Any] = []
    if states:
        where.append("state = ANY(%s)")
        params.append(states)
    if target_id:
        where.append("target_id = %s")
        params.append(target_id)
    return await page(
        conn, "tasks", where=where, params=params, sort=TASK_SORT, limit=limit, cursor=cursor
    )


async def get(conn: Conn, table: str, ident: str) -> Row | None:
    rows = await _rows(conn, f"SELECT * FROM {table} WHERE id = %s", [ident])
    return rows[0] if rows else None


async def list_events(
    conn: Conn,
    *,
    kind: str | None = None,
    aggregate_id: str | None = None,
    correlation_id: str | None = None,
    after_seq: int = 0,
    limit: int,
    cursor: str | None,
    types: list[str] | None = None,
    actor: str | None = None,
    q: str | None = None,
    since: Any = None,
    until: Any = None,
    desc: bool = False,
) -> Row:
    """The audit log, oldest first (``desc``: newest first): all of it, one aggregate's, or
    one task's; ``types`` are exact types or prefixes ending in ``.`` (``vm.``), ``actor``
    is exact, ``q`` a substring of the aggregate id, actor, type or the VM's/host's name;
    ``since``/``until`` are ``projections.history.Point`` bounds (a sequence or a time,
    inclusive)."""
    where: list[str] = []
    params: list[Any] = []
    if kind:
        where.append("aggregate_kind = %s")
        params.append(kind)
    if aggregate_id:
        where.append("aggregate_id = %s")
        params.append(aggregate_id)
    if correlation_id:
        where.append("correlation_id = %s")
        params.append(correlation_id)
    if after_seq:
        where.append("seq > %s")
        params.append(after_seq)
    if types:
        exact = [t for t in types if not t.endswith(".")]
        prefixes = [like(t)[1:] for t in types if t.endswith(".")]  # "vm." → "vm.%"
        where.append("(type = ANY(%s) OR type LIKE ANY(%s))")
        params += [exact, prefixes]
    if actor:
        where.append("actor = %s")
        params.append(actor)
    if q:
        # an operator searches by what they see: the VM's or host's name, not only its id
        where.append(
            "(aggregate_id ILIKE %s OR actor ILIKE %s OR type ILIKE %s"
            " OR aggregate_id IN (SELECT id FROM vms WHERE name ILIKE %s"
            " UNION ALL SELECT id FROM hosts WHERE name ILIKE %s))"
        )
        params += [like(q)] * 5
    for bound, op in ((since, ">="), (until, "<=")):
        if bound is not None:
            by_seq = bound.seq is not None
            where.append(f"{'seq' if by_seq else 'occurred_at'} {op} %s")
            params.append(bound.seq if by_seq else bound.time)
    sort = EVENT_SORT_DESC if desc else EVENT_SORT
    return await page(
        conn, "events", where=where, params=params, sort=sort, limit=limit, cursor=cursor
    )


async def stats(conn: Conn) -> Row:
    vm_states = {
        r["state"]: r["n"]
        for r in await _rows(conn, "SELECT state, count(*) AS n FROM vms GROUP BY state", [])
    }
    host_states = {
        r["state"]: r["n"]
        for r in await _rows(conn, "SELECT state, count(*) AS n FROM hosts GROUP BY state", [])
    }
    cap = (
        await _rows(
            conn,
            "SELECT coalesce(sum(floor(cpus * cpu_overcommit))"
            "         FILTER (WHERE state = 'connected'), 0)::bigint AS cpu_capacity,"
            " coalesce(sum(allocated_vcpus), 0)::bigint AS cpu_allocated,"
            " coalesce(sum(floor(memory_mib * memory_overcommit))"
            "         FILTER (WHERE state = 'connected'), 0)::bigint AS mem_capacity,"
            " coalesce(sum(allocated_memory_mib), 0)::bigint AS mem_allocated"
            " FROM hosts",
            [],
        )
    )[0]
    return {
        "vms": {
            "total": sum(n for s, n in vm_states.items() if s != "deleted"),
            "by_state": vm_states,
        },
        "hosts": {"total": sum(host_states.values()), "by_state": host_states},
        "cpu": {"capacity": cap["cpu_capacity"], "allocated": cap["cpu_allocated"]},
        "memory_mib": {"capacity": cap["mem_capacity"], "allocated": cap["mem_allocated"]},
        "seq": await checkpoint(conn),
    }


async def search(conn: Conn, q: str, limit: int) -> list[Row]:
    """Hosts then VMs whose name or id contains ``q``."""
    pattern = like(q)
    hosts = await _rows(
        conn,
        "SELECT 'host' AS kind, id, name, state FROM hosts"
        " WHERE name ILIKE %s OR id ILIKE %s ORDER BY name, id LIMIT %s",
        [pattern, pattern, limit],
    )
    vms = await _rows(
        conn,
        "SELECT 'vm' AS kind, id, name, state FROM vms WHERE state <> 'deleted'"
        " AND (name ILIKE %s OR id ILIKE %s) ORDER BY name, id LIMIT %s",
        [pattern, pattern, limit],
    )
    return (hosts + vms)[:limit]


async def checkpoint(conn: Conn) -> int:
    found = await _scalar(conn, "SELECT seq FROM checkpoint WHERE name = %s", [CHECKPOINT])
    return int(found or 0)


async def changes_between(conn: Conn, since: int, until: int, most: int) -> list[Row] | None:
    """Rows changed by events in ``(since, until]`` as ``{"kind","id","seq"}``, or None
    when there are more than ``most`` events to look at (the client must resync)."""
    n = await _scalar(
        conn,
        "SELECT count(*) FROM (SELECT 1 FROM events WHERE seq > %s AND seq <= %s LIMIT %s) s",
        [since, until, most + 1],
    )
    if int(n) > most:
        return None
    return await _rows(
        conn,
        "SELECT kind, id, max(seq) AS seq FROM ("
        "  SELECT CASE WHEN type LIKE 'task.%%' THEN 'task' ELSE aggregate_kind END AS kind,"
        "         CASE WHEN type LIKE 'task.%%' THEN data->>'task_id' ELSE aggregate_id END AS id,"
        "         seq FROM events WHERE seq > %s AND seq <= %s) c"
        " WHERE id IS NOT NULL GROUP BY kind, id ORDER BY 3, 1, 2",
        [since, until],
    )
