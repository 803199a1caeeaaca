"""``lq network`` and ``lq sg``: virtual networks and security groups (docs/networking.md).

``lq network create lan --type nat --cidr 10.10.0.0/24`` makes a network every host
realises; ``lq sg rule-add web --direction ingress --protocol tcp --ports 22 --cidr
10.0.0.0/8`` appends a rule (``--remote-group`` names a group instead of a CIDR) and
``lq sg apply web VM NIC`` filters a NIC with the group. Networks and groups are named by
id or name everywhere.
"""

from __future__ import annotations

from typing import Any

import click

from lq.client import render
from lq.client.commands import V1, api, call, list_options, more, output_option

TYPES = ["isolated", "nat", "bridge", "vlan"]


def _find(path: str, ref: str, what: str) -> dict[str, Any]:
    for item in call(lambda: api().get(f"{V1}/{path}"))["items"]:
        if ref in (item["id"], item["name"]):
            return dict(item)
    raise click.ClickException(f"no {what} {ref!r}")


def _settle(path: str, seq: int) -> None:
    """Wait until the read model has the change, so the next command finds it by name."""
    call(lambda: api().get(f"{V1}/{path}", min_seq=seq))


def _ports(raw: str) -> tuple[int, int]:
    lo, _, hi = raw.partition("-")
    try:
        return int(lo), int(hi or lo)
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not PORT or MIN-MAX", param_hint="--ports") from None


@click.group("network")
def network() -> None:
    """Virtual networks: isolated, NAT, bridged and VLAN."""


@network.command("list")
@click.option("--type", "kind", type=click.Choice(TYPES), help="only this type")
@list_options()
@output_option
def network_list(kind: str | None, paging: dict[str, Any], output: str) -> None:
    """Networks with their subnet, DHCP range, hosts and connected VMs."""
    page = call(lambda: api().get(f"{V1}/networks", type=kind, **paging))
    if output == "json":
        render.dump(page)
        return
    render.table(
        ["NAME", "TYPE", "CIDR", "GATEWAY", "DHCP", "HOSTS", "VMS", "ID"],
        [
            [n["name"], n["type"] + (f" {n['vlan_id']}" if n["vlan_id"] else ""), n["cidr"],
             n["gateway"], f"{n['dhcp_start']}-{n['dhcp_end']}" if n["dhcp"] else "off",
             ",".join(f"{h['state']}" for h in n["hosts"].values()) or "-",
             str(n["connected_vms"]), n["id"]]
            for n in page["items"]
        ],
    )  # fmt: skip
    more(page, output)


@network.command("create")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice(TYPES), default="nat", show_default=True)
@click.option("--cidr", required=True, help="the subnet, e.g. 10.10.0.0/24")
@click.option("--gateway", default="", help="default: the first address")
@click.option("--dhcp-start", default="")
@click.option("--dhcp-end", default="")
@click.option("--dns", multiple=True, help="a DNS server (repeatable)")
@click.option("--mtu", type=int, default=0)
@click.option("--vlan-id", type=int, default=0, help="for --type vlan: 1..4094")
@click.option("--bridge", default="", help="for --type bridge/vlan: the host bridge")
def network_create(name: str, kind: str, **opts: Any) -> None:
    """Create a network; every host realises it."""
    body = {"name": name, "type": kind, "cidr": opts["cidr"], "gateway": opts["gateway"],
            "dhcp_start": opts["dhcp_start"], "dhcp_end": opts["dhcp_end"],
            "dns": list(opts["dns"]), "mtu": opts["mtu"], "vlan_id": opts["vlan_id"],
            "bridge": opts["bridge"]}  # fmt: skip
    answer = call(lambda: api().request("POST", f"{V1}/networks", body=body))
    _settle("networks", answer["seq"])
    click.echo(f"network_id: {answer['network_id']}")


@network.command("delete")
@click.argument("ref")
def network_delete(ref: str) -> None:
    """Delete a network (refused while a VM NIC uses it)."""
    nid = _find("networks", ref, "network")["id"]
    answer = call(lambda: api().request("DELETE", f"{V1}/networks/{nid}"))
    _settle("networks", answer["seq"])
    click.echo(f"deleted {ref}")


@click.group("sg")
def sg() -> None:
    """Security groups: ordered allow rules for VM NICs."""


