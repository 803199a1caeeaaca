"""The security-group aggregate (subject ``lq.evt.security_group.<id>``): pure decide/evolve.

A group is a name, a description, an ordered list of allow rules and the NICs it is
applied to. The rule checks (direction, protocol, ports 0..65535 with min ≤ max, CIDR
syntax, a remote group that exists) are here so that every way a command arrives obeys
them; whether a remote group exists is a fact of other aggregates, so the caller passes
the set of live group ids in (``known_groups``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidRequest, InvalidState, UnknownAggregate
from events import security_group as sg
from events.base import Event
from events.codec import Envelope

KIND = sg.KIND
MAX_RULES = 200


class SecurityGroup(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    name: str
    description: str = ""
    rules: tuple[sg.Rule, ...] = ()
    nics: dict[str, sg.NicRef] = {}  # "<vm_id>/<nic_id>" → NIC
    deleted: bool = False


class Create(msgspec.Struct, frozen=True, kw_only=True):
    group_id: str
    name: str
    description: str = ""
    rules: tuple[sg.Rule, ...] = ()
    known_groups: frozenset[str] = frozenset()


class Update(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    description: str | None = None


class AddRule(msgspec.Struct, frozen=True, kw_only=True):
    rule: sg.Rule
    position: int | None = None  # None = last
    known_groups: frozenset[str] = frozenset()


class RemoveRule(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: str


class ReplaceRules(msgspec.Struct, frozen=True, kw_only=True):
    rules: tuple[sg.Rule, ...]
    known_groups: frozenset[str] = frozenset()


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    referenced_by: tuple[str, ...] = ()
    """Names of the other groups whose rules name this one (deleting it is refused)."""


class Apply(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    nic_id: str


class Remove(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    nic_id: str


Command = Create | Update | AddRule | RemoveRule | ReplaceRules | Delete | Apply | Remove


def nic_key(vm_id: str, nic_id: str) -> str:
    return f"{vm_id}/{nic_id}"


def check_rule(rule: sg.Rule, known_groups: frozenset[str], own_id: str) -> sg.Rule:
    """The rule in canonical form (CIDR normalised, ports 0..0 for icmp/all)."""
    for name, port in (("port_min", rule.port_min), ("port_max", rule.port_max)):
        if not 0 <= port <= 65535:
            raise InvalidRequest(f"{name} must be 0..65535, not {port}", slug="invalid-port")
    if rule.port_min > rule.port_max:
        raise InvalidRequest(
            f"port_min {rule.port_min} is above port_max {rule.port_max}", slug="invalid-port"
        )
    if rule.protocol in ("icmp", "all") and (rule.port_min or rule.port_max):
        raise InvalidRequest(f"{rule.protocol} rules have no ports", slug="invalid-port")
    cidr = rule.cidr
    if cidr and rule.remote_group_id:
        raise InvalidRequest(
            "a rule names a cidr or a remote_group_id, not both", slug="invalid-rule"
        )
    if cidr:
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise InvalidRequest(f"cidr {cidr!r} is not a subnet", slug="invalid-cidr") from exc
        if not isinstance(net, ipaddress.IPv4Network):
            raise InvalidRequest("only IPv4 cidrs are supported", slug="invalid-cidr")
        cidr = str(net)
    if rule.remote_group_id and rule.remote_group_id not in known_groups | {own_id}:
        raise InvalidRequest(
            f"remote group {rule.remote_group_id} does not exist", slug="unknown-remote-group"
        )
    return msgspec.structs.replace(rule, cidr=cidr)


def _check_rules(rules: tuple[sg.Rule, ...], known: frozenset[str], own_id: str) -> list[sg.Rule]:
    if len(rules) > MAX_RULES:
        raise InvalidRequest(f"at most {MAX_RULES} rules", slug="too-many-rules")
    ids = [r.rule_id for r in rules]
    if len(set(ids)) != len(ids):
        raise InvalidRequest("rule ids must be distinct", slug="invalid-rule")
    return [check_rule(r, known, own_id) for r in rules]


def decide(state: SecurityGroup | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if state is not None:
            raise AlreadyExists(f"security group {command.group_id} already exists")
        return [
            sg.SecurityGroupCreated(
                group_id=command.group_id,
                name=command.name,
                description=command.description,
                rules=_check_rules(command.rules, command.known_groups, command.group_id),
            )
        ]
    if state is None or state.deleted:
        raise UnknownAggregate(KIND, state.group_id if state else "")
    gid = state.group_id
    match command:
        case Update():
            name = state.name if command.name is None else command.name
            desc = state.description if command.description is None else command.description
            if (name, desc) == (state.name, state.description):
                return []
            return [sg.SecurityGroupUpdated(group_id=gid, name=name, description=desc)]
        case AddRule():
            rule = check_rule(command.rule, command.known_groups, gid)
            if any(r.rule_id == rule.rule_id for r in state.rules):
                return []
            if len(state.rules) >= MAX_RULES:
                raise InvalidRequest(f"at most {MAX_RULES} rules", slug="too-many-rules")
            pos = len(state.rules) if command.position is None else command.position
            pos = max(0, min(pos, len(state.rules)))
            return [sg.RuleAdded(group_id=gid, rule=rule, position=pos)]
        case RemoveRule():
            if not any(r.rule_id == command.rule_id for r in state.rules):
                return []
            return [sg.RuleRemoved(group_id=gid, rule_id=command.rule_id)]
        case ReplaceRules():
            rules = _check_rules(command.rules, command.known_groups, gid)
            if tuple(rules) == state.rules:
                return []
            return [sg.RulesReplaced(group_id=gid, rules=rules)]
        case Delete():
            if state.nics:
                raise InvalidState(
                    f"security group {state.name} is applied to {len(state.nics)} NICs",
                    slug="security-group-in-use",
                )
            if command.referenced_by:
                raise InvalidState(
                    f"security group {state.name} is named by the rules of"
                    f" {', '.join(command.referenced_by)}",
                    slug="security-group-in-use",
                )
            return [sg.SecurityGroupDeleted(group_id=gid)]
        case Apply():
            if nic_key(command.vm_id, command.nic_id) in state.nics:
                return []
            return [
                sg.SecurityGroupApplied(group_id=gid, vm_id=command.vm_id, nic_id=command.nic_id)
            ]
        case Remove():
            if nic_key(command.vm_id, command.nic_id) not in state.nics:
                return []
            return [
                sg.SecurityGroupRemoved(group_id=gid, vm_id=command.vm_id, nic_id=command.nic_id)
            ]
    raise TypeError(f"unknown command {command!r}")


def evolve(state: SecurityGroup | None, env: Envelope) -> SecurityGroup | None:
    e = env.event
    r = msgspec.structs.replace
    if isinstance(e, sg.SecurityGroupCreated):
        return SecurityGroup(
            group_id=e.group_id, name=e.name, description=e.description, rules=tuple(e.rules)
        )
    if state is None:
        return None
    match e:
        case sg.SecurityGroupUpdated():
            return r(state, name=e.name, description=e.description)
        case sg.RuleAdded():
            rules = list(state.rules)
            rules.insert(e.position, e.rule)
            return r(state, rules=tuple(rules))
        case sg.RuleRemoved():
            return r(state, rules=tuple(x for x in state.rules if x.rule_id != e.rule_id))
        case sg.RulesReplaced():
            return r(state, rules=tuple(e.rules))
        case sg.SecurityGroupDeleted():
            return r(state, deleted=True)
        case sg.SecurityGroupApplied():
            ref = sg.NicRef(vm_id=e.vm_id, nic_id=e.nic_id)
            return r(state, nics={**state.nics, nic_key(e.vm_id, e.nic_id): ref})
        case sg.SecurityGroupRemoved():
            nics = dict(state.nics)
            nics.pop(nic_key(e.vm_id, e.nic_id), None)
            return r(state, nics=nics)
    return state


def decider(command: Command) -> Callable[[SecurityGroup | None], list[Event]]:
    return lambda state: decide(state, command)
