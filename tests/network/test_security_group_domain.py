"""The security-group aggregate as tables: rule checks, order, NICs (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from controlplane.domain import security_group as sd
from controlplane.domain.errors import InvalidRequest, InvalidState
from events import security_group as sg
from tests.network.helpers import run

GID = "sg-1"


def _run(state: Any, command: Any) -> tuple[Any, list[Any]]:
    return run(sd.KIND, GID, state, command, decide=sd.decide, evolve=sd.evolve)


def rule(rule_id: str = "r1", **kw: Any) -> sg.Rule:
    args: dict[str, Any] = {"rule_id": rule_id, "direction": "ingress", "protocol": "tcp"}
    return sg.Rule(**(args | kw))


def create(*rules: sg.Rule, known: frozenset[str] = frozenset()) -> sd.SecurityGroup:
    state, _ = _run(None, sd.Create(group_id=GID, name="web", rules=rules, known_groups=known))
    assert isinstance(state, sd.SecurityGroup)
    return state


@pytest.mark.parametrize(
    ("r", "slug"),
    [
        (rule(port_min=0, port_max=70000), "invalid-port"),
        (rule(port_min=-1, port_max=10), "invalid-port"),
        (rule(port_min=443, port_max=80), "invalid-port"),
        (rule(protocol="icmp", port_min=1, port_max=1), "invalid-port"),
        (rule(cidr="10.0.0.0/99"), "invalid-cidr"),
        (rule(cidr="nonsense"), "invalid-cidr"),
        (rule(remote_group_id="nope"), "unknown-remote-group"),
        (rule(cidr="10.0.0.0/8", remote_group_id="sg-2"), "invalid-rule"),
    ],
)
def test_bad_rules_are_refused(r: sg.Rule, slug: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        create(r, known=frozenset({"sg-2"}))
    assert exc.value.slug == slug


def test_rules_are_normalised_and_kept_in_order() -> None:
    g = create(
        rule("a", port_min=22, port_max=22, cidr="10.1.2.3/8"),
        rule("b", protocol="icmp"),
        rule("c", remote_group_id=GID),  # its own members
    )
    assert [r.rule_id for r in g.rules] == ["a", "b", "c"]
    assert g.rules[0].cidr == "10.0.0.0/8"
    g, events = _run(g, sd.AddRule(rule=rule("d", direction="egress"), position=1))
    assert isinstance(events[0], sg.RuleAdded)
    assert [r.rule_id for r in g.rules] == ["a", "d", "b", "c"]
    g, _ = _run(g, sd.RemoveRule(rule_id="b"))
    assert [r.rule_id for r in g.rules] == ["a", "d", "c"]
    assert _run(g, sd.RemoveRule(rule_id="b"))[1] == []
    g, events = _run(
        g, sd.ReplaceRules(rules=(rule("z", protocol="udp", port_min=53, port_max=53),))
    )
    assert isinstance(events[0], sg.RulesReplaced)
    assert [r.rule_id for r in g.rules] == ["z"]


def test_nics_applied_removed_and_delete_refused_while_in_use() -> None:
    g = create()
    g, events = _run(g, sd.Apply(vm_id="vm-1", nic_id="nic0"))
    assert isinstance(events[0], sg.SecurityGroupApplied)
    assert _run(g, sd.Apply(vm_id="vm-1", nic_id="nic0"))[1] == []
    with pytest.raises(InvalidState):
        _run(g, sd.Delete())
    g, _ = _run(g, sd.Remove(vm_id="vm-1", nic_id="nic0"))
    with pytest.raises(InvalidState):
        _run(g, sd.Delete(referenced_by=("db",)))
    g, events = _run(g, sd.Delete())
    assert isinstance(events[0], sg.SecurityGroupDeleted)
