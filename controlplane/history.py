"""Before/after values on every event: the aggregate-state fields each event changed.

Why here and not in each ``decide``: the handler already holds the state it decided on and
the same ``evolve`` the repository folds with, so folding the decision's events one by one
and comparing the states yields an exact, uniform diff for every aggregate kind without
touching the domain modules. Each envelope then carries ``changes = {field: [old, new]}``
(a creation has ``old`` null; dict fields are compared key by key as ``field.key``), so
the audit log reads as a diff without replay. Bookkeeping fields that are not
configuration (``idempotency_keys``) are left out. Events that change nothing carry null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from controlplane.repository import FOLDS
from events.codec import Envelope

SKIPPED = frozenset({"idempotency_keys"})


def _fields(state: Any) -> dict[str, Any]:
    if state is None:
        return {}
    out = msgspec.to_builtins(state)
    return out if isinstance(out, dict) else {"value": out}


def diff(old: Any, new: Any) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every top-level field (dict fields per key) that differs."""
    a, b = _fields(old), _fields(new)
    out: dict[str, list[Any]] = {}
    for key in sorted(a.keys() | b.keys()):
        if key in SKIPPED:
            continue
        x, y = a.get(key), b.get(key)
        if x == y:
            continue
        if isinstance(x, dict) and isinstance(y, dict):
            for sub in sorted(x.keys() | y.keys()):
                if x.get(sub) != y.get(sub):
                    out[f"{key}.{sub}"] = [x.get(sub), y.get(sub)]
        else:
            out[key] = [x, y]
    return out


def annotate(kind: str, state: Any, envelopes: Sequence[Envelope]) -> list[Envelope]:
    """The envelopes with ``changes`` set, folding them in order from ``state``."""
    fold = FOLDS.get(kind)
    if fold is None:
        return list(envelopes)
    out: list[Envelope] = []
    for env in envelopes:
        new = fold(state, env)
        changes = diff(state, new)
        out.append(msgspec.structs.replace(env, changes=changes or None))
        state = new
    return out
