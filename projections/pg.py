"""Opening PostgreSQL connections that a cancellation cannot leak.

Background loops (the change listener, the projectors) are cancelled when their process or
app stops, sometimes while a connection is still being opened. Cancelling psycopg's
``connect`` halfway can leave a connection object that nobody closes. ``connect`` here lets
the attempt finish out of reach of the cancellation, closes what it produced, then lets
the cancellation continue.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg

_FINISH_S = 5.0


async def connect(url: str, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
    attempt = asyncio.ensure_future(psycopg.AsyncConnection.connect(url, **kwargs))
    try:
        return await asyncio.shield(attempt)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            conn = await asyncio.wait_for(attempt, _FINISH_S)
            await conn.close()
        raise
