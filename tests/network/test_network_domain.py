"""The network aggregate as tables: subnet rules and IPAM (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane import netspec
from controlplane.domain import network as nd
from controlplane.domain.errors import InvalidRequest, InvalidState, UnknownAggregate
from events import network as ne
from tests.network.helpers import run

NID = "net-1"


def _run(state: Any, command: Any) -> tuple[Any, list[Any]]:
    return run(nd.KIND, NID, state, command, decide=nd.decide, evolve=nd.evolve)


def create(**kw: Any) -> nd.Network:
    args: dict[str, Any] = {
        "network_id": NID,
        "name": "lan",
        "network_type": "nat",
        "cidr": "10.1.0.0/24",
    }
    state, _ = _run(None, nd.Create(**(args | kw)))
    assert isinstance(state, nd.Network)
    return state


def test_defaults_gateway_first_address_and_range_the_rest() -> None:
    n = create()
    assert (n.gateway, n.dhcp_start, n.dhcp_end) == ("10.1.0.1", "10.1.0.2", "10.1.0.254")
    assert nd.capacity(n) == 253


@pytest.mark.parametrize(
    ("kw", "slug"),
    [
        ({"cidr": "10.1.0.0/33"}, "invalid-cidr"),
        ({"cidr": "banana"}, "invalid-cidr"),
        ({"cidr": "10.1.0.5/24"}, "invalid-cidr"),  # host bits set
        ({"cidr": "fd00::/64"}, "invalid-cidr"),
        ({"cidr": "10.0.0.0/31"}, "invalid-cidr"),
        ({"gateway": "10.2.0.1"}, "address-outside-subnet"),
        ({"gateway": "10.1.0.0"}, "address-outside-subnet"),
        ({"gateway": "not-an-ip"}, "invalid-address"),
        ({"dhcp_start": "10.1.1.10"}, "address-outside-subnet"),
        ({"dhcp_start": "10.1.0.100", "dhcp_end": "10.1.0.50"}, "invalid-dhcp-range"),
        ({"network_type": "vlan", "vlan_id": 0, "bridge": "br0"}, "invalid-vlan"),
        ({"network_type": "vlan", "vlan_id": 4095, "bridge": "br0"}, "invalid-vlan"),
        ({"vlan_id": 10}, "invalid-vlan"),
        ({"network_type": "bridge"}, "invalid-bridge"),
        ({"bridge": "br0"}, "invalid-bridge"),
        ({"mtu": 100}, "invalid-mtu"),
        ({"dns": ("8.8.8.300",)}, "invalid-address"),
        ({"others": ("10.1.0.128/25",)}, "overlapping-subnet"),
        ({"others": ("10.0.0.0/8",)}, "overlapping-subnet"),
        (
            {"reservations": (ne.Reservation(mac="52:54:00:00:00:01", ip="10.1.0.1"),)},
            "invalid-address",
        ),
        (
            {"reservations": (ne.Reservation(mac="nope", ip="10.1.0.9"),)},
            "invalid-mac",
        ),
    ],
)
def test_bad_settings_are_refused(kw: dict[str, Any], slug: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        create(**kw)
    assert exc.value.slug == slug


def test_vlan_and_bridge_networks() -> None:
    v = create(network_type="vlan", vlan_id=100, bridge="ovsbr0")
    assert (v.vlan_id, v.bridge) == (100, "ovsbr0")
    b = create(network_type="bridge", bridge="br0", others=("10.2.0.0/24",))
    assert b.network_type == "bridge"


def test_allocation_skips_gateway_reservations_and_taken_addresses() -> None:
    n = create(reservations=(ne.Reservation(mac="52:54:00:00:00:99", ip="10.1.0.2"),))
    n, events = _run(n, nd.Allocate(vm_id="vm-a", nic_id="nic0", mac="52:54:00:00:00:01"))
    assert isinstance(events[0], ne.AddressAllocated)
    assert events[0].ip == "10.1.0.3"
    n, events = _run(n, nd.Allocate(vm_id="vm-a", nic_id="nic0", mac="52:54:00:00:00:01"))
    assert events == []  # idempotent
    n, events = _run(n, nd.Allocate(vm_id="vm-b", nic_id="nic0", mac="52:54:00:00:00:99"))
    assert events[0].ip == "10.1.0.2"  # its reservation
    n, events = _run(n, nd.Allocate(vm_id="vm-c", nic_id="nic0", mac="52:54:00:00:00:03"))
    assert events[0].ip == "10.1.0.4"


def test_release_frees_the_address_for_the_next_nic() -> None:
    n = create()
    n, _ = _run(n, nd.Allocate(vm_id="vm-a", nic_id="nic0", mac="52:54:00:00:00:01"))
    n, events = _run(n, nd.Release(vm_id="vm-a", nic_id="nic0"))
    assert isinstance(events[0], ne.AddressReleased)
    assert events[0].ip == "10.1.0.2"
    assert _run(n, nd.Release(vm_id="vm-a", nic_id="nic0"))[1] == []
    n, events = _run(n, nd.Allocate(vm_id="vm-b", nic_id="nic0", mac="52:54:00:00:00:02"))
    assert events[0].ip == "10.1.0.2"


def test_the_254th_allocation_on_a_slash_24_fails_clearly() -> None:
    n = create()
    ips = set()
    for i in range(253):
        n, events = _run(
            n,
            nd.Allocate(
                vm_id=f"vm-{i}", nic_id="nic0", mac=f"52:54:00:00:{i // 256:02x}:{i % 256:02x}"
            ),
        )
        ips.add(events[0].ip)
    assert len(ips) == 253
    assert "10.1.0.1" not in ips
    with pytest.raises(nd.AddressExhausted) as exc:
        _run(n, nd.Allocate(vm_id="vm-last", nic_id="nic0", mac="52:54:00:01:00:00"))
    assert exc.value.slug == "address-exhausted"
    assert "no free address" in str(exc.value)


def test_delete_refused_while_addresses_are_allocated() -> None:
    n = create()
    n, _ = _run(n, nd.Allocate(vm_id="vm-a", nic_id="nic0", mac="52:54:00:00:00:01"))
    with pytest.raises(InvalidState) as exc:
        _run(n, nd.Delete())
    assert exc.value.slug == "network-in-use"
    n, _ = _run(n, nd.Release(vm_id="vm-a", nic_id="nic0"))
    n, events = _run(n, nd.Delete())
    assert isinstance(events[0], ne.NetworkDeleted)
    with pytest.raises(UnknownAggregate):
        _run(n, nd.Allocate(vm_id="vm-a", nic_id="nic0", mac="52:54:00:00:00:01"))


def test_update_records_old_and_new_and_keeps_allocations_inside_the_range() -> None:
    n = create()
    n, events = _run(n, nd.Update(dns=("1.1.1.1",), mtu=9000, dhcp_start="10.1.0.10"))
    (e,) = events
    assert isinstance(e, ne.NetworkUpdated)
    assert (e.old.mtu, e.new.mtu, e.new.dns, e.new.dhcp_start) == (
        0,
        9000,
        ["1.1.1.1"],
        "10.1.0.10",
    )
    assert _run(n, nd.Update(mtu=9000))[1] == []
    n, _ = _run(n, nd.Allocate(vm_id="vm-a", nic_id="nic0", mac="52:54:00:00:00:01"))
    with pytest.raises(InvalidState):
        _run(n, nd.Update(dhcp_start="10.1.0.100"))


def test_reservations_added_and_removed() -> None:
    n = create()
    r = nd.AddReservation(mac="52:54:00:00:00:07", ip="10.1.0.50", name="db")
    n, events = _run(n, r)
    assert isinstance(events[0], ne.ReservationAdded)
    assert _run(n, r)[1] == []
    with pytest.raises(InvalidState):
        _run(n, nd.AddReservation(mac="52:54:00:00:00:08", ip="10.1.0.50"))
    with pytest.raises(InvalidRequest):
        _run(n, nd.AddReservation(mac="52:54:00:00:00:08", ip="10.9.0.50"))
    n, events = _run(n, nd.RemoveReservation(mac="52:54:00:00:00:07"))
    assert isinstance(events[0], ne.ReservationRemoved)
    assert n.reservations == {}


def test_host_state_observed_once_per_change() -> None:
    n = create()
    n, events = _run(n, nd.ObserveState(host_id="h1", state="active"))
    assert len(events) == 1
    assert _run(n, nd.ObserveState(host_id="h1", state="active"))[1] == []
    n, events = _run(n, nd.ObserveState(host_id="h1", state="error", detail="no bridge"))
    assert n.hosts == {"h1": "error"}


def test_a_vm_with_two_nics_on_a_network_has_one_named_dhcp_entry() -> None:
    """libvirt refuses two DHCP host entries with one name (a VM has one hostname)."""
    n = create()
    for nic, mac in (("nic1", "52:54:00:00:00:02"), ("nic0", "52:54:00:00:00:01")):
        n, _ = _run(n, nd.Allocate(vm_id="vm-aaaa", nic_id=nic, mac=mac))
    n, _ = _run(n, nd.Allocate(vm_id="vm-bbbb", nic_id="nic0", mac="52:54:00:00:00:03"))
    hosts = [(h.ip, h.name) for h in netspec.network_spec(n).hosts]
    assert hosts == [("10.1.0.2", "vm-aaaa"), ("10.1.0.3", ""), ("10.1.0.4", "vm-bbbb")]
