"""The rules in force: the starting form with the operator's runtime changes on top.

Precedence, lowest first: the shipped defaults (``rules.DEFAULT_RULES``), then the
process setting ``alert_rules_json`` (together: the starting form), then the
``alert_rule`` aggregates — custom rules and each field an operator changed
(``controlplane.domain.alert_rule``). Every controlplane replica keeps those aggregates in
its cache, so the book is current on each of them; it is recomputed only when a rule's
record changed, which makes reading it per metric sample cheap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Literal, Protocol

from controlplane.alerting import rulecheck
from controlplane.alerting.rules import Rule, load_all
from controlplane.domain import alert_rule as rd

Origin = Literal["default", "custom"]


class States(Protocol):
    def all(self, kind: str) -> Iterable[object]: ...

    def get(self, kind: str, aggregate_id: str) -> tuple[object, int]: ...


@dataclasses.dataclass(frozen=True)
class Entry:
    """One rule in force, where it comes from and what the operator changed of it."""

    rule: Rule
    origin: Origin  # default: shipped or alert_rules_json; custom: added through the API
    overridden: tuple[str, ...] = ()  # fields changed at runtime (a default's only)
    version: int = 0  # the stream sequence of its last change (0: never changed)


class RuleBook:
    def __init__(self, repo: States, overrides_json: str) -> None:
        self.repo = repo
        self.starting = {r.rule_id: r for r in load_all(overrides_json)}
        self._seen: list[tuple[str, int]] | None = None
        self._entries: dict[str, Entry] = {}

    def entries(self) -> dict[str, Entry]:
        """Every rule (disabled ones included) by id: starting rules first, then custom."""
        records = [r for r in self.repo.all(rd.KIND) if isinstance(r, rd.RuleRecord)]
        seen = [(r.rule_id, self.repo.get(rd.KIND, r.rule_id)[1]) for r in records]
        if seen != self._seen:
            self._entries = self._compute(records)
            self._seen = seen
        return self._entries

    def _compute(self, records: list[rd.RuleRecord]) -> dict[str, Entry]:
        by_id = {r.rule_id: r for r in records}
        out: dict[str, Entry] = {}
        for rule_id, rule in self.starting.items():
            record = by_id.get(rule_id)
            out[rule_id] = self._entry(rule, "default", record)
        for record in records:
            if record.custom is not None and not record.deleted and record.rule_id not in out:
                out[record.rule_id] = self._entry(
                    rulecheck.from_created(record.custom), "custom", record
                )
        return out

    def _entry(self, rule: Rule, origin: Origin, record: rd.RuleRecord | None) -> Entry:
        if record is None:
            return Entry(rule=rule, origin=origin)
        changes = rulecheck.changes_of(record.changes) if record.changes else {}
        version = self.repo.get(rd.KIND, record.rule_id)[1]
        return Entry(rule=rulecheck.apply(rule, changes), origin=origin,
                     overridden=tuple(changes), version=version)  # fmt: skip

    def rules(self) -> tuple[Rule, ...]:
        """The enabled rules, the ones the engine evaluates."""
        return tuple(e.rule for e in self.entries().values() if e.rule.enabled)
