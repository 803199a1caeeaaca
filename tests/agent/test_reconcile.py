"""The sweep reports what changed behind the agent's back, and NIC addresses."""

from __future__ import annotations

from pathlib import Path

from agent import simhost
from agent.hypervisor import Hypervisor
from agent.orders import OrderExecutor
from agent.persist import NodeFileKeeper
from agent.reconcile import Reconciler
from events import orders as o
from events.reports import AnyReport, DomainChanged, NicAddress
from events.vm import DiskSpec, NicSpec
from tests.agent.conftest import done, new_vm_id, order, volumes


async def test_sweep_reports_drift_vanished_domains_and_addresses(
    executor: OrderExecutor, hypervisor: Hypervisor
) -> None:
    sent: list[AnyReport] = []

    async def send(body: AnyReport) -> None:
        sent.append(body)

    vm_id = new_vm_id()
    nic = NicSpec(nic_id="nic0", mac="52:54:00:00:bb:01")
    body = o.DefineVm(vm_id=vm_id, name="r", vcpus=1, memory_mib=64, nics=(nic,), start=True)
    done(await executor.execute(order(body)))
    reconciler = Reconciler(hypervisor, send)
    reconciler.inventory(await hypervisor.list_managed())

    await reconciler.sweep()
    assert len(sent) == 1
    first = sent.pop()
    assert isinstance(first, NicAddress)
    assert (first.vm_id, first.nic_id) == (vm_id, "nic0")
    assert first.ip  # the test driver hands out a fake lease
    assert await reconciler.sweep() == 0  # nothing changed: nothing sent

    await hypervisor.stop(vm_id, force=True)  # "virsh destroy" behind the agent's back
    await reconciler.sweep()
    assert sent == [
        DomainChanged(vm_id=vm_id, state="stopped", reason="observed by sweep: destroyed"),
        NicAddress(vm_id=vm_id, nic_id="nic0", ip=""),
    ]
    sent.clear()

    reconciler.seen(vm_id, "running")  # a lifecycle event said so; the host disagrees
    await reconciler.sweep()
    assert [b.state for b in sent if isinstance(b, DomainChanged)] == ["stopped"]
    sent.clear()

    await hypervisor.undefine(vm_id)  # "virsh undefine"
    await reconciler.sweep()
    assert sent == [
        DomainChanged(vm_id=vm_id, state="deleted", reason="no longer defined on the host")
    ]
    sent.clear()
    await reconciler.sweep()
    assert sent == []


async def test_simulated_host_keeps_snapshots_and_volumes_across_a_restart(
    hypervisor: Hypervisor, executor: OrderExecutor, host_uri: str
) -> None:
    vm_id = new_vm_id()
    body = o.DefineVm(
        vm_id=vm_id,
        name="keep",
        vcpus=1,
        memory_mib=64,
        disks=(DiskSpec(disk_id="disk0", size_gib=1),),
        start=True,
    )
    done(await executor.execute(order(body)))
    for sid in ("a", "b"):
        take = o.CreateSnapshot(vm_id=vm_id, snapshot_id=sid, name=sid)
        done(await executor.execute(order(take)))
    keeper = NodeFileKeeper.for_hypervisor(hypervisor)
    assert keeper is not None
    await keeper.save()
    path = simhost.node_file_of(host_uri)
    assert path is not None
    saved = simhost.saved_domains(path)
    assert [s.current for s in saved[0].snapshots] == [False, True]
    assert [p.xml.count("lq-default") for p in simhost.saved_pools(path)] == [1]

    reborn = await Hypervisor.open(host_uri)  # a new connection reads the node file again
    try:
        assert await reborn.state(vm_id) == "running"
        names = await reborn.run_dom(
            lambda _c, d: (sorted(s.getName() for s in d.listAllSnapshots(0)),
                           d.snapshotCurrent(0).getName()),
            vm_id,
        )  # fmt: skip
        assert names == (["a", "b"], "b")
        assert await volumes(reborn) == [f"{vm_id}-disk0.qcow2"]
    finally:
        await reborn.close()

    # rewriting the node file (lq up on every start) keeps the pool and its volumes
    simhost.write_node(path, cpus=2, memory_mib=1024)
    assert len(simhost.saved_pools(path)) == 1
    assert len(simhost.saved_domains(path)) == 1


def test_node_file_round_trip_of_snapshots(tmp_path: Path) -> None:
    uri = simhost.write_node_file(tmp_path, "h", 1, 512)
    path = simhost.node_file_of(uri)
    assert path is not None
    dom = (
        "<domain type='test'><name>x</name><memory>1024</memory><os><type>hvm</type></os></domain>"
    )
    snap = (
        "<domainsnapshot><name>s</name><state>shutoff</state>"
        "<creationTime>1</creationTime></domainsnapshot>"
    )
    simhost.save_domains(
        path,
        [simhost.SavedDomain(dom, 5, (simhost.SavedSnapshot(snap, current=True),))],
        [
            simhost.SavedPool(
                "<pool type='dir'><name>p</name><target><path>/x</path></target></pool>"
            )
        ],
    )
    (back,) = simhost.saved_domains(path)
    assert back.state == 5
    assert len(back.snapshots) == 1
    assert back.snapshots[0].current
    assert "<name>s</name>" in back.snapshots[0].xml
    assert [p.volumes for p in simhost.saved_pools(path)] == [()]
