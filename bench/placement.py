"""Placement decisions per second with 1,000 and 10,000 hosts.

Builds a fleet of host aggregates in memory (each with 20 VMs' reservations, labels on a
tenth of them, one in fifty in maintenance), then times ``placement.choose`` — every
filter, the weigher and the recorded decision — for VMs of random sizes, with and
without affinity rules (an anti-affinity group of 10 VMs and a VM-host rule). Prints
decisions/s and the mean time per decision for each fleet size.

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


def run(n_hosts: int, decisions: int, with_rules: bool) -> tuple[float, float]:
    rnd = random.Random(n_hosts)
    hosts = fleet(n_hosts, rnd)
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
    t0 = time.perf_counter()
    for i in range(decisions):
        ask = placement.Ask(
            vm_id=group[0] if with_rules else f"new-{i}",
            vcpus=rnd.choice((1, 2, 4, 8)),
            memory_mib=rnd.choice((512, 2048, 8192)),
        )
        ranked, decision = placement.choose(hosts, ask, rules=rules, where=where)
        assert ranked and decision.considered == n_hosts
    elapsed = time.perf_counter() - t0
    return decisions / elapsed, elapsed / decisions * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("-n", type=int, default=200, help="decisions per run")
    args = parser.parse_args()
    for n in args.hosts:
        for rules in (False, True):
            per_s, ms = run(n, max(10, args.n * 1000 // n), rules)
            label = "with affinity rules" if rules else "no rules"
            print(f"{n:>6} hosts, {label:<20}: {per_s:8.1f} decisions/s ({ms:6.2f} ms each)")


if __name__ == "__main__":
    main()
