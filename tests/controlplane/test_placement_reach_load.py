"""Placement's reachability filter, its measured-load weigher, the host index it walks,
and DRS's choice between measured load and allocations (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from controlplane import placement
from controlplane.domain import affinity as ad
from controlplane.domain import host as hd
from controlplane.domain import storage_pool as sd
from controlplane.domain import vm as vd
from controlplane.drs import NO_CLUSTER, Drs, Policy
from controlplane.host_index import Figure, HostIndex
from controlplane.load import LoadView
from events import settings as settings_mod
from events import storage as se
from events import vm as ve
from events.metrics import HostSample, MetricsSample
from tests.controlplane.inventory import Inventory


def mk(
    host_id: str,
    vcpus: int = 0,
    mem: int = 0,
    state: str = "connected",
    *,
    size: int = 1,
    cluster: str | None = None,
) -> hd.Host:
    res = {f"{host_id}-x": hd.Reservation(vcpus, mem)} if vcpus or mem else {}
    h = hd.Host(
        host_id=host_id,
        name=host_id,
        uri="test:///",
        cpus=8 * size,
        memory_mib=8192 * size,
        cpu_overcommit=4.0,
        memory_overcommit=1.0,
        reservations=res,
    )
    return msgspec.structs.replace(h, state=state, cluster_id=cluster)


def test_hosts_that_cannot_reach_the_vms_pools_and_networks_are_refused_with_the_reason() -> None:
    hosts = [mk("a"), mk("b"), mk("c"), mk("d")]
    ask = placement.Ask(
        vm_id="v",
        vcpus=1,
        memory_mib=512,
        pools={"p1": {"b": "active", "c": "pending", "d": "active"}},
        networks={"n2": {"a": "active", "b": "error"}},  # d has not reported n2 yet
    )
    ranked, d = placement.choose(hosts, ask)
    assert [h.host_id for h in ranked] == ["d"]
    assert d.rejected_by == {"pool": 2, "network": 1}
    reasons = {c.host_id: c.reason for c in d.candidates if not c.accepted}
    assert reasons == {
        "a": "pool p1 not attached to host a",
        "b": "network n2 not on host b (error)",
        "c": "pool p1 is pending on host c",
    }
    gone = placement.Ask(vm_id="v", vcpus=1, memory_mib=512, networks={"n9": None})
    ranked, d = placement.choose(hosts, gone)
    assert not ranked and d.rejected_by == {"network": 4}
    assert "network n9 does not exist" in placement.explain(d)


def test_measured_load_outweighs_a_small_allocation_gap_and_is_recorded() -> None:
    a, b = mk("a"), mk("b", vcpus=2, mem=512)  # by allocation a is the emptier one
    figures = {
        "a": Figure(cpu_pct=90.0, mem_pct=80.0, received=100.0),
        "b": Figure(cpu_pct=10.0, mem_pct=20.0, received=95.0),
    }
    ask = placement.Ask(vm_id="v", vcpus=1, memory_mib=512)
    ranked, d = placement.choose([a, b], ask, load=figures, load_weight=0.5, now=101.0)
    assert [h.host_id for h in ranked] == ["b", "a"]
    shown = {c.host_id: c for c in d.candidates}
    assert (shown["b"].cpu_pct, shown["b"].mem_pct, shown["b"].load) == (10.0, 20.0, 0.15)
    assert shown["b"].load_age_s == 6.0 and shown["a"].load == 0.85 and d.load_weight == 0.5
    ranked, d = placement.choose([a, b], ask, load=figures, load_weight=0.0)
    assert [h.host_id for h in ranked] == ["a", "b"] and d.candidates[0].load is None
    # a host without a fresh sample is weighed by its allocation
    ranked, d = placement.choose([a, b], ask, load={"a": figures["a"]}, load_weight=0.5, now=101.0)
    assert [h.host_id for h in ranked] == ["b", "a"]
    assert {c.host_id: c.load_age_s for c in d.candidates} == {"a": 1.0, "b": None}


def test_stale_samples_are_dropped_from_the_load_view() -> None:
    clock = [0.0]
    view = LoadView(max_age_s=10.0, clock=lambda: clock[0])
    heard: list[str] = []
    view.listen(heard.append)
    view.feed(sample("h1", cpu=50.0, mem_used=1, mem_total=4))
    clock[0] = 5.0
    view.feed(sample("h2", cpu=None, mem_used=3, mem_total=4))
    assert view.fresh()["h1"].busy == 0.375 and view.fresh()["h2"].busy == 0.75
    clock[0] = 12.0
    assert set(view.fresh()) == {"h2"} and heard == ["h1", "h2", "h1"]


def sample(host_id: str, cpu: float | None, mem_used: int, mem_total: int) -> MetricsSample:
    return MetricsSample(
        sample_id=f"s-{host_id}",
        host_id=host_id,
        sampled_at=datetime(2026, 1, 1, tzinfo=UTC),
        interval_s=5.0,
        host=HostSample(cpus=8, cpu_pct=cpu, mem_total_kib=mem_total, mem_used_kib=mem_used),
    )


fleets = st.lists(
    st.tuples(
        st.integers(0, 40),  # vCPUs reserved (of 32)
        st.integers(0, 9000),  # MiB reserved (of 8192)
        st.sampled_from(["connected", "connected", "connected", "maintenance"]),
        st.one_of(st.none(), st.floats(0, 100)),  # measured busy %, None: no sample
        st.sampled_from([1, 1, 2, 4]),  # size: capacity 8 CPUs / 8 GiB x size
        st.sampled_from([None, "c1", "c2"]),  # cluster
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    fleet=fleets,
    vcpus=st.integers(1, 8),
    mem=st.sampled_from([256, 1024, 4096, 8192]),
    strategy=st.sampled_from(["spread", "pack"]),
    weight=st.sampled_from([0.0, 0.5, 2.0]),
    shortlist=st.integers(1, 4),
    soft=st.booleans(),
    hard=st.booleans(),
    cluster=st.sampled_from([None, "c1"]),
)
def test_the_index_finds_the_best_hosts_a_full_ranking_finds(
    fleet: list[Any],
    vcpus: int,
    mem: int,
    *,
    strategy: str,
    weight: float,
    shortlist: int,
    soft: bool,
    hard: bool,
    cluster: str | None,
) -> None:
    hosts = [
        mk(f"h{i:02d}", c, m, s, size=z, cluster=k) for i, (c, m, s, _, z, k) in enumerate(fleet)
    ]
    figures = {
        f"h{i:02d}": Figure(cpu_pct=b, mem_pct=b, received=0.0)
        for i, (_, _, _, b, _, _) in enumerate(fleet)
        if b is not None
    }
    rules = []
    if soft:
        rules.append(
            ad.Rule(rule_id="s", name="s", rule_type="vm_affinity", enforcement="should",
                    vm_ids=("v", "w"))
        )  # fmt: skip
    if hard:  # v may only run on the first half of the hosts
        rules.append(
            ad.Rule(rule_id="h", name="h", rule_type="vm_host",
                    vm_ids=("v",), host_ids=tuple(h.host_id for h in hosts[::2]))
        )  # fmt: skip
    where: dict[str, str | None] = {"w": hosts[-1].host_id}
    ask = placement.Ask(vm_id="v", vcpus=vcpus, memory_mib=mem, cluster_id=cluster)
    index = HostIndex(strategy, weight)

    def check(now: list[hd.Host]) -> None:
        index.sync(now, figures)
        same_as_full(now, index, ask, rules=rules, where=where, figures=figures,
                     strategy=strategy, weight=weight, shortlist=shortlist)  # fmt: skip

    check(hosts)
    # hosts change (a third move between clusters and take a VM), the last one leaves
    changed = [
        msgspec.structs.replace(
            h,
            cluster_id=None if h.cluster_id else "c1",
            reservations={**h.reservations, "new": hd.Reservation(1, 256)},
        )
        if i % 3 == 0
        else h
        for i, h in enumerate(hosts[:-1])
    ]
    if changed:
        check(changed)


def same_as_full(
    hosts: list[hd.Host],
    index: HostIndex,
    ask: placement.Ask,
    *,
    rules: list[ad.Rule],
    where: dict[str, str | None],
    figures: dict[str, Figure],
    strategy: str,
    weight: float,
    shortlist: int,
) -> None:
    full, full_d = placement.choose(
        hosts, ask, rules=rules, where=where, strategy=strategy, load=figures, load_weight=weight
    )
    lazy, d = placement.choose(index, ask, rules=rules, where=where, shortlist=shortlist)
    assert d.considered + d.skipped == len(hosts)
    assert len(lazy) >= min(shortlist, len(full))
    assert {h.host_id for h in lazy} <= {h.host_id for h in full}
    if full:  # the best score is found (ties may pick another host of equal score)
        scores = {c.host_id: c.score for c in d.candidates if c.accepted}
        best = max(c.score for c in full_d.candidates if c.accepted)
        assert abs(scores[lazy[0].host_id] - best) < 1e-3


def test_drs_balances_measured_load_when_every_host_has_a_fresh_sample() -> None:
    # by allocation "a" is the hot host; measured, "b" is (something else runs there)
    vms = {
        f"v{i}": vd.Vm(vm_id=f"v{i}", name=f"v{i}", vcpus=4, memory_mib=1024, state="running",
                       host_id=h)
        for i, h in enumerate(["a", "a", "a", "a", "b"])
    }  # fmt: skip
    local = ve.DiskSpec(disk_id="disk0", size_gib=1, pool_id="local-b")
    vms["v4"] = msgspec.structs.replace(vms["v4"], disks=(local,))  # its pool is on b only
    vms["v5"] = vd.Vm(vm_id="v5", name="v5", vcpus=1, memory_mib=256, state="running",
                      host_id="b")  # fmt: skip
    res: dict[str, dict[str, hd.Reservation]] = {"a": {}, "b": {}}
    for v in vms.values():
        res[v.host_id or ""][v.vm_id] = hd.Reservation(v.vcpus, v.memory_mib)
    hosts = {h: msgspec.structs.replace(mk(h), reservations=r) for h, r in res.items()}
    pool = sd.Pool(
        pool_id="local-b",
        name="local-b",
        pool_type="dir",
        params=se.PoolParams(path="/x"),
        hosts={"b": sd.HostState(state="active")},
    )
    inv = Inventory({"host": hosts, "vm": vms, "storage_pool": {"local-b": pool}})
    clock = [0.0]
    view = LoadView(max_age_s=10.0, clock=lambda: clock[0])
    conf = settings_mod.load({}, env={})
    drs = Drs(SimpleNamespace(repo=inv), conf, view)  # type: ignore[arg-type]
    policy = Policy(conf, None)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    moves = drs.plan(NO_CLUSTER, policy, now)
    assert drs.basis[NO_CLUSTER] == "allocation" and moves
    assert {m.from_host_id for m in moves} == {"a"}
    view.feed(sample("a", cpu=5.0, mem_used=10, mem_total=100))
    moves = drs.plan(NO_CLUSTER, policy, now)
    assert drs.basis[NO_CLUSTER] == "allocation"  # b has no sample: allocations decide
    view.feed(sample("b", cpu=95.0, mem_used=90, mem_total=100))
    moves = drs.plan(NO_CLUSTER, policy, now)
    assert drs.basis[NO_CLUSTER] == "metrics"
    # b is the hot one now; v4 cannot leave it (its pool is on b only), v5 can
    assert [(m.vm_id, m.from_host_id, m.to_host_id) for m in moves] == [("v5", "b", "a")]
    clock[0] = 11.0  # the samples went stale
    drs.plan(NO_CLUSTER, policy, now)
    assert drs.basis[NO_CLUSTER] == "allocation"
