"""The command handler: load → decide → append, retried on conflict.

Every write in the controlplane goes through ``execute``: take the aggregate's state and
version from the repository, run the pure ``decide``, append the events with the version
as the expected last subject sequence, and on a conflict reload that one aggregate and
decide again, a bounded number of times. Before appending, each envelope gets the state
fields it changes (``controlplane.history``) and its link in the aggregate's hash chain
(``events.chain``, after the repository's last hash, which the same expected-version check
keeps exact).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from controlplane import history, telemetry
from controlplane.repository import Repository
from events import chain, tracing
from events.base import Event, Meta
from events.codec import Envelope, wrap
from events.errors import ConcurrencyError
from events.store import EventStore

log = logging.getLogger(__name__)


class TooMuchContention(Exception):
    """The aggregate kept changing under us; the caller may answer 409."""


@dataclass(frozen=True)
class Outcome:
    seq: int
    envelopes: Sequence[Envelope]
    state: Any

    @property
    def changed(self) -> bool:
        return bool(self.envelopes)


class Handler:
    def __init__(self, repo: Repository, store: EventStore, retries: int = 5) -> None:
        self.repo = repo
        self.store = store
        self.retries = retries

    async def execute(
        self,
        kind: str,
        aggregate_id: str,
        decide: Callable[[Any], list[Event]],
        meta: Meta,
    ) -> Outcome:
        """Decide against the current state and append; domain errors propagate."""
        with tracing.span(f"command {kind}", aggregate_id=aggregate_id):
            return await self._execute(kind, aggregate_id, decide, meta)

    async def _execute(
        self,
        kind: str,
        aggregate_id: str,
        decide: Callable[[Any], list[Event]],
        meta: Meta,
    ) -> Outcome:
        for attempt in range(self.retries + 1):
            state, version = self.repo.get(kind, aggregate_id)
            events = decide(state)
            if not events:
                return Outcome(seq=version, envelopes=(), state=state)
            envelopes = history.annotate(kind, state, wrap(kind, aggregate_id, events, meta))
            envelopes = chain.seal(envelopes, self.repo.last_hash(kind, aggregate_id))
            try:
                result = await self.store.append(kind, aggregate_id, envelopes, version)
            except ConcurrencyError:
                telemetry.CONFLICTS.labels(kind).inc()
                log.debug("conflict on %s %s (attempt %d)", kind, aggregate_id, attempt + 1)
                await self.repo.reload(kind, aggregate_id)
                continue
            self.repo.apply(kind, aggregate_id, envelopes, result.seq)
            telemetry.COMMANDS.labels(kind).inc()
            return Outcome(
                seq=result.seq, envelopes=envelopes, state=self.repo.get(kind, aggregate_id)[0]
            )
        telemetry.CONTENTION.labels(kind).inc()
        raise TooMuchContention(f"{kind} {aggregate_id} changed {self.retries + 1} times in a row")
