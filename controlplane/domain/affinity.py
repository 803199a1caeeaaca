"""The affinity-rule aggregate (pure): VM-VM and VM-host rules that placement obeys.

``violations`` is the one place that says whether a VM on a host breaks a rule, given
where the other VMs are; placement (``controlplane.placement``), migration, evacuation
and DRS all ask it, so a hard rule means the same everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping

import msgspec

from controlplane.domain.errors import AlreadyExists, InvalidRequest, UnknownAggregate
from events import affinity as ae
from events.base import Event
from events.codec import Envelope

KIND = "affinity"


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: str
    name: str
    rule_type: ae.RuleType
    enforcement: ae.Enforcement = "must"
    vm_ids: tuple[str, ...] = ()
    host_ids: tuple[str, ...] = ()
    enabled: bool = True
    deleted: bool = False

    @property
    def hard(self) -> bool:
        return self.enforcement == "must"


class Create(msgspec.Struct, frozen=True, kw_only=True):
    rule_id: str
    name: str
    rule_type: ae.RuleType
    enforcement: ae.Enforcement = "must"
    vm_ids: tuple[str, ...] = ()
    host_ids: tuple[str, ...] = ()
    enabled: bool = True


class Update(msgspec.Struct, frozen=True, kw_only=True):
    name: str | None = None
    enforcement: ae.Enforcement | None = None
    vm_ids: tuple[str, ...] | None = None
    host_ids: tuple[str, ...] | None = None
    enabled: bool | None = None


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


Command = Create | Update | Delete


def _check(rule_type: ae.RuleType, vm_ids: tuple[str, ...], host_ids: tuple[str, ...]) -> None:
    if not vm_ids:
        raise InvalidRequest("a rule names at least one VM")
    if rule_type in ("vm_affinity", "vm_anti_affinity"):
        if len(set(vm_ids)) < 2:
            raise InvalidRequest("a VM-VM rule names at least two VMs")
        if host_ids:
            raise InvalidRequest("a VM-VM rule names no hosts")
    elif not host_ids:
        raise InvalidRequest("a VM-host rule names at least one host")


def decide(rule: Rule | None, command: Command) -> list[Event]:
    if isinstance(command, Create):
        if rule is not None and not rule.deleted:
            raise AlreadyExists(f"affinity rule {command.rule_id} already exists")
        _check(command.rule_type, command.vm_ids, command.host_ids)
        return [
            ae.AffinityRuleCreated(
                rule_id=command.rule_id,
                name=command.name,
                rule_type=command.rule_type,
                enforcement=command.enforcement,
                vm_ids=tuple(dict.fromkeys(command.vm_ids)),
                host_ids=tuple(dict.fromkeys(command.host_ids)),
                enabled=command.enabled,
            )
        ]
    if rule is None or rule.deleted:
        raise UnknownAggregate(KIND, rule.rule_id if rule else "")
    if isinstance(command, Delete):
        return [ae.AffinityRuleDeleted(rule_id=rule.rule_id)]
    new = ae.AffinityRuleUpdated(
        rule_id=rule.rule_id,
        name=command.name if command.name is not None else rule.name,
        enforcement=command.enforcement or rule.enforcement,
        vm_ids=tuple(dict.fromkeys(command.vm_ids)) if command.vm_ids is not None else rule.vm_ids,
        host_ids=tuple(dict.fromkeys(command.host_ids))
        if command.host_ids is not None
        else rule.host_ids,
        enabled=command.enabled if command.enabled is not None else rule.enabled,
    )
    _check(rule.rule_type, new.vm_ids, new.host_ids)
    same = (new.name, new.enforcement, new.vm_ids, new.host_ids, new.enabled) == (
        rule.name,
        rule.enforcement,
        rule.vm_ids,
        rule.host_ids,
        rule.enabled,
    )
    return [] if same else [new]


def evolve(rule: Rule | None, env: Envelope) -> Rule | None:
    e = env.event
    r = msgspec.structs.replace
    match e:
        case ae.AffinityRuleCreated():
            return Rule(
                rule_id=e.rule_id,
                name=e.name,
                rule_type=e.rule_type,
                enforcement=e.enforcement,
                vm_ids=e.vm_ids,
                host_ids=e.host_ids,
                enabled=e.enabled,
            )
        case ae.AffinityRuleUpdated() if rule is not None:
            return r(
                rule,
                name=e.name,
                enforcement=e.enforcement,
                vm_ids=e.vm_ids,
                host_ids=e.host_ids,
                enabled=e.enabled,
            )
        case ae.AffinityRuleDeleted() if rule is not None:
            return r(rule, deleted=True, enabled=False)
    return rule


def decider(command: Command) -> Callable[[Rule | None], list[Event]]:
    return lambda rule: decide(rule, command)


def rules_for(rules: Iterable[Rule], vm_id: str) -> list[Rule]:
    """The enabled rules naming ``vm_id``."""
    return [r for r in rules if r.enabled and not r.deleted and vm_id in r.vm_ids]


def host_sets(rules: Iterable[Rule]) -> dict[str, frozenset[str]]:
    """Each VM-host rule's hosts as a set (placement asks once per host; a rule may name
    thousands)."""
    return {r.rule_id: frozenset(r.host_ids) for r in rules if r.host_ids}


def violations(
    rules: Iterable[Rule],
    vm_id: str,
    host_id: str,
    where: Mapping[str, str | None],
    sets: Mapping[str, frozenset[str]] | None = None,
) -> list[Rule]:
    """The rules broken if ``vm_id`` runs on ``host_id`` while the others are ``where``
    (vm id → host id; VMs without a host are ignored). ``sets``: ``host_sets(rules)``."""
    broken: list[Rule] = []
    for rule in rules:
        if not rule.enabled or rule.deleted or vm_id not in rule.vm_ids:
            continue
        hosts: Collection[str] = sets.get(rule.rule_id, ()) if sets is not None else rule.host_ids
        match rule.rule_type:
            case "vm_host":
                bad = host_id not in hosts
            case "vm_host_anti":
                bad = host_id in hosts
            case "vm_anti_affinity":
                bad = any(where.get(o) == host_id for o in rule.vm_ids if o != vm_id)
            case _:  # vm_affinity: with every other member that has a host
                bad = any(
                    (h := where.get(o)) is not None and h != host_id
                    for o in rule.vm_ids
                    if o != vm_id
                )
        if bad:
            broken.append(rule)
    return broken
