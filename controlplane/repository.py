"""Aggregate states in memory, built by one ordered replay and kept current.

Deciding needs the latest state of one aggregate and its version (the stream sequence of
its last message). Reading the stream per command would be slow, so every controlplane
keeps ``(kind, id) → (state, version)`` for all aggregates: one replay at start, then a
live tail, plus its own successful appends applied at once. A stale entry is harmless: the
append's expected-version check catches it, and ``reload`` fetches just that aggregate.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from controlplane.applied import Applied
from controlplane.domain import address_space as address_space_domain
from controlplane.domain import affinity as affinity_domain
from controlplane.domain import alert as alert_domain
from controlplane.domain import alert_rule as alert_rule_domain
from controlplane.domain import channel as channel_domain
from controlplane.domain import cluster as cluster_domain
from controlplane.domain import drs as drs_domain
from controlplane.domain import fleet_settings as fleet_settings_domain
from controlplane.domain import host as host_domain
from controlplane.domain import join_token as join_token_domain
from controlplane.domain import name_claim as name_claim_domain
from controlplane.domain import network as network_domain
from controlplane.domain import role as role_domain
from controlplane.domain import security_group as security_group_domain
from controlplane.domain import session as session_domain
from controlplane.domain import storage_pool as storage_pool_domain
from controlplane.domain import token as token_domain
from controlplane.domain import user as user_domain
from controlplane.domain import vm as vm_domain
from controlplane.domain import webhook as webhook_domain
from events import task as te
from events.aio import cancel_and_wait
from events.codec import Envelope, StoredEvent
from events.store import EventStore

log = logging.getLogger(__name__)

Fold = Callable[[Any, Envelope], Any]
FOLDS: dict[str, Fold] = {
    "vm": vm_domain.evolve,
    "host": host_domain.evolve,
    "user": user_domain.evolve,
    "role": role_domain.evolve,
    "token": token_domain.evolve,
    "join_token": join_token_domain.evolve,
    "session": session_domain.evolve,
    "alert": alert_domain.evolve,
    "silence": alert_domain.evolve_silence,
    "channel": channel_domain.evolve,
    "alert_rule": alert_rule_domain.evolve,
    "webhook": webhook_domain.evolve,
    "storage_pool": storage_pool_domain.evolve,
    "network": network_domain.evolve,
    "address_space": address_space_domain.evolve,
    "security_group": security_group_domain.evolve,
    "cluster": cluster_domain.evolve,
    "affinity": affinity_domain.evolve,
    "drs": drs_domain.evolve,
    "settings": fleet_settings_domain.evolve,
    **{s.claim_kind: name_claim_domain.evolve for s in name_claim_domain.SCOPES},
}


CHANGES_KEPT = 65_536
"""How many recent state changes ``changed_since`` can report (a periodic scan that asks
less often than this many changes happen falls back to looking at everything)."""


class IdempotentAnswer:
    """What a command with an ``Idempotency-Key`` answered the first time."""

    __slots__ = ("seq", "target_id", "target_kind", "task_id")

    def __init__(self, target_kind: str, target_id: str, task_id: str, seq: int) -> None:
        self.target_kind = target_kind
        self.target_id = target_id
        self.task_id = task_id
        self.seq = seq


class Repository:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._states: dict[tuple[str, str], tuple[Any, int]] = {}
        # Indexes kept beside the states so that scans never walk every aggregate:
        # kind → id → state, and kind → ids whose state has an operation pending.
        self._by_kind: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, set[str]] = {}
        self._vms_by_host: dict[str, dict[str, None]] = {}  # host id → its VMs' ids (vms_on)
        self._hashes: dict[tuple[str, str], str] = {}  # last chained event (events.chain)
        self._idempotency: dict[str, IdempotentAnswer] = {}
        self._tasks: dict[str, tuple[str, str]] = {}  # task id → (kind, aggregate id)
        # (mark, kind, id) of the latest state changes, for scans that only need what
        # changed since their previous pass (``changed_since``)
        self._changes: deque[tuple[int, str, str]] = deque(maxlen=CHANGES_KEPT)
        self._mark = 1  # 0 stays "never asked"
        self._seq = 0
        self._seq_changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.applied = Applied(store)  # what the live tail applied, for in-process readers

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Replay the whole stream, then keep following it in the background.

        The cyclic garbage collector is off during the replay: it decodes millions of
        short-lived objects while the cache grows by hundreds of thousands of long-lived
        ones, and each batch of messages lives long enough to be promoted, so full
        collections kept re-walking the growing cache (43 % of a 1,000,000-event replay's
        CPU). The states hold no reference cycles; one collection runs at the end."""
        target = await self._store.last_seq()
        self._task = asyncio.create_task(self._follow(), name="repository-follow")
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            await self.wait_seq(target)
        finally:
            if was_enabled:
                gc.enable()
        gc.collect()
        log.info("aggregate cache ready at seq %d (%d aggregates)", self._seq, len(self._states))

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _follow(self) -> None:
        while True:
            try:
                async for batch in self._store.follow(from_seq=self._seq + 1):
                    self._apply_stored(batch)
                    async with self._seq_changed:
                        self._seq_changed.notify_all()
                    await self.applied.add(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event stream tail failed; resuming after %d", self._seq)
                await asyncio.sleep(1.0)

    # ------------------------------------------------------------ reading

    @property
    def seq(self) -> int:
        """The highest stream sequence applied."""
        return self._seq

    async def wait_seq(self, seq: int, timeout: float | None = None) -> None:
        """Wait until everything up to ``seq`` is applied."""
        if self._seq >= seq:  # already (the common case for a process manager's batch)
            return
        async with asyncio.timeout(timeout), self._seq_changed:
            await self._seq_changed.wait_for(lambda: self._seq >= seq)

    def get(self, kind: str, aggregate_id: str) -> tuple[Any, int]:
        return self._states.get((kind, aggregate_id), (None, 0))

    def vm(self, vm_id: str) -> vm_domain.Vm | None:
        state: vm_domain.Vm | None = self.get("vm", vm_id)[0]
        return state

    def host(self, host_id: str) -> host_domain.Host | None:
        state: host_domain.Host | None = self.get("host", host_id)[0]
        return state

    def all(self, kind: str) -> Iterable[Any]:
        """Every live state of one kind (a snapshot: safe to iterate across awaits)."""
        return list(self._by_kind.get(kind, {}).values())

    def items(self, kind: str) -> list[tuple[str, Any]]:
        """``(id, state)`` of every state of one kind (a snapshot, like ``all``)."""
        return list(self._by_kind.get(kind, {}).items())

    def pending(self, kind: str) -> Iterable[Any]:
        """States of one kind with an operation in flight (``state.pending`` set)."""
        states = self._by_kind.get(kind, {})
        return [states[i] for i in list(self._pending.get(kind, ())) if i in states]

    def changed_since(self, mark: int) -> tuple[int, set[tuple[str, str]] | None]:
        """``(now, keys)``: a new mark, and the ``(kind, id)`` of every state set after
        ``mark`` (a previous answer's; 0 at first) — or None for the keys when that is
        not known (the first call, or more than ``CHANGES_KEPT`` changes ago): look at
        everything then."""
        changes = self._changes
        if mark <= 0 or (changes and changes[0][0] > mark + 1):
            return self._mark, None
        keys: set[tuple[str, str]] = set()
        for at, kind, aggregate_id in reversed(changes):
            if at <= mark:
                break
            keys.add((kind, aggregate_id))
        return self._mark, keys

    def vms_on(self, host_id: str) -> list[vm_domain.Vm]:
        """The VMs whose ``host_id`` is this host, deleted ones included (a snapshot, in
        the order they came to it): a host's VMs without walking the whole fleet."""
        vms = self._by_kind.get("vm", {})
        return [vms[i] for i in self._vms_by_host.get(host_id, ()) if i in vms]

    def _set(self, kind: str, aggregate_id: str, state: Any, version: int) -> None:
        if kind == "vm":
            before = self._states.get((kind, aggregate_id), (None, 0))[0]
            was_on = getattr(before, "host_id", None)
            now_on = getattr(state, "host_id", None)
            if was_on != now_on:
                if was_on is not None:
                    self._vms_by_host.get(was_on, {}).pop(aggregate_id, None)
                if now_on is not None:
                    self._vms_by_host.setdefault(now_on, {})[aggregate_id] = None
        self._states[(kind, aggregate_id)] = (state, version)
        self._mark += 1
        self._changes.append((self._mark, kind, aggregate_id))
        by_id = self._by_kind.setdefault(kind, {})
        pending = self._pending.setdefault(kind, set())
        if state is None:
            by_id.pop(aggregate_id, None)
        else:
            by_id[aggregate_id] = state
        if getattr(state, "pending", None) is not None:
            pending.add(aggregate_id)
        else:
            pending.discard(aggregate_id)

    def last_hash(self, kind: str, aggregate_id: str) -> str | None:
        """Hash of the aggregate's last chained event: the next append's ``prev_hash``."""
        return self._hashes.get((kind, aggregate_id))

    def idempotent(self, key: str) -> IdempotentAnswer | None:
        return self._idempotency.get(key)

    def task_target(self, task_id: str) -> tuple[str, str] | None:
        """The ``(kind, id)`` of the aggregate a task belongs to (cancelling finds it here)."""
        return self._tasks.get(task_id)

    # ------------------------------------------------------------ writing

    def apply(self, kind: str, aggregate_id: str, envelopes: Iterable[Envelope], seq: int) -> None:
        """Fold one message's envelopes if it is newer than what we hold."""
        key = (kind, aggregate_id)
        state, version = self._states.get(key, (None, 0))
        if seq <= version:
            return
        fold = FOLDS.get(kind)
        for env in envelopes:
            if fold is not None:
                state = fold(state, env)
            if env.hash is not None:
                self._hashes[key] = env.hash
            self._remember(env, seq)
        self._set(kind, aggregate_id, state, seq)

    def _remember(self, env: Envelope, seq: int) -> None:
        """Register the first answer of a command sent with an ``Idempotency-Key``. Reload
        calls this too: a stored append whose answer was lost (a retry with its key
        conflicted on it) answers the retry before the live tail brings it in."""
        e = env.event
        if isinstance(e, te.TaskQueued):
            self._tasks.setdefault(e.task_id, (e.target_kind, e.target_id))
        if isinstance(e, te.TaskQueued) and e.idempotency_key:
            self._idempotency.setdefault(
                e.idempotency_key, IdempotentAnswer(e.target_kind, e.target_id, e.task_id, seq)
            )

    def _apply_stored(self, events: list[StoredEvent]) -> None:
        i = 0
        while i < len(events):
            seq = events[i].seq
            j = i
            while j < len(events) and events[j].seq == seq:
                j += 1
            env0 = events[i].envelope
            self.apply(
                env0.aggregate_kind, env0.aggregate_id, (se.envelope for se in events[i:j]), seq
            )
            self._seq = max(self._seq, seq)
            i = j

    async def reload(self, kind: str, aggregate_id: str) -> None:
        """Fetch one aggregate's whole history and replace what we hold if it is newer."""
        history = await self._store.load(kind, aggregate_id)
        fold = FOLDS.get(kind)
        state: Any = None
        version = 0
        last_hash: str | None = None
        for se in history:
            if fold is not None:
                state = fold(state, se.envelope)
            version = se.seq
            last_hash = se.envelope.hash or last_hash
            self._remember(se.envelope, se.seq)
        if version >= self._states.get((kind, aggregate_id), (None, 0))[1]:
            self._set(kind, aggregate_id, state, version)
            if last_hash is not None:
                self._hashes[(kind, aggregate_id)] = last_hash
