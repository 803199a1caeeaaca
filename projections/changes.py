"""Live change feed of the read model: LISTEN lq_changes, track the applied sequence, fan out.

The projector's ``NOTIFY lq_changes`` is delivered only when its batch commits, so the
sequence tracked here never runs ahead of what readers can see. One listening connection
per API process serves every ``?min_seq=`` wait and every WebSocket client; a missed
notification (listener reconnecting) is covered by polling the checkpoint while waiting
and by a ``resync`` message to clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import psycopg

from projections import pg, queries, schema
from projections.batch import CHANNEL

log = logging.getLogger(__name__)

Message = dict[str, Any]
QUEUE_SIZE = 256
_POLL_S = 0.5
_RETRY_S = 1.0

_decoder = msgspec.json.Decoder(dict[str, Any])


class Hub:
    """The latest applied sequence, waiters on it and the queues of WebSocket clients."""

    def __init__(self) -> None:
        self.seq = 0
        self.listening = False
        self._advanced = asyncio.Event()
        self._clients: set[asyncio.Queue[Message]] = set()

    def subscribe(self) -> asyncio.Queue[Message]:
        q: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        self._clients.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Message]) -> None:
        self._clients.discard(q)

    def advance(self, seq: int, message: Message | None) -> None:
        """The read model reached ``seq``; ``message`` goes to every client."""
        if seq > self.seq:
            self.seq = seq
            self._advanced.set()
            self._advanced = asyncio.Event()
        if message is None:
            return
        for q in self._clients:
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:  # a slow client: replace its backlog with a resync
                while not q.empty():
                    q.get_nowait()
                q.put_nowait({"type": "resync", "seq": seq})

    async def wait(self, seq: int, timeout: float, poll: Callable[[], Awaitable[int]]) -> bool:
        """Wait until the read model reached ``seq``; False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.seq < seq:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            advanced = self._advanced
            try:
                await asyncio.wait_for(advanced.wait(), min(remaining, _POLL_S))
            except TimeoutError:
                with contextlib.suppress(psycopg.Error):
                    self.advance(await poll(), None)
        return True


def message(payload: str) -> tuple[int, Message] | None:
    """The client message for one ``lq_changes`` payload."""
    try:
        data = _decoder.decode(payload)
        seq = int(data["seq"])
    except (msgspec.DecodeError, KeyError, TypeError, ValueError):
        log.warning("ignoring malformed %s payload: %.200s", CHANNEL, payload)
        return None
    if data.get("overflow"):
        return seq, {"type": "resync", "seq": seq}
    return seq, {"type": "changes", "seq": seq, "changes": data.get("changes", [])}


async def listen(hub: Hub, database_url: str, db_schema: str) -> None:
    """Keep one LISTEN connection and feed ``hub``, reconnecting forever (cancel to stop)."""
    first = True
    while True:
        try:
            async with await pg.connect(database_url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                await schema.use_schema(conn, db_schema)
                try:
                    seq = await queries.checkpoint(conn)
                except psycopg.errors.UndefinedTable:
                    seq = 0
                hub.listening = True
                # after a reconnect, notifications may have been missed: clients resync
                hub.advance(seq, None if first else {"type": "resync", "seq": max(seq, hub.seq)})
                first = False
                async for note in conn.notifies():
                    got = message(note.payload)
                    if got is not None:
                        hub.advance(*got)
        except psycopg.Error as exc:
            log.warning("change listener lost PostgreSQL: %s; retrying", exc)
        finally:
            hub.listening = False
        await asyncio.sleep(_RETRY_S)
