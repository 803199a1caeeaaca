"""Property test: random sequences of create / migrate / maintenance / host loss on the
pure domain and placement never overbook a host, never break a hard affinity rule, never
run a VM on two hosts, and leave every VM on exactly one host or with a failed task."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controlplane.domain import affinity as ad
from tests.controlplane.world import World

HOSTS = ["h1", "h2", "h3", "h4"]
VMS = [f"v{i}" for i in range(8)]

op = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(VMS),
        st.integers(1, 4),
        st.sampled_from([512, 1024, 2048]),
        st.booleans(),
    ),
    st.tuples(st.just("migrate"), st.sampled_from(VMS), st.sampled_from([None, *HOSTS])),
    st.tuples(st.just("enter"), st.sampled_from(HOSTS)),
    st.tuples(st.just("exit"), st.sampled_from(HOSTS)),
    st.tuples(st.just("lose"), st.sampled_from(HOSTS)),
)

RULES = [
    ad.Rule(rule_id="r1", name="apart", rule_type="vm_anti_affinity", vm_ids=("v0", "v1", "v2")),
    ad.Rule(rule_id="r2", name="together", rule_type="vm_affinity", vm_ids=("v3", "v4")),
    ad.Rule(rule_id="r3", name="pinned", rule_type="vm_host", vm_ids=("v5",),
            host_ids=("h1", "h2")),
    ad.Rule(
        rule_id="r4", name="soft", rule_type="vm_anti_affinity", enforcement="should",
        vm_ids=("v6", "v7"),
    ),
]  # fmt: skip


def check(w: World) -> None:
    for h in w.hosts.values():
        assert h.allocated_vcpus <= h.vcpu_capacity, h
        assert h.allocated_memory_mib <= h.memory_capacity_mib, h
    for vm_id, vm in w.vms.items():
        holders = [h for h, vms in w.runs.items() if vm_id in vms]
        assert len(holders) <= 1, (vm_id, holders)  # never on two hypervisors
        if vm.state == "deleted":
            continue
        if vm.host_id is None:
            assert vm.state == "error" and vm.error, vm  # failed placement, with the reason
        else:
            if holders:
                assert holders == [vm.host_id], (vm_id, holders, vm.host_id)
            h = w.hosts[vm.host_id]
            assert vm_id in h.reservations, (vm_id, vm.host_id)
        assert vm.pending is None and vm.migration is None  # every task ended
    hard = [r for r in w.rules.values() if r.hard]
    where = {v.vm_id: v.host_id for v in w.vms.values() if v.state != "deleted"}
    for vm_id, host_id in where.items():
        if host_id is not None:
            assert not ad.violations(hard, vm_id, host_id, where), (vm_id, host_id)
    for t, why in w.failed.items():
        assert why, t


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=40), st.booleans())
def test_random_fleet_histories_keep_the_invariants(
    ops: list[tuple[Any, ...]], with_rules: bool
) -> None:
    w = World()
    for i, h in enumerate(HOSTS):
        w.add_host(h, cpus=4 + 2 * i, memory_mib=2048 + 1024 * i)
    if with_rules:
        for r in RULES:
            w.add_rule(r)
    for o in ops:
        match o:
            case ("create", vm_id, vcpus, mem, start):
                if vm_id not in w.vms:
                    w.create(vm_id, vcpus, mem, start)
            case ("migrate", vm_id, to):
                w.migrate(vm_id, to)
            case ("enter", h):
                w.enter_maintenance(h)
            case ("exit", h):
                w.exit_maintenance(h)
            case ("lose", h):
                if h not in w.dead:
                    w.lose_host(h)
        check(w)
