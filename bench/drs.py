"""DRS pass time for a 1,000-host cluster with 20,000 VMs.

Builds the aggregates in memory — hosts of 64 CPUs / 256 GiB with uneven load (a tenth of
them carry three times as many VMs), 20,000 running VMs of random sizes, 50 hard
anti-affinity groups of 10 VMs — and times a DRS pass as the leader runs it
(``controlplane.drs.Drs.plan``: choosing the movable VMs, the loads, the hard rules and
the greedy plan) for the default batch of 5 moves and for 50, by allocation and by
measured load (a fresh metrics figure for every host), plus the pure planner alone.
Prints the median of several runs and the imbalance before and after.

    .venv/bin/python bench/drs.py [--hosts 1000] [--vms 20000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # Inventory is in tests/

from controlplane import drs_plan
from controlplane.domain import affinity as ad
from controlplane.domain import host as hd
from controlplane.domain import vm as vd
from controlplane.drs import NO_CLUSTER, Drs, Policy
from controlplane.load import LoadView
from events import settings as settings_mod
from events.metrics import HostSample, MetricsSample
from tests.controlplane.inventory import Inventory


def build(n_hosts: int, n_vms: int, rnd: random.Random) -> Inventory:
    weights = [3 if i % 10 == 0 else 1 for i in range(n_hosts)]
    host_ids = [f"h{i:05d}" for i in range(n_hosts)]
    placed = rnd.choices(host_ids, weights=weights, k=n_vms)
    vms: dict[str, vd.Vm] = {}
    reservations: dict[str, dict[str, hd.Reservation]] = {h: {} for h in host_ids}
    for i, host_id in enumerate(placed):
        vcpus, mem = rnd.choice(((1, 1024), (2, 2048), (2, 4096), (4, 8192)))
        vm_id = f"vm{i:06d}"
        vms[vm_id] = vd.Vm(
            vm_id=vm_id, name=vm_id, vcpus=vcpus, memory_mib=mem, state="running", host_id=host_id
        )
        reservations[host_id][vm_id] = hd.Reservation(vcpus, mem)
    hosts = {
        h: hd.Host(
            host_id=h,
            name=h,
            uri="test:///",
            cpus=64,
            memory_mib=262144,
            cpu_overcommit=4.0,
            memory_overcommit=1.0,
            reservations=reservations[h],
        )
        for h in host_ids
    }
    ids = list(vms)
    rules = {
        f"r{g}": ad.Rule(
            rule_id=f"r{g}",
            name=f"apart-{g}",
            rule_type="vm_anti_affinity",
            vm_ids=tuple(rnd.sample(ids, 10)),
        )
        for g in range(50)
    }
    return Inventory({"host": hosts, "vm": vms, "affinity": rules, "drs": {}, "cluster": {}})


def timed(fn: Any, runs: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(runs):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    inv = build(args.hosts, args.vms, random.Random(7))
    settings = settings_mod.load({}, env={})
    drs = Drs(SimpleNamespace(repo=inv), settings)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    loads = [drs_plan.HostLoad(h.host_id, h.vcpu_capacity, h.memory_capacity_mib,
                               h.allocated_vcpus, h.allocated_memory_mib).load
             for h in inv.all("host")]  # fmt: skip
    print(
        f"DRS pass: {args.hosts} hosts, {args.vms} running VMs, 50 hard anti-affinity groups;"
        f" imbalance (stddev of host load) {drs_plan.imbalance(loads):.4f}"
    )
    view = LoadView(max_age_s=1e9)  # measured: the allocation give or take 20 points
    rnd = random.Random(11)
    for h in inv.all("host"):
        busy = max(0.0, min(100.0, drs_plan.HostLoad(
            h.host_id, h.vcpu_capacity, h.memory_capacity_mib, h.allocated_vcpus,
            h.allocated_memory_mib).load * 100 + rnd.uniform(-20, 20)))  # fmt: skip
        view.feed(MetricsSample(
            sample_id=h.host_id, host_id=h.host_id, sampled_at=now, interval_s=5.0,
            host=HostSample(cpus=64, cpu_pct=busy, mem_total_kib=1000,
                            mem_used_kib=int(busy * 10)),
        ))  # fmt: skip
    measured = Drs(SimpleNamespace(repo=inv), settings, view)  # type: ignore[arg-type]
    for which, runner in (("allocation", drs), ("metrics", measured)):
        for batch in (5, 50):
            policy = Policy(settings, None)
            policy.batch_size = batch
            policy.max_per_host = 2
            took, moves = timed(lambda p=policy, r=runner: r.plan(NO_CLUSTER, p, now), args.runs)
            assert runner.basis[NO_CLUSTER] == which
            before = moves[0].imbalance_before if moves else float("nan")
            after = moves[-1].imbalance_after if moves else float("nan")
            print(
                f"  {which:<10} batch {batch:>3}: {took * 1000:8.1f} ms per pass"
                f" (median of {args.runs}), {len(moves)} moves,"
                f" imbalance {before:.4f} → {after:.4f},"
                f" priorities {sorted({m.priority for m in moves}, reverse=True)}"
            )
    hosts = [
        drs_plan.HostLoad(h.host_id, h.vcpu_capacity, h.memory_capacity_mib,
                          h.allocated_vcpus, h.allocated_memory_mib)
        for h in inv.all("host")
    ]  # fmt: skip
    movable = [drs_plan.VmLoad(v.vm_id, v.host_id or "", v.vcpus, v.memory_mib)
               for v in inv.all("vm")]  # fmt: skip
    took, moves = timed(lambda: drs_plan.plan(hosts, movable, batch_size=50), args.runs)
    print(f"  planner alone, batch 50, no rules: {took * 1000:8.1f} ms")
    _ = msgspec  # the aggregates above are msgspec Structs


if __name__ == "__main__":
    main()
