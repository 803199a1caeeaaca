"""Metrics samples: what an agent publishes on ``lq.host.<id>.metrics`` (stream LQ_METRICS).

Metrics are not events. They say nothing about what anybody decided, they are far too
many for the event log, and losing one sample loses nothing that matters — so they travel
on their own stream with a max age, and the metrics projector keeps them in PostgreSQL
tables with roll-ups and retention, beside (not inside) the rebuildable read model.

One message per host per interval carries the host and all its running managed VMs.
Rates (CPU %, bytes/s, ops/s) are computed by the agent from counter deltas between two
of its own samples, so the sample is meaningful on its own; a rate is ``None`` when the
agent has no earlier counter to compare with (its first sample, or a VM that just started).
Pure data: importable by any subscriber.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

METRIC_KINDS = ("cpu", "memory", "disk", "net")
"""What a chart asks for (``?metric=``)."""


class PoolSample(msgspec.Struct, frozen=True, kw_only=True):
    """One libvirt storage pool of the host."""

    name: str
    capacity_bytes: int
    allocation_bytes: int
    available_bytes: int


class HostSample(msgspec.Struct, frozen=True, kw_only=True):
    cpus: int
    cpu_pct: float | None = None  # busy share of all host CPUs, 0-100
    mem_total_kib: int
    mem_used_kib: int
    load1: float | None = None  # 1/5/15-minute load averages when the agent can see them
    load5: float | None = None
    load15: float | None = None
    pools: list[PoolSample] = []


class VmSample(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    vcpus: int
    cpu_pct: float | None = None  # share of the VM's own vCPUs, 0-100
    mem_actual_kib: int  # current balloon size (what the guest was given)
    mem_rss_kib: int | None = None  # resident set of the hypervisor process, when reported
    mem_used_kib: int | None = None  # what the guest uses (balloon driver), when reported
    disk_rd_bps: float | None = None
    disk_wr_bps: float | None = None
    disk_rd_iops: float | None = None
    disk_wr_iops: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None
    net_rx_pps: float | None = None
    net_tx_pps: float | None = None


class MetricsSample(msgspec.Struct, frozen=True, kw_only=True, tag="metrics.sample.v1"):
    sample_id: str
    host_id: str
    sampled_at: datetime
    interval_s: float
    host: HostSample
    vms: list[VmSample] = []
    traceparent: str | None = None


METRICS_DECODER = msgspec.json.Decoder(MetricsSample)
