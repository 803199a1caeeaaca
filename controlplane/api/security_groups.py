"""Command routes of security groups: create, change, rules, delete, apply to NICs.

Each is a decision on the ``security_group`` aggregate (``controlplane.domain
.security_group``). A rule naming a ``remote_group_id`` is checked against the live groups
of the aggregate cache. A NIC is filtered by one group at a time (libvirt gives an
interface one ``filterref``): applying a group to a NIC that has another moves it (the old
group is removed from the NIC first). The query routes are in
``projections.networks_api``; agents realise the groups (``controlplane.netsync``). A
creation or rename claims the group's name (``controlplane.names``: unique among live
groups, any case; ``409 name-taken``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from aiohttp import web

from controlplane.api.common import COMMANDS, Name, check_name, claim_name, decode_body
from controlplane.api.networks import execute, problem_for
from controlplane.domain import name_claim
from controlplane.domain import security_group as sd
from events import problems
from events import security_group as sg
from events.base import new_id
from events.permissions import NETWORK_MANAGE, requires

routes = web.RouteTableDef()

Text = Annotated[str, msgspec.Meta(max_length=256)]
Id = Annotated[str, msgspec.Meta(max_length=64)]


class RuleBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    direction: Literal["ingress", "egress"]
    protocol: Literal["tcp", "udp", "icmp", "all"] = "all"
    port_min: int = 0
    port_max: int = 0
    cidr: Annotated[str, msgspec.Meta(max_length=64)] = ""
    remote_group_id: Id = ""
    description: Text = ""
    position: int | None = None


class CreateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    description: Text = ""
    rules: Annotated[list[RuleBody], msgspec.Meta(max_length=sd.MAX_RULES)] = []


class UpdateBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | None = None
    description: Text | None = None
    rules: Annotated[list[RuleBody], msgspec.Meta(max_length=sd.MAX_RULES)] | None = None


class NicBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    vm_id: Id
    nic_id: Id


def _rule(body: RuleBody) -> sg.Rule:
    port_max = body.port_max if body.port_max or body.port_min == 0 else body.port_min
    return sg.Rule(
        rule_id=new_id(),
        direction=body.direction,
        protocol=body.protocol,
        port_min=body.port_min,
        port_max=port_max,
        cidr=body.cidr,
        remote_group_id=body.remote_group_id,
        description=body.description,
    )


def _groups(request: web.Request) -> list[sd.SecurityGroup]:
    return [g for g in request.app[COMMANDS].repo.all(sd.KIND) if not g.deleted]


def _known(request: web.Request) -> frozenset[str]:
    return frozenset(g.group_id for g in _groups(request))


def _existing(request: web.Request) -> sd.SecurityGroup:
    ident = request.match_info["id"]
    state: sd.SecurityGroup | None = request.app[COMMANDS].repo.get(sd.KIND, ident)[0]
    if state is None or state.deleted:
        raise problems.not_found("security group", ident)
    return state


def group_json(g: sd.SecurityGroup, seq: int) -> dict[str, Any]:
    return {
        "group_id": g.group_id,
        "name": g.name,
        "description": g.description,
        "rules": [msgspec.to_builtins(r) for r in g.rules],
        "nics": [msgspec.to_builtins(n) for n in g.nics.values()],
        "seq": seq,
    }


def _precheck(g: sd.SecurityGroup | None, command: sd.Command, ident: str) -> None:
    """The group's own rules first: a request refused by them claims no name."""
    try:
        sd.decide(g, command)
    except Exception as exc:
        raise problem_for(exc, "security group", ident) from exc


@routes.post("/api/v1/security-groups")
@requires(NETWORK_MANAGE)
async def create_group(request: web.Request) -> web.Response:
    body = await decode_body(request, CreateBody)
    group_id = new_id()
    check_name(request, name_claim.SECURITY_GROUP, body.name, group_id)
    command = sd.Create(
        group_id=group_id,
        name=body.name,
        description=body.description,
        rules=tuple(_rule(r) for r in body.rules),
        known_groups=_known(request),
    )
    _precheck(None, command, group_id)
    await claim_name(request, name_claim.SECURITY_GROUP, body.name, group_id)
    out = await execute(request, sd.KIND, command.group_id, sd.decider(command))
    return web.json_response(group_json(out.state, out.seq), status=201)