def _rule_text(r: dict[str, Any], names: dict[str, str]) -> str:
    ports = "" if not (r["port_min"] or r["port_max"]) else f":{r['port_min']}-{r['port_max']}"
    peer = names.get(r["remote_group_id"], r["remote_group_id"]) if r["remote_group_id"] else ""
    where = f"group {peer}" if peer else r["cidr"] or "anywhere"
    arrow = "in " if r["direction"] == "ingress" else "out"
    return f"{r['position'] + 1:>2} {arrow} {r['protocol']}{ports} {where}  [{r['rule_id']}]"


@sg.command("list")
@list_options()
@output_option
def sg_list(paging: dict[str, Any], output: str) -> None:
    """Groups with their rules in order and the NICs they filter."""
    page = call(lambda: api().get(f"{V1}/security-groups", **paging))
    if output == "json":
        render.dump(page)
        return
    names = {g["id"]: g["name"] for g in page["items"]}
    for g in page["items"]:
        nics = ", ".join(f"{n['vm_id'][:8]}/{n['nic_id']}" for n in g["nics"]) or "no NICs"
        click.echo(f"{g['name']}  ({g['id']}; {nics})")
        for r in g["rules"]:
            click.echo("   " + _rule_text(r, names))
        if not g["rules"]:
            click.echo("   (no rules: nothing inbound is allowed)")
    more(page, output)


@sg.command("create")
@click.argument("name")
@click.option("--description", default="")
def sg_create(name: str, description: str) -> None:
    """Create an empty group (add rules with rule-add)."""
    body = {"name": name, "description": description}
    answer = call(lambda: api().request("POST", f"{V1}/security-groups", body=body))
    _settle("security-groups", answer["seq"])
    click.echo(f"group_id: {answer['group_id']}")


@sg.command("rule-add")
@click.argument("group")
@click.option("--direction", type=click.Choice(["ingress", "egress"]), default="ingress")
@click.option("--protocol", type=click.Choice(["tcp", "udp", "icmp", "all"]), default="tcp")
@click.option("--ports", default="", help="PORT or MIN-MAX (tcp/udp)")
@click.option("--cidr", default="", help="peer subnet (default: anywhere)")
@click.option("--remote-group", default="", help="peer group (id or name) instead of a CIDR")
@click.option("--position", type=int, default=None, help="0-based place in the order")
def sg_rule_add(group: str, **opts: Any) -> None:
    """Add a rule to GROUP (id or name)."""
    gid = _find("security-groups", group, "security group")["id"]
    body: dict[str, Any] = {"direction": opts["direction"], "protocol": opts["protocol"],
                            "cidr": opts["cidr"]}  # fmt: skip
    if opts["ports"]:
        body["port_min"], body["port_max"] = _ports(opts["ports"])
    if opts["remote_group"]:
        body["remote_group_id"] = _find("security-groups", opts["remote_group"], "group")["id"]
    if opts["position"] is not None:
        body["position"] = opts["position"]
    path = f"{V1}/security-groups/{gid}/rules"
    answer = call(lambda: api().request("POST", path, body=body))
    _settle("security-groups", answer["seq"])
    click.echo(f"rule_id: {answer['rule_id']}")


@sg.command("rule-remove")
@click.argument("group")
@click.argument("rule_id")
def sg_rule_remove(group: str, rule_id: str) -> None:
    """Remove RULE_ID from GROUP."""
    gid = _find("security-groups", group, "security group")["id"]
    path = f"{V1}/security-groups/{gid}/rules/{rule_id}"
    answer = call(lambda: api().request("DELETE", path))
    _settle("security-groups", answer["seq"])
    click.echo(f"removed {rule_id}")


@sg.command("apply")
@click.argument("group")
@click.argument("vm_id")
@click.argument("nic_id", default="nic0")
@click.option("--remove", is_flag=True, help="stop filtering the NIC with the group")
def sg_apply(group: str, vm_id: str, nic_id: str, remove: bool) -> None:
    """Filter NIC_ID of VM_ID with GROUP (a NIC has one group: it moves)."""
    gid = _find("security-groups", group, "security group")["id"]
    verb = "remove" if remove else "apply"
    path = f"{V1}/security-groups/{gid}/actions/{verb}"
    call(lambda: api().request("POST", path, body={"vm_id": vm_id, "nic_id": nic_id}))
    click.echo(f"{verb} {group} {'from' if remove else 'to'} {vm_id}/{nic_id}")


@sg.command("delete")
@click.argument("group")
def sg_delete(group: str) -> None:
    """Delete a group (refused while it filters NICs or another group's rules name it)."""
    gid = _find("security-groups", group, "security group")["id"]
    call(lambda: api().request("DELETE", f"{V1}/security-groups/{gid}"))
    click.echo(f"deleted {group}")
