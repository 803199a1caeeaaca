"""Each host's current load, from the metrics samples agents publish: what placement
weighs and what DRS balances when the samples are fresh.

Every controlplane replica keeps its own view (placement runs on every replica, not only
on the leader): a plain subscription to ``lq.host.*.metrics`` keeps the latest CPU and
memory use of each host and when it arrived. Nothing is stored — a restarted replica
knows every host's load again one sampling interval later. A sample older than
``load_max_age_s`` (counted from its arrival on this replica, so agents' clocks do not
matter) is not a load any more: the host is weighed by its allocation instead.

Listeners (the placement index, ``controlplane.scheduler.Placer``) hear about each host
whose figure changed: a new sample, or one that went stale (``expire``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from controlplane.host_index import Figure
from events import subjects
from events.bus import Bus
from events.metrics import METRICS_DECODER, MetricsSample

log = logging.getLogger(__name__)

Listener = Callable[[str], None]


def figure_of(sample: MetricsSample, received: float) -> Figure | None:
    """The load figure of one sample (None when it says nothing about memory)."""
    host = sample.host
    if host.mem_total_kib <= 0:
        return None
    mem = 100.0 * host.mem_used_kib / host.mem_total_kib
    return Figure(cpu_pct=host.cpu_pct, mem_pct=max(0.0, min(mem, 100.0)), received=received)


class LoadView:
    """The latest fresh load figure of every host that sends metrics."""

    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self.clock = clock
        self._latest: dict[str, Figure] = {}
        self._arrivals: deque[tuple[float, str]] = deque()
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def feed(self, sample: MetricsSample) -> None:
        fig = figure_of(sample, self.clock())
        if fig is None:
            return
        self._latest[sample.host_id] = fig
        self._arrivals.append((fig.received, sample.host_id))
        for listener in self._listeners:
            listener(sample.host_id)

    def expire(self) -> None:
        """Forget figures older than ``max_age_s`` and tell the listeners."""
        horizon = self.clock() - self.max_age_s
        while self._arrivals and self._arrivals[0][0] < horizon:
            received, host_id = self._arrivals.popleft()
            fig = self._latest.get(host_id)
            if fig is not None and fig.received == received:
                del self._latest[host_id]
                for listener in self._listeners:
                    listener(host_id)

    def fresh(self) -> dict[str, Figure]:
        """Host id → figure, for every host with a fresh sample."""
        self.expire()
        return self._latest

    def get(self, host_id: str) -> Figure | None:
        self.expire()
        return self._latest.get(host_id)

    async def _on_metrics(self, data: bytes) -> None:
        try:
            self.feed(METRICS_DECODER.decode(data))
        except ValueError as exc:  # msgspec.DecodeError/ValidationError are ValueErrors
            log.warning("unreadable metrics sample ignored: %s", exc)

    async def run(self, bus: Bus) -> None:
        """Follow every host's metrics until cancelled."""
        sub = await bus.subscribe(subjects.METRICS_ALL, self._on_metrics)
        try:
            await asyncio.Event().wait()
        finally:
            await sub.unsubscribe()