@routes.patch("/api/v1/security-groups/{id}")
@requires(NETWORK_MANAGE)
async def update_group(request: web.Request) -> web.Response:
    g = _existing(request)
    body = await decode_body(request, UpdateBody)
    renamed = body.name is not None and body.name != g.name
    if body.name is not None and renamed:
        check_name(request, name_claim.SECURITY_GROUP, body.name, g.group_id)
    update = sd.Update(name=body.name, description=body.description)
    if body.rules is not None:  # checked before anything is appended
        replace = sd.ReplaceRules(
            rules=tuple(_rule(r) for r in body.rules), known_groups=_known(request)
        )
        _precheck(g, replace, g.group_id)
    if body.name is not None and renamed:
        _precheck(g, update, g.group_id)
        await claim_name(request, name_claim.SECURITY_GROUP, body.name, g.group_id)
    out = await execute(request, sd.KIND, g.group_id, sd.decider(update))
    if body.rules is not None:
        out = await execute(request, sd.KIND, g.group_id, sd.decider(replace))
    return web.json_response({"group_id": g.group_id, "seq": out.seq}, status=202)


@routes.delete("/api/v1/security-groups/{id}")
@requires(NETWORK_MANAGE)
async def delete_group(request: web.Request) -> web.Response:
    g = _existing(request)
    users = tuple(
        o.name
        for o in _groups(request)
        if o.group_id != g.group_id and any(r.remote_group_id == g.group_id for r in o.rules)
    )
    out = await execute(request, sd.KIND, g.group_id, sd.decider(sd.Delete(referenced_by=users)))
    return web.json_response({"group_id": g.group_id, "seq": out.seq}, status=202)


@routes.post("/api/v1/security-groups/{id}/rules")
@requires(NETWORK_MANAGE)
async def add_rule(request: web.Request) -> web.Response:
    g = _existing(request)
    body = await decode_body(request, RuleBody)
    rule = _rule(body)
    command = sd.AddRule(rule=rule, position=body.position, known_groups=_known(request))
    out = await execute(request, sd.KIND, g.group_id, sd.decider(command))
    return web.json_response(
        {"group_id": g.group_id, "rule_id": rule.rule_id, "seq": out.seq}, status=201
    )


@routes.delete("/api/v1/security-groups/{id}/rules/{rule_id}")
@requires(NETWORK_MANAGE)
async def remove_rule(request: web.Request) -> web.Response:
    g = _existing(request)
    rule_id = request.match_info["rule_id"]
    if not any(r.rule_id == rule_id for r in g.rules):
        raise problems.not_found("rule", rule_id)
    out = await execute(request, sd.KIND, g.group_id, sd.decider(sd.RemoveRule(rule_id=rule_id)))
    return web.json_response({"group_id": g.group_id, "seq": out.seq}, status=202)


@routes.post("/api/v1/security-groups/{id}/actions/{verb}")
@requires(NETWORK_MANAGE)
async def nic_action(request: web.Request) -> web.Response:
    """``apply`` / ``remove`` ``{vm_id, nic_id}``: filter that NIC with the group, or stop."""
    g = _existing(request)
    verb = request.match_info["verb"]
    if verb not in ("apply", "remove"):
        raise problems.not_found("action", verb)
    body = await decode_body(request, NicBody)
    repo = request.app[COMMANDS].repo
    vm = repo.vm(body.vm_id)
    if vm is None or vm.state == "deleted":
        raise problems.not_found("vm", body.vm_id)
    if not any(n.nic_id == body.nic_id for n in vm.nics):
        raise problems.not_found("nic", body.nic_id)
    key = sd.nic_key(body.vm_id, body.nic_id)
    if verb == "remove":
        command: sd.Command = sd.Remove(vm_id=body.vm_id, nic_id=body.nic_id)
        out = await execute(request, sd.KIND, g.group_id, sd.decider(command))
        return web.json_response({"group_id": g.group_id, "seq": out.seq}, status=202)
    for other in _groups(request):  # one group per NIC: move it
        if other.group_id != g.group_id and key in other.nics:
            detach = sd.Remove(vm_id=body.vm_id, nic_id=body.nic_id)
            await execute(request, sd.KIND, other.group_id, sd.decider(detach))
    apply = sd.Apply(vm_id=body.vm_id, nic_id=body.nic_id)
    out = await execute(request, sd.KIND, g.group_id, sd.decider(apply))
    return web.json_response({"group_id": g.group_id, "seq": out.seq}, status=202)
