"""HA failover capacity in placement: what ordinary placement may still put into a cluster.

A cluster with HA on keeps ``failover_capacity_percent`` of its connected hosts' capacity
free; hosts outside it, and HA restarts (no rooms passed), are not limited by it.
"""

from __future__ import annotations

from controlplane import placement
from controlplane.domain.host import Host, Reservation
from events.host import HostState


def host(
    host_id: str,
    *,
    cluster: str | None = "c1",
    used: dict[str, tuple[int, int]] | None = None,
    state: HostState = "connected",
) -> Host:
    return Host(
        host_id=host_id,
        name=f"sim-{host_id}",
        uri="test:///default",
        cpus=8,
        memory_mib=8192,
        cpu_overcommit=1.0,
        memory_overcommit=1.0,
        state=state,
        reservations={k: Reservation(c, m) for k, (c, m) in (used or {}).items()},
        cluster_id=cluster,
    )


def test_room_is_capacity_less_the_share_less_the_allocation() -> None:
    hosts = [host("a", used={"v1": (2, 2048)}), host("b"), host("x", cluster=None)]
    room = placement.failover_room(hosts, "c1", "prod", 50)
    # two connected hosts: 16 vCPUs, 16384 MiB; half kept free; 2 vCPUs, 2048 MiB used
    assert (room.vcpus, room.memory_mib) == (6, 6144)
    assert room.refusal(6, 6144) is None
    why = room.refusal(1, 6145)
    assert why is not None and "keeps 50%" in why and "6144 MiB may still be placed" in why
    # the VM's own reservation does not count (a move inside the cluster)
    assert placement.failover_room(hosts, "c1", "prod", 50, "v1").memory_mib == 8192


def test_a_down_host_gives_no_capacity_but_its_vms_still_count() -> None:
    hosts = [host("a"), host("b", state="down", used={"v1": (4, 4096)})]
    room = placement.failover_room(hosts, "c1", "prod", 25)
    assert (room.vcpus, room.memory_mib) == (6 - 4, 6144 - 4096)


def test_choose_refuses_hosts_of_a_cluster_without_room_and_says_why() -> None:
    full = host("a", used={"v1": (4, 4096)})
    outside = host("x", cluster=None)
    hosts = [full, outside]
    rooms = {"c1": placement.failover_room(hosts, "c1", "prod", 50)}
    ask = placement.Ask(vm_id="new", vcpus=1, memory_mib=512)
    ranked, decision = placement.choose(hosts, ask, rooms=rooms)
    assert [h.host_id for h in ranked] == ["x"]
    assert decision.rejected_by == {"failover-capacity": 1}
    [refused] = [c for c in decision.candidates if not c.accepted]
    assert refused.host_id == "a" and "HA failover" in refused.reason
    # an HA restart passes no rooms: the failover share is there for it
    ranked, _ = placement.choose(hosts, ask)
    assert {h.host_id for h in ranked} == {"a", "x"}
    assert placement.failover_room(hosts, "c1", "prod", 0).memory_mib == 4096
