"""Sample instances of every event type, built from the types' own field definitions.

Used once to write ``tests/events/golden/<type>.json`` (``LQ_WRITE_GOLDEN=1``) and by the
coverage check that every event type has a golden file. Values are deterministic, so a
regenerated file only differs when a type's shape changed.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime
from typing import Any

import msgspec
import msgspec.inspect as mi

from events.base import Event, event_type
from events.codec import AnyEvent, Envelope
from events.evolution import UnknownEvent

T0 = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)


def event_types() -> list[type[Event]]:
    """Every concrete event class a writer may emit (the reader's placeholder excluded)."""
    return [t for t in typing.get_args(AnyEvent) if t is not UnknownEvent]


def _value(t: mi.Type, name: str) -> Any:
    if isinstance(t, mi.UnionType):
        non_null = [x for x in t.types if not isinstance(x, mi.NoneType)]
        return _value(non_null[0], name)
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    if isinstance(t, mi.StrType):
        return f"{name}-1"
    if isinstance(t, mi.BoolType):
        return True
    if isinstance(t, mi.IntType):
        return 2
    if isinstance(t, mi.FloatType):
        return 1.5
    if isinstance(t, mi.DateTimeType):
        return T0
    if isinstance(t, mi.DictType):
        return {"k": _value(t.value_type, name)}
    if isinstance(t, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        return [_value(t.item_type, name)]
    if isinstance(t, mi.StructType):
        return {f.name: _value(f.type, f.name) for f in t.fields}
    raise TypeError(f"no sample for {t!r} ({name})")


def sample(cls: type[Event]) -> Event:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    data = {f.name: _value(f.type, f.name) for f in info.fields}
    data["type"] = event_type(msgspec.convert({**data, "type": cls.__struct_config__.tag}, cls))
    return msgspec.convert(data, cls)


def envelope(cls: type[Event]) -> Envelope:
    e = sample(cls)
    return Envelope(
        event_id="01940000-0000-7000-8000-000000000001",
        schema_version=cls.SCHEMA_VERSION,
        aggregate_kind=event_type(e).split(".")[0],
        aggregate_id="agg-1",
        occurred_at=T0,
        actor="user:golden",
        correlation_id="task-1",
        causation_id="request-1",
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        event=e,  # type: ignore[arg-type]
    )
