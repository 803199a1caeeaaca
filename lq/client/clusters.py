"""``lq cluster``, ``lq affinity`` and ``lq drs``: clusters, resource pools, affinity rules
and DRS recommendations (docs/clusters.md).

``lq cluster create prod --drs-mode partial`` then ``lq cluster add-host prod sim-1``;
``lq cluster pool create prod gold --cpu-limit 8`` makes a resource pool;
``lq affinity create apart --type vm_anti_affinity --vm web-1 --vm web-2`` keeps two VMs
on different hosts; ``lq drs list`` shows what DRS proposes and ``lq drs apply ID --wait``
carries one out as a migration. Clusters, pools, rules, VMs and hosts are named by id or
name.
"""

from __future__ import annotations

import json
from typing import Any

import click

from lq.client import render
from lq.client.commands import (
    V1,
    api,
    call,
    finish,
    list_options,
    more,
    output_option,
    resolve_vm,
    wait_options,
)
from lq.client.fleet import resolve_host
from lq.client.http import Api

RULE_TYPES = ["vm_affinity", "vm_anti_affinity", "vm_host", "vm_host_anti"]
DRS_MODES = ["manual", "partial", "full"]


def _find(a: Api, path: str, ref: str, what: str) -> dict[str, Any]:
    items = call(lambda: a.get(f"{V1}/{path}"))["items"]
    found = [i for i in items if i["id"] == ref] or [i for i in items if i["name"] == ref]
    if not found:
        raise click.ClickException(f"no {what} {ref!r}")
    if len(found) > 1:
        raise click.ClickException(f"{len(found)} {what}s are named {ref!r}: use an id")
    return dict(found[0])


def _settle(a: Api, path: str, answer: dict[str, Any], output: str, text: str) -> None:
    """Wait until the read model has the change (the next command finds it by name)."""
    call(lambda: a.get(f"{V1}/{path}", min_seq=answer["seq"]))
    render.dump(answer) if output == "json" else click.echo(text)


# -- clusters -------------------------------------------------------------------------


@click.group("cluster")
def cluster() -> None:
    """Clusters of hosts: HA and DRS settings, resource pools."""


