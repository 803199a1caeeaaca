"""Security groups (subject ``lq.evt.security_group.<id>``): ordered firewall rules for NICs.

A group is an ordered list of allow rules; everything inbound that no rule allows is
dropped (replies to allowed or outbound traffic excepted), outbound is allowed unless the
group has egress rules, in which case only they pass. A rule names its peers either as a
CIDR or as another group (``remote_group_id``: the addresses of that group's member NICs).
Agents realise a group as the libvirt nwfilter ``lq-sg-<group id>`` and reference it from
the NICs it is applied to; the NICs a group applies to are decisions of the group too.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from events.base import Event

KIND = "security_group"
Direction = Literal["ingress", "egress"]
Protocol = Literal["tcp", "udp", "icmp", "all"]


class Rule(msgspec.Struct, frozen=True, kw_only=True):
    """Allow ``protocol`` traffic in ``direction`` from/to ``cidr`` or the member NICs of
    ``remote_group_id`` (neither = anywhere) on ports ``port_min``..``port_max`` (tcp/udp
    only; 0..0 = every port)."""

    rule_id: str
    direction: Direction
    protocol: Protocol = "all"
    port_min: int = 0
    port_max: int = 0
    cidr: str = ""
    remote_group_id: str = ""
    description: str = ""


class NicRef(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    nic_id: str


class SecurityGroupCreated(Event, frozen=True, kw_only=True, tag="security_group.created"):
    group_id: str
    name: str
    description: str = ""
    rules: list[Rule] = []


class SecurityGroupUpdated(Event, frozen=True, kw_only=True, tag="security_group.updated"):
    group_id: str
    name: str
    description: str = ""


class RuleAdded(Event, frozen=True, kw_only=True, tag="security_group.rule_added"):
    """``position`` is the rule's index in the ordered list after the change."""

    group_id: str
    rule: Rule
    position: int


class RuleRemoved(Event, frozen=True, kw_only=True, tag="security_group.rule_removed"):
    group_id: str
    rule_id: str


class RulesReplaced(Event, frozen=True, kw_only=True, tag="security_group.rules_replaced"):
    group_id: str
    rules: list[Rule]


class SecurityGroupDeleted(Event, frozen=True, kw_only=True, tag="security_group.deleted"):
    group_id: str


class SecurityGroupApplied(Event, frozen=True, kw_only=True, tag="security_group.applied"):
    """The group filters the NIC ``nic_id`` of ``vm_id`` from now on."""

    group_id: str
    vm_id: str
    nic_id: str


class SecurityGroupRemoved(Event, frozen=True, kw_only=True, tag="security_group.removed"):
    """The group no longer filters that NIC."""

    group_id: str
    vm_id: str
    nic_id: str


SECURITY_GROUP_EVENTS = (
    SecurityGroupCreated
    | SecurityGroupUpdated
    | RuleAdded
    | RuleRemoved
    | RulesReplaced
    | SecurityGroupDeleted
    | SecurityGroupApplied
    | SecurityGroupRemoved
)
