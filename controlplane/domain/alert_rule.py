"""The alert-rule aggregate (``alert_rule``/<rule_id>): an operator's rules, decided purely.

The process starts from the shipped rules with ``alert_rules_json`` applied (the starting
form, ``controlplane.alerting.rules``). On top of that an operator adds custom rules and
changes any rule — enable or disable it, its threshold, durations, severity, scope — each
change an event, so the history of what was evaluated is the stream's. A starting rule
has no aggregate until it is first changed, and ``Reset`` returns it to its starting form;
only custom rules can be deleted. Every decision checks the rule it results in
(``controlplane.alerting.rulecheck``), so nothing invalid is ever appended.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from controlplane.alerting import rulecheck
from controlplane.alerting.rules import Rule
from controlplane.domain.errors import (
    AlreadyExists,
    InvalidRequest,
    InvalidState,
    UnknownAggregate,
)
from events import alert as ae
from events.base import Event
from events.codec import Envelope

KIND = "alert_rule"


class RuleRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the stream says about one rule: a custom rule's definition (``None`` for a
    starting rule), the operator's changes merged into one, whether it was deleted."""

    rule_id: str
    custom: ae.AlertRuleCreated | None = None
    changes: ae.AlertRuleChanged | None = None
    deleted: bool = False


class Create(msgspec.Struct, frozen=True, kw_only=True):
    rule: Rule
    starting: bool = False  # the id is a starting rule's: refused


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """Change ``base`` (the rule as it is now in effect) by ``changes`` (field → value)."""

    base: Rule
    changes: dict[str, object]


class Reset(msgspec.Struct, frozen=True, kw_only=True):
    pass


class Delete(msgspec.Struct, frozen=True, kw_only=True):
    pass


Command = Create | Change | Reset | Delete


def _checked(rule: Rule) -> Rule:
    try:
        return rulecheck.check(rule)
    except ValueError as exc:
        raise InvalidRequest(str(exc), slug="invalid-alert-rule") from exc


def decide(state: RuleRecord | None, command: Command) -> list[Event]:
    live = state is not None and not state.deleted
    if isinstance(command, Create):
        if command.starting or (live and state is not None and state.custom is not None):
            raise AlreadyExists(f"alert rule {command.rule.rule_id} already exists")
        return [rulecheck.created(_checked(command.rule))]
    rule_id = command.base.rule_id if isinstance(command, Change) else ""
    if state is not None and state.deleted:
        raise UnknownAggregate(KIND, state.rule_id)
    if isinstance(command, Change):
        new = _checked(rulecheck.apply(command.base, command.changes))
        diff = {k: v for k, v in command.changes.items()
                if getattr(new, k) != getattr(command.base, k)}  # fmt: skip
        if not diff:
            return []
        if "scope" in diff:
            diff["scope"] = rulecheck.scope_event(new.scope)
        return [msgspec.structs.replace(ae.AlertRuleChanged(rule_id=rule_id), **diff)]
    if state is None:  # a starting rule never changed: nothing to reset, nothing to delete
        if isinstance(command, Delete):
            raise InvalidState("a shipped rule cannot be deleted: disable it", slug="is-default")
        return []
    if isinstance(command, Reset):
        if state.custom is not None:
            raise InvalidState("a custom rule has no shipped form to return to",
                               slug="is-custom")  # fmt: skip
        return [ae.AlertRuleReset(rule_id=state.rule_id)] if state.changes else []
    if state.custom is None:
        raise InvalidState("a shipped rule cannot be deleted: disable it", slug="is-default")
    return [ae.AlertRuleDeleted(rule_id=state.rule_id)]


def evolve(state: RuleRecord | None, env: Envelope) -> RuleRecord | None:
    e = env.event
    if isinstance(e, ae.AlertRuleCreated):
        return RuleRecord(rule_id=e.rule_id, custom=e)
    if isinstance(e, ae.AlertRuleChanged):
        old = state or RuleRecord(rule_id=e.rule_id)
        return msgspec.structs.replace(old, changes=rulecheck.merge(old.changes, e))
    if isinstance(e, ae.AlertRuleReset) and state is not None:
        return msgspec.structs.replace(state, changes=None)
    if isinstance(e, ae.AlertRuleDeleted) and state is not None:
        return msgspec.structs.replace(state, deleted=True)
    return state


def decider(command: Command) -> Callable[[RuleRecord | None], list[Event]]:
    return lambda state: decide(state, command)
