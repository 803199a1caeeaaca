"""Pure: raw hypervisor counters and how two readings become a metrics sample.

libvirt reports cumulative counters (CPU time in ns, bytes and requests since the domain
started). A chart wants rates, so the agent keeps its previous reading and turns the
difference over the elapsed time into CPU %, bytes/s and ops/s. Counters that went
backwards (the domain restarted, a device was unplugged) or a domain seen for the first
time give ``None`` rather than a made-up number. No libvirt here: ``agent.hypervisor``
fills these tuples in its worker thread; ``agent.metrics`` publishes what comes out.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import NamedTuple

from events.metrics import HostSample, PoolSample, VmSample


class DomainCounters(NamedTuple):
    vm_id: str
    vcpus: int
    cpu_time_ns: int
    mem_actual_kib: int
    mem_rss_kib: int | None
    mem_used_kib: int | None
    # rd_req, rd_bytes, wr_req, wr_bytes summed over the domain's disks
    disk: tuple[int, int, int, int]
    # rx_bytes, rx_packets, tx_bytes, tx_packets summed over the domain's interfaces
    net: tuple[int, int, int, int]


class HostCounters(NamedTuple):
    at_ns: int  # monotonic clock of the reading
    cpus: int
    mem_total_kib: int
    mem_free_kib: int | None  # None when the driver has no node memory statistics
    cpu_busy_ns: int | None  # None when the driver has no node CPU statistics
    cpu_total_ns: int | None
    load: tuple[float, float, float] | None
    pools: list[PoolSample]
    domains: list[DomainCounters]


def device_targets(domain_xml: str) -> tuple[list[str], list[str]]:
    """The disk and interface target device names of a domain definition."""
    root = ET.fromstring(domain_xml)
    disks = [
        t.get("dev", "")
        for d in root.iterfind("./devices/disk")
        if d.get("device", "disk") == "disk" and (t := d.find("target")) is not None
    ]
    nics = [t.get("dev", "") for t in root.iterfind("./devices/interface/target")]
    return [d for d in disks if d], [n for n in nics if n]


def _rate(new: int, old: int, seconds: float) -> float | None:
    if new < old or seconds <= 0:
        return None
    return (new - old) / seconds


def _rates(
    new: tuple[int, int, int, int], old: tuple[int, int, int, int] | None, seconds: float
) -> list[float | None]:
    if old is None:
        return [None, None, None, None]
    return [_rate(n, o, seconds) for n, o in zip(new, old, strict=True)]


def _pct(value: float | None) -> float | None:
    return None if value is None else round(min(max(value, 0.0), 100.0), 2)


def vm_sample(new: DomainCounters, old: DomainCounters | None, seconds: float) -> VmSample:
    cpu: float | None = None
    if old is not None and seconds > 0 and new.vcpus > 0 and new.cpu_time_ns >= old.cpu_time_ns:
        cpu = (new.cpu_time_ns - old.cpu_time_ns) / (seconds * 1e9 * new.vcpus) * 100
    rd_req, rd_b, wr_req, wr_b = _rates(new.disk, old.disk if old else None, seconds)
    rx_b, rx_p, tx_b, tx_p = _rates(new.net, old.net if old else None, seconds)
    return VmSample(
        vm_id=new.vm_id,
        vcpus=new.vcpus,
        cpu_pct=_pct(cpu),
        mem_actual_kib=new.mem_actual_kib,
        mem_rss_kib=new.mem_rss_kib,
        mem_used_kib=new.mem_used_kib,
        disk_rd_bps=rd_b,
        disk_wr_bps=wr_b,
        disk_rd_iops=rd_req,
        disk_wr_iops=wr_req,
        net_rx_bps=rx_b,
        net_tx_bps=tx_b,
        net_rx_pps=rx_p,
        net_tx_pps=tx_p,
    )


def host_sample(new: HostCounters, old: HostCounters | None) -> tuple[HostSample, list[VmSample]]:
    """The host's and its VMs' samples from two readings (``old`` None: first reading).

    Host CPU % comes from the node's own CPU counters when they advance; a driver without
    them (libvirt's test driver keeps them constant) gets the sum of its guests' CPU time
    over the host's CPUs instead — what the guests really used, never an invented load.
    Host memory in use likewise falls back to the memory given to running guests.
    """
    seconds = (new.at_ns - old.at_ns) / 1e9 if old else 0.0
    before = {d.vm_id: d for d in old.domains} if old else {}
    vms = [vm_sample(d, before.get(d.vm_id), seconds) for d in new.domains]
    cpu: float | None = None
    if old is not None and seconds > 0:
        if (
            new.cpu_total_ns is not None
            and old.cpu_total_ns is not None
            and new.cpu_busy_ns is not None
            and old.cpu_busy_ns is not None
            and new.cpu_total_ns > old.cpu_total_ns
        ):
            cpu = (new.cpu_busy_ns - old.cpu_busy_ns) / (new.cpu_total_ns - old.cpu_total_ns) * 100
        elif new.cpus > 0:
            guest_ns = sum(
                d.cpu_time_ns - before[d.vm_id].cpu_time_ns
                for d in new.domains
                if d.vm_id in before and d.cpu_time_ns >= before[d.vm_id].cpu_time_ns
            )
            cpu = guest_ns / (seconds * 1e9 * new.cpus) * 100
    if new.mem_free_kib is not None:
        used = new.mem_total_kib - new.mem_free_kib
    else:
        used = sum(d.mem_actual_kib for d in new.domains)
    host = HostSample(
        cpus=new.cpus,
        cpu_pct=_pct(cpu),
        mem_total_kib=new.mem_total_kib,
        mem_used_kib=max(0, min(used, new.mem_total_kib)),
        load1=new.load[0] if new.load else None,
        load5=new.load[1] if new.load else None,
        load15=new.load[2] if new.load else None,
        pools=new.pools,
    )
    return host, vms
