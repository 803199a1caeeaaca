"""Asyncio helpers every LimiQuantix process needs when it shuts its loops down."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], every_s: float = 0.5) -> None:
    """Cancel ``tasks`` and wait until they ended, cancelling again when one swallowed it.

    Python 3.11's ``asyncio.wait_for`` can lose a cancellation that races with its own
    timeout; NATS fetch loops run into that, so one ``cancel()`` is not always enough.
    """
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every_s)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.debug("task %s ended with %r", task.get_name(), task.exception())
