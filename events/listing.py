"""The one convention of every list endpoint: paging, sorting, filtering, and its errors.

Every ``GET`` that answers a collection answers ``{"items": [...], "next_cursor": str |
null, "total": int}`` (``total`` counts the filtered items, all pages) and reads the same
query parameters (docs/api.md "Lists"):

- ``limit``: items per page, 1 to the listing's ``max_limit``; the default is 50, or the
  maximum on collections that are small by nature (networks, clusters, roles …) so that a
  caller that never pages still gets all of a normal fleet's;
- ``cursor``: the previous page's ``next_cursor``, opaque and bound to the sort order it
  was made for;
- ``sort``: one of the listing's keys, ``-key`` for descending. A key names the item field
  it orders by; ties are broken by the item's id, so ``-key`` is exactly the reverse of
  ``key``;
- filters: the listing's own parameters (``state=a,b``, ``q=`` substring, ``host_id=`` …);
- ``min_seq`` and ``schema``, which every read accepts.

Any other parameter, or a bad value of one of these, is a ``400 invalid-param`` problem: a
misspelt filter must not silently answer everything. Pure (no I/O) so that the read side
(``projections``, SQL keyset pages) and the command side (``controlplane``, lists held in
memory) share it; ``page_rows`` pages a list that is already in memory the same way.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import msgspec

from events import problems

COMMON = ("min_seq", "schema")
"""Parameters every read accepts, lists included."""
PAGING = ("limit", "cursor", "sort")

Row = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Sort:
    """An ordering: columns with their SQL types (the last ones make it unique)."""

    name: str
    columns: tuple[tuple[str, str], ...]
    desc: bool = False


class BadCursor(ValueError):
    """The cursor was not made by this API for this ordering."""


_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(list[Any])


def encode_cursor(sort: Sort, values: Sequence[Any]) -> str:
    raw = _enc.encode([sort.name, *values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(sort: Sort, cursor: str) -> list[Any]:
    try:
        data = _dec.decode(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise BadCursor("cursor is not valid") from exc
    if len(data) != len(sort.columns) + 1 or data[0] != sort.name:
        raise BadCursor("cursor belongs to another listing or sort order")
    return data[1:]


@dataclass(frozen=True)
class Filter:
    """A query parameter that narrows a list.

    ``kind``: ``text`` (exact), ``search`` (substring, case-insensitive), ``enum`` (one of
    ``values``; comma-separated for several), ``bool`` (``true``/``false``/``1``/``0``).
    ``sql``: the condition it adds, with one ``%s`` per value (a ``search`` value is passed
    as an ILIKE pattern to each ``%s``; an ``enum`` as a list); empty when the handler
    applies the filter itself."""

    kind: str = "text"
    values: tuple[str, ...] = ()
    sql: str = ""
    description: str = ""
    required: bool = False


@dataclass(frozen=True)
class Asked:
    """One request's validated paging, ordering and filter values."""

    sort: Sort
    limit: int
    cursor: str | None
    filters: dict[str, Any]
    listing: Listing

    def where(self) -> tuple[list[str], list[Any]]:
        """The SQL conditions and parameters of the filters that carry their ``sql``."""
        where: list[str] = []
        params: list[Any] = []
        for name, value in self.filters.items():
            f = self.listing.filters[name]
            if value is None or not f.sql:
                continue
            where.append(f.sql)
            marks = f.sql.count("%s")
            params.extend([like(value)] * marks if f.kind == "search" else [value] * marks)
        return where, params


