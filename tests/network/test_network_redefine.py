"""A network whose settings change is redefined under its own UUID (libvirt's test
driver): libvirt refuses a definition with the same name and another UUID."""

from __future__ import annotations

import libvirt
import msgspec

from agent import hv_network
from events import netsync as ns
from events.network import Reservation


def test_a_changed_range_redefines_the_network_in_place() -> None:
    conn = libvirt.open("test:///default")
    try:
        spec = ns.NetworkSpec(
            network_id="lq-redefine",
            name="redefine",
            network_type="nat",
            cidr="10.77.0.0/24",
            gateway="10.77.0.1",
            dhcp_start="10.77.0.2",
            dhcp_end="10.77.0.254",
            hosts=[Reservation(mac="52:54:00:77:00:01", ip="10.77.0.2", name="a")],
        )
        assert hv_network.ensure_network(conn, spec) == ("active", "")
        uuid = conn.networkLookupByName("lq-redefine").UUIDString()
        narrower = msgspec.structs.replace(spec, dhcp_end="10.77.0.20")
        assert hv_network.ensure_network(conn, narrower) == ("active", hv_network.RESTART_NOTE)
        net = conn.networkLookupByName("lq-redefine")
        assert net.UUIDString() == uuid and net.isActive()
    finally:
        conn.close()
