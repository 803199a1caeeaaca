"""Events of affinity rules (subject ``lq.evt.affinity.<rule_id>``).

A rule (its ``rule_type``) ties VMs to each other (``vm_affinity``: together on one host;
``vm_anti_affinity``: never two on one host) or to hosts (``vm_host``: only on these
hosts; ``vm_host_anti``: never on them). ``must`` rules are hard — placement, migration,
evacuation, HA and DRS never break them; ``should`` rules are weighed.
"""

from __future__ import annotations

from typing import Literal

from events.base import Event

RuleType = Literal["vm_affinity", "vm_anti_affinity", "vm_host", "vm_host_anti"]
Enforcement = Literal["must", "should"]


class AffinityRuleCreated(Event, frozen=True, kw_only=True, tag="affinity.rule_created"):
    rule_id: str
    name: str
    rule_type: RuleType
    enforcement: Enforcement = "must"
    vm_ids: tuple[str, ...] = ()
    host_ids: tuple[str, ...] = ()
    enabled: bool = True


class AffinityRuleUpdated(Event, frozen=True, kw_only=True, tag="affinity.rule_updated"):
    """The rule's new members, enforcement or switch (every field as it now is)."""

    rule_id: str
    name: str
    enforcement: Enforcement
    vm_ids: tuple[str, ...]
    host_ids: tuple[str, ...]
    enabled: bool


class AffinityRuleDeleted(Event, frozen=True, kw_only=True, tag="affinity.rule_deleted"):
    rule_id: str


AFFINITY_EVENTS = AffinityRuleCreated | AffinityRuleUpdated | AffinityRuleDeleted
