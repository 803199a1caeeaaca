"""Placement decisions per second with 1,000 and 10,000 hosts.

Builds a fleet of host aggregates in memory (each with 20 VMs' reservations, labels on a
tenth of them, one in fifty in maintenance, a fresh metrics figure on half of them), then
times placement decisions for VMs of random sizes, with and without affinity rules (an
anti-affinity group of 10 VMs and a VM-host rule naming half the hosts), two ways:

- ``index``: what the controlplane does (``scheduler.Placer``): the hosts kept in
  placement order (``host_index.HostIndex``); each decision syncs the index with the
  current host states, looks at the best hosts only, and reserves on the first one (the
  next decision sees that host re-keyed);
- ``full``: every host filtered and weighed (``placement.choose`` over a list).

Prints decisions/s, the mean time per decision and the mean number of hosts looked at.

    .venv/bin/python bench/placement.py [--hosts 1000 10000] [-n 200]
"""

from __future__ import annotations

import argparse
import random
import time

import msgspec

from controlplane import placement
from controlplane.domain import affinity as ad
from controlplane.domain import host as hd
from controlplane.host_index import Figure, HostIndex

WEIGHT = 0.5  # the default placement_load_weight


def fleet(n: int, rnd: random.Random) -> list[hd.Host]:
    hosts = []
    for i in range(n):
        res = {
            f"vm-{i}-{j}": hd.Reservation(rnd.choice((1, 2, 4)), rnd.choice((1024, 2048, 4096)))
            for j in range(20)
        }
        h = hd.Host(
            host_id=f"h{i:05d}",
            name=f"host-{i}",
            uri="test:///",
            cpus=64,
            memory_mib=262144,
            cpu_overcommit=4.0,
            memory_overcommit=1.0,
            reservations=res,
            labels={"ssd": "yes"} if i % 10 == 0 else {},
        )
        if i % 50 == 0:
            h = msgspec.structs.replace(h, state="maintenance")
        hosts.append(h)
    return hosts


def run(
    n_hosts: int, decisions: int, with_rules: bool, indexed: bool
) -> tuple[float, float, float]:
    rnd = random.Random(n_hosts)
    hosts = fleet(n_hosts, rnd)
    figures = {
        h.host_id: Figure(cpu_pct=rnd.uniform(0, 90), mem_pct=rnd.uniform(10, 90), received=0.0)
        for h in hosts[::2]
    }
    group = tuple(f"g{i}" for i in range(10))
    rules = (
        [
            ad.Rule(rule_id="a", name="apart", rule_type="vm_anti_affinity", vm_ids=group),
            ad.Rule(
                rule_id="b",
                name="rack",
                rule_type="vm_host",
                vm_ids=group[:5],
                host_ids=tuple(h.host_id for h in hosts[: n_hosts // 2]),
            ),
        ]
        if with_rules
        else []
    )
    where: dict[str, str | None] = {g: hosts[i].host_id for i, g in enumerate(group[1:])}
    index = HostIndex("spread", WEIGHT)
    index.sync(hosts, figures)
    position = {h.host_id: i for i, h in enumerate(hosts)}
    looked = 0
    t0 = time.perf_counter()
    for i in range(decisions):
        ask = placement.Ask(
            vm_id=group[0] if with_rules else f"new-{i}",
            vcpus=rnd.choice((1, 2, 4, 8)),
            memory_mib=rnd.choice((512, 2048, 8192)),
        )
        if indexed:
            index.sync(hosts, figures)
            ranked, decision = placement.choose(index, ask, rules=rules, where=where)
        else:
            ranked, decision = placement.choose(
                hosts, ask, rules=rules, where=where, load=figures, load_weight=WEIGHT
            )
        assert ranked and decision.considered + decision.skipped == n_hosts
        looked += decision.considered
        if not with_rules:  # reserve on the chosen host, as the host aggregate would
            top = ranked[0]
            res = {**top.reservations, ask.vm_id: hd.Reservation(ask.vcpus, ask.memory_mib)}
            hosts[position[top.host_id]] = msgspec.structs.replace(top, reservations=res)
    elapsed = time.perf_counter() - t0
    return decisions / elapsed, elapsed / decisions * 1000, looked / decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("-n", type=int, default=200, help="decisions per run (index mode)")
    args = parser.parse_args()
    for n in args.hosts:
        for indexed in (True, False):
            for rules in (False, True):
                count = args.n if indexed else max(10, args.n * 1000 // n)
                per_s, ms, looked = run(n, count, rules, indexed)
                label = ("index" if indexed else "full") + (", rules" if rules else "")
                print(
                    f"{n:>6} hosts, {label:<12}: {per_s:8.1f} decisions/s "
                    f"({ms:6.2f} ms each, {looked:7.1f} hosts looked at)"
                )


if __name__ == "__main__":
    main()