@cluster.command("list")
@list_options()
@output_option
def cluster_list(paging: dict[str, Any], output: str) -> None:
    """Clusters with their hosts, VMs, capacity and allocation."""
    page = call(lambda: api().get(f"{V1}/clusters", **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "HOSTS", "VMS", "VCPUS", "MEMORY", "HA", "DRS", "ID"],
        [
            [c["name"], f"{c['hosts_connected']}/{c['host_count']}", str(c["vm_count"]),
             f"{c['allocated_vcpus']}/{c['cpus']}",
             f"{c['allocated_memory_mib']}/{c['memory_mib']} MiB",
             "on" if c["ha"].get("enabled") else "off", c["drs"].get("mode", "manual"), c["id"]]
            for c in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@cluster.command("show")
@click.argument("ref")
@output_option
def cluster_show(ref: str, output: str) -> None:
    """One cluster with its hosts, VMs and resource pools."""
    a = api()
    found = call(lambda: a.get(f"{V1}/clusters/{_find(a, 'clusters', ref, 'cluster')['id']}"))
    render.dump(found) if output == "json" else render.item(found)


@cluster.command("create")
@click.argument("name")
@click.option("--description", default="")
@click.option("--ha/--no-ha", default=False, show_default=True, help="restart VMs of dead hosts")
@click.option("--failover-capacity", type=click.IntRange(0, 100), default=0,
              help="percent of capacity kept free for HA restarts")  # fmt: skip
@click.option("--restart-priority", type=click.IntRange(0), default=0)
@click.option("--drs-mode", type=click.Choice(DRS_MODES), default="manual", show_default=True)
@click.option("--drs-threshold", type=click.IntRange(1, 5), default=3, show_default=True)
@output_option
def cluster_create(name: str, description: str, output: str, **opts: Any) -> None:
    """Create a cluster."""
    body = {"name": name, "description": description,
            "ha": {"enabled": opts["ha"], "failover_capacity_percent": opts["failover_capacity"],
                   "restart_priority": opts["restart_priority"]},
            "drs": {"mode": opts["drs_mode"], "threshold": opts["drs_threshold"]}}  # fmt: skip
    a = api()
    answer = call(lambda: a.request("POST", f"{V1}/clusters", body=body))
    _settle(a, "clusters", answer, output, f"cluster_id: {answer['cluster_id']}")


@cluster.command("delete")
@click.argument("ref")
@output_option
def cluster_delete(ref: str, output: str) -> None:
    """Delete a cluster (refused while it has hosts)."""
    a = api()
    cid = _find(a, "clusters", ref, "cluster")["id"]
    answer = call(lambda: a.request("DELETE", f"{V1}/clusters/{cid}"))
    _settle(a, "clusters", answer, output, f"deleted cluster {ref}")


def _membership(verb: str, doc: str) -> click.Command:
    @click.argument("ref")
    @click.argument("host_ref", metavar="HOST")
    @output_option
    def command(ref: str, host_ref: str, output: str) -> None:
        a = api()
        cid = _find(a, "clusters", ref, "cluster")["id"]
        body = {"host_id": resolve_host(a, host_ref)["id"]}
        answer = call(lambda: a.request("POST", f"{V1}/clusters/{cid}/actions/{verb}", body=body))
        _settle(a, "clusters", answer, output, f"{verb} {host_ref}: done")

    command.__doc__ = doc
    return click.command(verb)(command)


cluster.add_command(_membership("add-host", "Add a host (in no other cluster) to the cluster."))
cluster.add_command(_membership("remove-host", "Take a host out of the cluster."))


@cluster.group("pool")
def pool() -> None:
    """Resource pools: CPU and memory reservations and limits inside a cluster."""


@pool.command("list")
@click.argument("ref")
@list_options()
@output_option
def pool_list(ref: str, paging: dict[str, Any], output: str) -> None:
    """The cluster's resource pools with what their VMs use."""
    a = api()
    cid = _find(a, "clusters", ref, "cluster")["id"]
    page = call(lambda: a.get(f"{V1}/clusters/{cid}/resource-pools", **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "VMS", "VCPUS", "MEMORY", "CPU RES/LIMIT", "MEMORY RES/LIMIT", "ID"],
        [
            [p["name"], str(p["vm_count"]), str(p["used_vcpus"]), f"{p['used_memory_mib']} MiB",
             f"{p['cpu_reservation']}/{p['cpu_limit'] or '-'}",
             f"{p['memory_reservation_mib']}/{p['memory_limit_mib'] or '-'} MiB", p["pool_id"]]
            for p in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@pool.command("create")
@click.argument("ref")
@click.argument("name")
@click.option("--cpu-reservation", type=click.IntRange(0), default=0, help="vCPUs")
@click.option("--cpu-limit", type=click.IntRange(0), default=0, help="vCPUs (0: none)")
@click.option("--memory-reservation", type=click.IntRange(0), default=0, help="MiB")
@click.option("--memory-limit", type=click.IntRange(0), default=0, help="MiB (0: none)")
@output_option
def pool_create(ref: str, name: str, output: str, **opts: int) -> None:
    """Create a resource pool in a cluster."""
    a = api()
    cid = _find(a, "clusters", ref, "cluster")["id"]
    body = {"name": name, "cpu_reservation": opts["cpu_reservation"],
            "cpu_limit": opts["cpu_limit"],
            "memory_reservation_mib": opts["memory_reservation"],
            "memory_limit_mib": opts["memory_limit"]}  # fmt: skip
    answer = call(lambda: a.request("POST", f"{V1}/clusters/{cid}/resource-pools", body=body))
    _settle(a, "clusters", answer, output, f"pool_id: {answer['pool_id']}")


@pool.command("delete")
@click.argument("ref")
@click.argument("pool_ref", metavar="POOL")
@output_option
def pool_delete(ref: str, pool_ref: str, output: str) -> None:
    """Delete a resource pool (refused while VMs are in it)."""
    a = api()
    cid = _find(a, "clusters", ref, "cluster")["id"]
    pools = call(lambda: a.get(f"{V1}/clusters/{cid}/resource-pools"))["items"]
    found = [p for p in pools if pool_ref in (p["pool_id"], p["name"])]
    if not found:
        raise click.ClickException(f"no pool {pool_ref!r} in cluster {ref}")
    path = f"{V1}/clusters/{cid}/resource-pools/{found[0]['pool_id']}"
    answer = call(lambda: a.request("DELETE", path))
    _settle(a, "clusters", answer, output, f"deleted pool {pool_ref}")


# -- affinity rules -----------------------------------------------------------------------


@click.group("affinity")
def affinity() -> None:
    """Affinity rules: keep VMs together, apart, on or off some hosts."""


@affinity.command("list")
@list_options()
@output_option
def affinity_list(paging: dict[str, Any], output: str) -> None:
    """Every affinity rule."""
    page = call(lambda: api().get(f"{V1}/affinity-rules", **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "TYPE", "ENFORCEMENT", "ENABLED", "VMS", "HOSTS", "ID"],
        [
            [r["name"], r["rule_type"], r["enforcement"], "yes" if r["enabled"] else "no",
             json.dumps(r["vm_ids"]), json.dumps(r["host_ids"]), r["id"]]
            for r in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@affinity.command("create")
@click.argument("name")
@click.option("--type", "rule_type", type=click.Choice(RULE_TYPES), required=True)
@click.option("--enforcement", type=click.Choice(["must", "should"]), default="must",
              show_default=True)  # fmt: skip
@click.option("--vm", "vms", multiple=True, help="a VM the rule applies to (repeatable)")
@click.option("--host", "hosts", multiple=True, help="a host of a vm_host rule (repeatable)")
@click.option("--disabled", is_flag=True, help="create it switched off")
@output_option
def affinity_create(  # noqa: PLR0917 - one parameter per click option
    name: str,
    rule_type: str,
    enforcement: str,
    vms: tuple[str, ...],
    hosts: tuple[str, ...],
    disabled: bool,
    output: str,
) -> None:
    """Create an affinity rule."""
    a = api()
    body = {"name": name, "rule_type": rule_type, "enforcement": enforcement,
            "vm_ids": [resolve_vm(a, v) for v in vms],
            "host_ids": [resolve_host(a, h)["id"] for h in hosts],
            "enabled": not disabled}  # fmt: skip
    answer = call(lambda: a.request("POST", f"{V1}/affinity-rules", body=body))
    _settle(a, "affinity-rules", answer, output, f"rule_id: {answer['rule_id']}")


@affinity.command("delete")
@click.argument("ref")
@output_option
def affinity_delete(ref: str, output: str) -> None:
    """Delete an affinity rule."""
    a = api()
    rid = _find(a, "affinity-rules", ref, "rule")["id"]
    answer = call(lambda: a.request("DELETE", f"{V1}/affinity-rules/{rid}"))
    _settle(a, "affinity-rules", answer, output, f"deleted rule {ref}")


# -- DRS ----------------------------------------------------------------------------------


@click.group("drs")
def drs() -> None:
    """DRS recommendations: migrations that balance a cluster."""


@drs.command("list")
@click.option("--state", help="only these states (comma-separated), e.g. pending")
@click.option("--cluster", "cluster_ref", help="only this cluster's")
@list_options()
@output_option
def drs_list(
    state: str | None, cluster_ref: str | None, paging: dict[str, Any], output: str
) -> None:
    """Recommendations, newest first."""
    a = api()
    cid = _find(a, "clusters", cluster_ref, "cluster")["id"] if cluster_ref else None
    page = call(lambda: a.get(f"{V1}/drs/recommendations", state=state, cluster_id=cid, **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["VM", "FROM", "TO", "PRIORITY", "IMPROVEMENT", "STATE", "ID"],
        [
            [r["vm_name"] or r["vm_id"], r["from_host_name"] or r["from_host_id"],
             r["to_host_name"] or r["to_host_id"], str(r["priority"]),
             f"{r['improvement']:.3f}", r["state"], r["id"]]
            for r in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


def _act(rec_id: str, verb: str, body: Any = None) -> tuple[Api, dict[str, Any]]:
    a = api()
    path = f"{V1}/drs/recommendations/{rec_id}/actions/{verb}"
    return a, call(lambda: a.request("POST", path, body=body))


@drs.command("approve")
@click.argument("rec_id", metavar="ID")
@output_option
def drs_approve(rec_id: str, output: str) -> None:
    """Approve a recommendation (a manual cluster applies it with ``lq drs apply``)."""
    _, answer = _act(rec_id, "approve")
    render.dump(answer) if output == "json" else click.echo(f"{rec_id}: {answer['state']}")


@drs.command("reject")
@click.argument("rec_id", metavar="ID")
@click.option("--reason", default="")
@output_option
def drs_reject(rec_id: str, reason: str, output: str) -> None:
    """Reject a recommendation."""
    _, answer = _act(rec_id, "reject", {"reason": reason})
    render.dump(answer) if output == "json" else click.echo(f"{rec_id}: {answer['state']}")


@drs.command("apply")
@click.argument("rec_id", metavar="ID")
@wait_options
@output_option
def drs_apply(rec_id: str, wait: bool, timeout: float, output: str) -> None:
    """Carry a recommendation out: migrate its VM (a task; --wait follows it)."""
    a, accepted = _act(rec_id, "apply")
    finish(a, accepted, output, wait, timeout)
