"""Counters → rates: the pure half of the agent's metrics."""

from __future__ import annotations

from agent import stats

VM = "0191f0c4-0000-7000-8000-00000000000b"


def dom(cpu_ns: int, disk: int = 0, net: int = 0, vm_id: str = VM) -> stats.DomainCounters:
    return stats.DomainCounters(
        vm_id=vm_id, vcpus=2, cpu_time_ns=cpu_ns, mem_actual_kib=1024, mem_rss_kib=None,
        mem_used_kib=None, disk=(disk, disk * 4096, disk, disk * 512),
        net=(net * 1500, net, net * 100, net),
    )  # fmt: skip


def host(at_s: float, domains: list[stats.DomainCounters], busy: int | None = None,
         total: int | None = None, free: int | None = None) -> stats.HostCounters:  # fmt: skip
    return stats.HostCounters(
        at_ns=int(at_s * 1e9), cpus=4, mem_total_kib=8192, mem_free_kib=free,
        cpu_busy_ns=busy, cpu_total_ns=total, load=None, pools=[], domains=domains,
    )  # fmt: skip


def test_first_reading_has_no_rates() -> None:
    h, vms = stats.host_sample(host(0, [dom(10**9)]), None)
    assert h.cpu_pct is None and vms[0].cpu_pct is None and vms[0].disk_rd_bps is None
    assert h.mem_used_kib == 1024  # no node memory statistics: the guests' memory


def test_rates_from_two_readings() -> None:
    old = host(0, [dom(0, disk=0, net=0)])
    new = host(2, [dom(2 * 10**9, disk=10, net=4)])  # one vCPU of two busy for 2 s
    h, [vm] = stats.host_sample(new, old)
    assert vm.cpu_pct == 50.0
    assert (vm.disk_rd_iops, vm.disk_rd_bps, vm.disk_wr_bps) == (5.0, 20480.0, 2560.0)
    assert (vm.net_rx_bps, vm.net_rx_pps, vm.net_tx_bps) == (3000.0, 2.0, 200.0)
    assert h.cpu_pct == 25.0  # node counters constant: guest CPU over the host's 4 CPUs


def test_node_counters_win_when_they_advance() -> None:
    old = host(0, [], busy=0, total=0, free=4096)
    new = host(1, [], busy=3 * 10**9, total=4 * 10**9, free=2048)
    h, _ = stats.host_sample(new, old)
    assert h.cpu_pct == 75.0 and h.mem_used_kib == 6144


def test_counters_going_backwards_give_no_rate() -> None:
    old = host(0, [dom(5 * 10**9, disk=100)])
    new = host(1, [dom(10**9, disk=1)])  # the domain restarted
    _, [vm] = stats.host_sample(new, old)
    assert vm.cpu_pct is None and vm.disk_rd_bps is None


def test_device_targets() -> None:
    xml = """<domain><devices>
      <disk device='disk'><target dev='vda'/></disk><disk device='cdrom'><target dev='hdc'/></disk>
      <interface type='network'><target dev='vnet3'/></interface><interface type='user'/>
    </devices></domain>"""
    assert stats.device_targets(xml) == (["vda"], ["vnet3"])
