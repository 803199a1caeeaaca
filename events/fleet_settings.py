"""Fleet settings (subject ``lq.evt.settings.fleet``): what operators tune at runtime.

A process's own settings (ports, URLs, data directory, secrets) are static: they come from
the environment and TOML once per process (``events.settings``). Fleet settings are the
policy every controlplane replica must agree on while it runs — the default overcommit of
new hosts, the placement strategy, login lockout thresholds, where alert e-mails go. They
are one aggregate, ``settings``/``fleet``, and every change is an event carrying the key,
the value before and the value after, so the audit log answers who changed what and when.
A key never changed reads its process default (docs/settings.md).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from events.base import Event

KIND = "settings"
FLEET_ID = "fleet"
"""The only aggregate of its kind: the whole fleet's settings."""

Value = str | int | float | bool | None
"""What one setting holds: a JSON scalar (the catalogue gives each key its type)."""


class SettingChanged(Event, frozen=True, kw_only=True, tag="settings.changed"):
    """Fleet setting ``key`` is now ``new`` (it was ``old``: its process default when never
    changed before). One request changing several keys appends one event per key, at once."""

    key: str
    old: Value = None
    new: Value = None


SETTINGS_EVENTS = SettingChanged


def overrides(events: Iterable[object], keys: Collection[str]) -> dict[str, Value]:
    """The newest value of each of ``keys`` that ``events`` change, oldest event first.

    For consumers outside the controlplane (which has the aggregate in memory): a process
    that follows the event stream folds the changes of the keys it honours with this."""
    found: dict[str, Value] = {}
    for e in events:
        if isinstance(e, SettingChanged) and e.key in keys:
            found[e.key] = e.new
    return found
