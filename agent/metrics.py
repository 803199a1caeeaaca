"""The agent's metrics loop: read counters through libvirt, publish a sample, repeat.

Every ``metrics_interval_s`` the agent takes one reading of the host and its running
managed domains (one call in the hypervisor's worker thread), turns it and the previous
reading into rates (``agent.stats``) and publishes one ``MetricsSample`` on
``lq.host.<id>.metrics``. Metrics are lossy by design: a sample that cannot be published
(NATS down) is dropped with a warning, never queued up — the next one describes the
present better than a backlog would. The loop keeps its cadence by sleeping the rest of
the interval, not the whole interval, after each sample.
"""

from __future__ import annotations

import asyncio
import logging
import time

from agent import stats, telemetry
from agent.errors import AgentError
from agent.hypervisor import Hypervisor
from events.base import new_id, utcnow
from events.bus import Bus
from events.errors import LqError
from events.metrics import MetricsSample

log = logging.getLogger(__name__)


async def take_sample(
    hv: Hypervisor, host_id: str, previous: stats.HostCounters | None, interval_s: float
) -> tuple[MetricsSample, stats.HostCounters]:
    """One sample (rates against ``previous``) and the reading to compare the next with."""
    reading = await hv.counters()
    host, vms = stats.host_sample(reading, previous)
    sample = MetricsSample(
        sample_id=new_id(),
        host_id=host_id,
        sampled_at=utcnow(),
        interval_s=interval_s,
        host=host,
        vms=vms,
    )
    return sample, reading


async def metrics_loop(bus: Bus, hv: Hypervisor, host_id: str, interval_s: float) -> None:
    """Sample and publish every ``interval_s`` seconds until cancelled (0 disables it;
    the loop then just waits, since the agent treats a loop that ends as a failure)."""
    if interval_s <= 0:
        log.info("host_id=%s metrics sampling disabled", host_id)
        await asyncio.Event().wait()
    previous: stats.HostCounters | None = None
    dropped = 0
    while True:
        started = time.monotonic()
        try:
            with telemetry.SAMPLE_SECONDS.time():
                sample, previous = await take_sample(hv, host_id, previous, interval_s)
        except AgentError as exc:
            telemetry.SAMPLES.labels("unreadable").inc()
            log.warning("host_id=%s cannot read hypervisor counters: %s", host_id, exc)
            previous = None  # rates across a gap would be averages over it: start afresh
        else:
            try:
                await bus.publish_metrics(host_id, sample)
                telemetry.SAMPLES.labels("published").inc()
                if dropped:
                    log.info("host_id=%s publishing metrics again (%d dropped)", host_id, dropped)
                    dropped = 0
            except LqError as exc:
                telemetry.SAMPLES.labels("dropped").inc()
                if not dropped:
                    log.warning("host_id=%s metrics sample dropped: %s", host_id, exc)
                dropped += 1
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
