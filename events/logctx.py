"""Log context: ids (correlation, VM, host, task) bound to the work at hand.

Every LimiQuantix log line should say which request, VM and host it is about, without
threading those ids through every call. A ``contextvars`` dict does that across ``await``s
and tasks: the HTTP middleware binds the correlation id of a request, the agent binds the
order's VM, host and task while it executes it, and the JSON log formatter (``lq.logs``)
adds whatever is bound to each line. Pure: no logging handlers here, importable anywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

KEYS = ("correlation_id", "vm_id", "host_id", "task_id", "trace_id")

_bound: ContextVar[dict[str, str]] = ContextVar("lq_log_context", default={})  # noqa: B039


def current() -> dict[str, str]:
    """The ids bound in this context (a copy; empty when none)."""
    return dict(_bound.get())


@contextlib.contextmanager
def bind(**ids: str | None) -> Iterator[None]:
    """Bind ``ids`` (``None`` values are ignored) for the duration of the ``with`` block."""
    values = {**_bound.get(), **{k: v for k, v in ids.items() if v}}
    token = _bound.set(values)
    try:
        yield
    finally:
        _bound.reset(token)
