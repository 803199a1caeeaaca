"""Folding domain decisions without a store: the table-test helper of these tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from events.base import Event, Meta
from events.codec import wrap

META = Meta(actor="user:test", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))


def fold(
    kind: str,
    ident: str,
    state: Any,
    events: list[Event],
    evolve: Callable[[Any, Any], Any],
) -> Any:
    for env in wrap(kind, ident, events, META):
        state = evolve(state, env)
    return state


def run(
    kind: str,
    ident: str,
    state: Any,
    command: Any,
    *,
    decide: Callable[[Any, Any], list[Event]],
    evolve: Callable[[Any, Any], Any],
) -> tuple[Any, list[Event]]:
    """Decide ``command`` on ``state`` and fold the events: (new state, events)."""
    events = decide(state, command)
    return fold(kind, ident, state, events, evolve), events