@dataclass(frozen=True)
class Listing:
    """What one list endpoint accepts: sort keys, filters and its limits.

    ``keys`` maps a sort key to its SQL type (``text``, ``timestamptz``, ``bigint``,
    ``inet`` …; ``?`` appended when the column may be NULL) or to its own columns;
    ``tiebreak`` (the item's id by default) is appended to each so that every order is
    total. ``extra`` names parameters the handler reads itself (``as_of``, event filters
    …); ``common`` those every read takes (``min_seq``, and ``schema`` on lists of the read
    model)."""

    keys: Mapping[str, str | tuple[tuple[str, str], ...]]
    default_sort: str
    filters: Mapping[str, Filter] = field(default_factory=dict)
    default_limit: int = 50
    max_limit: int = 500
    tiebreak: tuple[tuple[str, str], ...] = (("id", "text"),)
    extra: tuple[str, ...] = ()
    common: tuple[str, ...] = COMMON

    def sorts(self) -> dict[str, Sort]:
        out: dict[str, Sort] = {}
        for key, spec in self.keys.items():
            cols = ((key, spec),) if isinstance(spec, str) else spec
            cols += tuple(t for t in self.tiebreak if t not in cols)
            out[key] = Sort(key, cols)
            out["-" + key] = Sort("-" + key, cols, desc=True)
        return out

    def accepted(self) -> tuple[str, ...]:
        """Every query parameter this listing reads."""
        return (*PAGING, *self.filters, *self.extra, *self.common)

    def parse(self, query: Mapping[str, str]) -> Asked:
        """Validate ``query``; every mistake is a ``400 invalid-param`` problem."""
        unknown = sorted(set(query) - set(self.accepted()))
        if unknown:
            raise problems.invalid_param(
                f"unknown query parameter {', '.join(unknown)}; this list accepts"
                f" {', '.join(self.accepted())}"
            )
        sorts = self.sorts()
        name = query.get("sort") or self.default_sort
        if name not in sorts:
            raise problems.invalid_param(f"sort must be one of {', '.join(sorts)}, not {name!r}")
        limit = _integer(query, "limit", self.default_limit, 1, self.max_limit)
        cursor = query.get("cursor") or None
        if cursor is not None:
            try:
                decode_cursor(sorts[name], cursor)
            except BadCursor as exc:
                raise problems.invalid_param(f"cursor: {exc}") from None
        values = {n: _filter(n, f, query.get(n)) for n, f in self.filters.items()}
        return Asked(sorts[name], limit, cursor, values, self)


def _integer(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise problems.invalid_param(f"{name} must be an integer, not {raw!r}") from None
    if not lo <= value <= hi:
        raise problems.invalid_param(f"{name} must be between {lo} and {hi}")
    return value


def _filter(name: str, f: Filter, raw: str | None) -> Any:
    if raw is None or raw == "":
        if f.required:
            raise problems.invalid_param(f"{name} is required")
        return None
    if f.kind == "bool":
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise problems.invalid_param(f"{name} must be true or false, not {raw!r}")
    if f.kind == "enum":
        chosen = [v for v in raw.split(",") if v]
        for v in chosen:
            if v not in f.values:
                raise problems.invalid_param(
                    f"{name} must be among {', '.join(f.values)}, not {v!r}"
                )
        return chosen
    return raw


def like(q: str) -> str:
    """An ILIKE pattern matching ``q`` anywhere, with its wildcards taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def listed(listing: Listing) -> Callable[[F], F]:
    """Mark a list handler (or the query a GET wrapper runs) with its ``Listing``; the
    convention test walks the route table and finds it (``inspect.unwrap`` first)."""

    def mark(fn: F) -> F:
        fn.listing = listing  # type: ignore[attr-defined]
        return fn

    return mark


def listing_of(handler: object) -> Listing | None:
    while handler is not None:
        found = getattr(handler, "listing", None)
        if isinstance(found, Listing):
            return found
        handler = getattr(handler, "__wrapped__", None)
    return None


# -- lists held in memory -------------------------------------------------------------


def _norm(value: Any, kind: str) -> list[Any]:
    """A sortable, JSON-stable form of one value: ``[is_null, value]``."""
    kind = kind.rstrip("?")
    if value is None:
        return [1, ""]
    if isinstance(value, datetime):
        return [0, value.timestamp()]
    if kind == "inet" and isinstance(value, str):
        try:
            return [0, int(ipaddress.ip_address(value))]
        except ValueError:
            return [0, -1]
    if kind == "timestamptz" and isinstance(value, str):
        return [0, datetime.fromisoformat(value).timestamp()]
    return [0, value]


def page_rows(rows: Sequence[Row], asked: Asked) -> Row:
    """One page of ``rows`` (already filtered) in ``asked``'s order, as a SQL page is."""
    cols = asked.sort.columns

    def key(row: Row) -> list[list[Any]]:
        return [_norm(row.get(c), t) for c, t in cols]

    ordered = sorted(rows, key=key, reverse=asked.sort.desc)
    if asked.cursor:
        after = decode_cursor(asked.sort, asked.cursor)
        desc = asked.sort.desc
        try:
            ordered = [r for r in ordered if (key(r) < after if desc else key(r) > after)]
        except TypeError:
            raise problems.invalid_param("cursor: cursor is not valid") from None
    page = ordered[: asked.limit]
    more = len(ordered) > asked.limit
    return {
        "items": list(page),
        "next_cursor": encode_cursor(asked.sort, key(page[-1])) if more else None,
        "total": len(rows),
    }
