"""What the read API asks PostgreSQL: one function per endpoint of docs/api.md.

Lists use keyset pagination: rows are ordered by the requested sort column plus a unique
tiebreak, and the opaque cursor carries the last row's values of those columns, so page N
costs the same as page 1 (an index range scan) even at tens of thousands of VMs. The
partial indexes of ``sql/schema.sql`` match the literal ``state <> 'deleted'`` filter used
when no state is asked for. Substring search is ``ILIKE``; with pg_trgm on the server the
same predicate uses trigram indexes. Each list's sort keys and filters are declared once as
an ``events.listing.Listing`` (here for VMs, hosts, tasks, events and search; beside their
routes for the others), which validates the request and yields the ``Sort`` and filter
conditions ``listing_page`` applies (docs/api.md "Lists").
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row

from events import listing
from events.host import HostState
from events.listing import Asked, BadCursor, Filter, Listing, Sort, decode_cursor, like
from events.task import TaskState
from events.vm import VM_STATES
from projections.schema import CHECKPOINT, Conn
from projections.tables import VM_LIST_COLUMNS

__all__ = ["Asked", "BadCursor", "Filter", "Listing", "Sort", "decode_cursor", "like"]

HOST_STATES: tuple[str, ...] = HostState.__args__  # type: ignore[attr-defined]
TASK_STATES: tuple[str, ...] = TaskState.__args__  # type: ignore[attr-defined]

Row = dict[str, Any]


VM_LISTING = Listing(
    keys={
        "name": "text",
        "state": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "vcpus": "int",
        "memory_mib": "bigint",
    },
    default_sort="name",
    filters={
        "state": Filter("enum", VM_STATES, description="comma-separated; default: all but deleted"),
        "host_id": Filter(description="the VM's host"),
        "q": Filter("search", description="name or id substring"),
        "template": Filter("bool", description="true: templates only; false: VMs only"),
    },
)
HOST_LISTING = Listing(
    keys={
        "name": "text",
        "state": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "cpus": "int",
        "memory_mib": "bigint",
        "vm_count": "int",
    },
    default_sort="name",
    filters={
        "state": Filter("enum", HOST_STATES, "state = ANY(%s)", "comma-separated"),
        "q": Filter("search", sql="(name ILIKE %s OR id ILIKE %s)", description="name or id"),
    },
)
TASK_LISTING = Listing(
    keys={
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
        "operation": "text",
        "state": "text",
    },
    default_sort="-created_at",
    filters={
        "state": Filter("enum", TASK_STATES, "state = ANY(%s)", "comma-separated"),
        "target_id": Filter(sql="target_id = %s", description="the VM's, host's … id"),
        "target_kind": Filter(sql="target_kind = %s", description="vm, host, …"),
        "operation": Filter(sql="operation = %s", description="e.g. vm.create"),
    },
)
EVENT_FILTERS = {
    "type": Filter(description="exact types, comma-separated, or a prefix ending in '.'"),
    "actor": Filter(description="who caused the event"),
    "q": Filter("search", description="aggregate id, actor, type or the VM's/host's name"),
    "since": Filter(description="sequence or ISO time (inclusive)"),
    "until": Filter(description="sequence or ISO time (inclusive)"),
}
EVENT_LISTING = Listing(
    keys={"seq": "bigint"},
    default_sort="seq",
    filters={
        "kind": Filter(description="aggregate kind: vm, host, …"),
        "aggregate_id": Filter(),
        "correlation_id": Filter(description="a task id"),
        "after_seq": Filter(description="only events after this sequence"),
        **EVENT_FILTERS,
    },
    tiebreak=(("index", "int"),),
    extra=("order",),
)
ENTITY_EVENT_LISTING = Listing(
    keys={"seq": "bigint"},
    default_sort="seq",
    filters=EVENT_FILTERS,
    tiebreak=(("index", "int"),),
    extra=("order",),
)
SEARCH_LISTING = Listing(
    keys={"kind": (("kind", "text"), ("name", "text")), "name": "text"},
    default_sort="kind",
    filters={"q": Filter("search", required=True, description="name or id substring")},
    default_limit=20,
    max_limit=100,
)
VM_PART_LISTINGS = {
    "disks": Listing(
        keys={"disk_id": "text", "size_gib": "int"},
        default_sort="disk_id",
        default_limit=500,
        tiebreak=(("disk_id", "text"),),
        extra=("as_of",),
    ),
    "nics": Listing(
        keys={"nic_id": "text", "network_id": "text"},
        default_sort="nic_id",
        default_limit=500,
        tiebreak=(("nic_id", "text"),),
        extra=("as_of",),
    ),
    "snapshots": Listing(
        keys={"created_at": "timestamptz", "name": "text"},
        default_sort="created_at",
        default_limit=500,
        tiebreak=(("snapshot_id", "text"),),
        extra=("as_of",),
    ),
}
VM_SORTS = VM_LISTING.sorts()
HOST_SORTS = HOST_LISTING.sorts()
TASK_SORT = TASK_LISTING.sorts()["-created_at"]
EVENT_SORT = EVENT_LISTING.sorts()["seq"]
EVENT_SORT_DESC = EVENT_LISTING.sorts()["-seq"]


def encode_cursor(sort: Sort, row: Row) -> str:
    return listing.encode_cursor(sort, [row[c] for c, _ in sort.columns])


async def _rows(conn: Conn, sql: str, params: list[Any]) -> list[Row]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql.encode(), params)
        return await cur.fetchall()


async def _scalar(conn: Conn, sql: str, params: list[Any]) -> Any:
    cur = await conn.execute(sql.encode(), params)
    row = await cur.fetchone()
    return row[0] if row else None


_LAST = {"timestamptz": "'infinity'", "text": "chr(1114111)", "double precision": "'Infinity'"}


def _key(column: str, kind: str) -> str:
    """A sort column as ordered and compared: a nullable one (type ending in ``?``) as
    a value past every other, since a row comparison with NULL is never true."""
    if not kind.endswith("?"):
        return column if column != "%s" else f"%s::{kind}"
    kind = kind[:-1]
    last = _LAST.get(kind, "9223372036854775807")
    return f"COALESCE({column}::{kind}, {last}::{kind})"


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
        cols = ", ".join(_key(c, t) for c, t in sort.columns)
        marks = ", ".join(_key("%s", t) for _, t in sort.columns)
        cond.append(f"({cols}) {'<' if sort.desc else '>'} ({marks})")
        args.extend(values)
    direction = " DESC" if sort.desc else ""
    order = ", ".join(_key(c, t) + direction for c, t in sort.columns)
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


async def listing_page(
    conn: Conn,
    table: str,
    asked: Asked,
    *,
    where: list[str] | None = None,
    params: list[Any] | None = None,
    **options: Any,
) -> Row:
    """One page of ``table`` as ``asked`` (its filters' SQL added to ``where``); ``options``
    are ``page``'s (``count``, ``scan``, ``columns``)."""
    own, values = asked.where()
    return await page(
        conn,
        table,
        where=[*(where or []), *own],
        params=[*(params or []), *values],
        sort=asked.sort,
        limit=asked.limit,
        cursor=asked.cursor,
        **options,
    )


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


async def list_hosts(conn: Conn, asked: Asked) -> Row:
    return await listing_page(conn, "hosts", asked)


async def list_tasks(conn: Conn, asked: Asked) -> Row:
    return await listing_page(conn, "tasks", asked)


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


_FOUND = (
    "(SELECT 'host' AS kind, id, name, state FROM hosts UNION ALL"
    " SELECT 'vm' AS kind, id, name, state FROM vms WHERE state <> 'deleted') found"
)


async def search(conn: Conn, asked: Asked) -> Row:
    """Hosts then VMs (by default) whose name or id contains ``q``."""
    pattern = like(asked.filters["q"])
    return await page(
        conn,
        _FOUND,
        where=["(name ILIKE %s OR id ILIKE %s)"],
        params=[pattern, pattern],
        sort=asked.sort,
        limit=asked.limit,
        cursor=asked.cursor,
        scan=True,
    )


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
