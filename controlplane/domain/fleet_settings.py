"""The fleet-settings aggregate (``settings``/``fleet``): the catalogue, decide and evolve.

The catalogue (``SPECS``) names every key operators may change at runtime, its type, its
bounds and the tab of the dashboard it belongs to. A key with ``static`` set takes its
default from the process setting of that name (``events.settings``), so an installation
that set ``LQ_PLACEMENT_STRATEGY=pack`` keeps it until someone changes it here. ``decide``
validates a whole patch before anything is appended: one bad value refuses all of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import msgspec

from controlplane.domain.errors import InvalidRequest
from events import fleet_settings as fe
from events.base import Event
from events.codec import Envelope
from events.settings import Settings

KIND = fe.KIND
FLEET_ID = fe.FLEET_ID
Group = Literal["general", "notifications", "security", "storage", "network"]
ValueType = Literal["int", "float", "str", "choice", "emails", "host", "id"]
_EMAIL = re.compile(r"^[^@\s,]+@[^@\s,]+$")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Spec:
    key: str
    group: Group
    type: ValueType
    label: str
    help: str
    static: str | None = None  # the process setting giving the default
    default: fe.Value = None  # the default when ``static`` is None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""

    def default_from(self, settings: Settings) -> fe.Value:
        if self.static is None:
            return self.default
        value: fe.Value = getattr(settings, self.static)
        return value


SPECS: tuple[Spec, ...] = (
    # general: placement and VM defaults
    Spec("placement_strategy", "general", "choice", "Placement strategy",
         "spread: least loaded host first; pack: fullest host that fits first",
         static="placement_strategy", choices=("spread", "pack")),
    Spec("placement_load_weight", "general", "float", "Placement load weight",
         "weight of the hosts' measured load (metrics) in placement, next to the strategy; "
         "0 = allocation only",
         static="placement_load_weight", minimum=0.0, maximum=10.0),
    Spec("default_cpu_overcommit", "general", "float", "Default vCPU overcommit",
         "vCPU overcommit ratio given to newly enrolled hosts",
         static="default_cpu_overcommit", minimum=1.0, maximum=64.0, unit="x"),
    Spec("default_memory_overcommit", "general", "float", "Default memory overcommit",
         "memory overcommit ratio given to newly enrolled hosts",
         static="default_memory_overcommit", minimum=0.5, maximum=4.0, unit="x"),
    Spec("default_shutdown_timeout_s", "general", "int", "Default graceful shutdown timeout",
         "how long a guest may take to shut down when a request names no timeout",
         default=120, minimum=1, maximum=3600, unit="s"),
    # notifications
    Spec("alert_email_to", "notifications", "emails", "Alert e-mail recipients",
         "comma-separated addresses receiving alert e-mails (empty: no e-mails)",
         static="alert_email_to"),
    Spec("smtp_host", "notifications", "host", "SMTP server",
         "host name or address of the mail server (empty: no e-mails)", static="smtp_host"),
    Spec("smtp_port", "notifications", "int", "SMTP port", "port of the mail server",
         static="smtp_port", minimum=1, maximum=65535),
    Spec("smtp_from", "notifications", "emails", "Sender address",
         "From: address of alert e-mails", static="smtp_from"),
    Spec("alert_notify_attempts", "notifications", "int", "Alert notification attempts",
         "tries per alert notification before it is logged as failed",
         static="alert_notify_attempts", minimum=1, maximum=20),
    Spec("webhook_max_attempts", "notifications", "int", "Webhook delivery attempts",
         "attempts per webhook delivery before it is marked failed",
         static="webhook_max_attempts", minimum=1, maximum=50),
    # security
    Spec("auth_access_ttl_s", "security", "float", "Access-token lifetime",
         "lifetime of the access tokens issued at login and refresh",
         static="auth_access_ttl_s", minimum=60, maximum=86400, unit="s"),
    Spec("auth_refresh_ttl_s", "security", "float", "Session lifetime",
         "lifetime of a session (its refresh token)",
         static="auth_refresh_ttl_s", minimum=300, maximum=90 * 86400, unit="s"),
    Spec("auth_user_max_failures", "security", "int", "Failed logins per user",
         "failed logins for one user name before a lockout",
         static="auth_user_max_failures", minimum=1, maximum=1000),
    Spec("auth_address_max_failures", "security", "int", "Failed logins per address",
         "failed logins from one address before a lockout",
         static="auth_address_max_failures", minimum=1, maximum=100000),
    Spec("auth_failure_window_s", "security", "float", "Failure window",
         "window in which failed logins are counted",
         static="auth_failure_window_s", minimum=10, maximum=86400, unit="s"),
    Spec("auth_lockout_s", "security", "float", "Lockout duration",
         "how long a lockout lasts", static="auth_lockout_s", minimum=1, maximum=86400, unit="s"),
    # storage and network defaults of new VMs
    Spec("default_pool_id", "storage", "id", "Default storage pool",
         "pool of a new VM's disks that name none (empty: the host's own pool \"default\")",
         default=""),
    Spec("default_network_id", "network", "id", "Default network",
         "network of a new VM's NICs that name none (empty: \"default\")", default=""),
)  # fmt: skip
BY_KEY: Mapping[str, Spec] = {s.key: s for s in SPECS}


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """Who changed a key last, and when."""

    by: str
    at: datetime


class FleetSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Only the keys someone changed; the others read their defaults."""

    values: dict[str, fe.Value] = {}
    changed: dict[str, Change] = {}


def check(spec: Spec, raw: Any) -> fe.Value:
    """``raw`` as the key's type, or ``InvalidRequest`` (slug ``invalid-setting``)."""

    def bad(why: str) -> InvalidRequest:
        return InvalidRequest(f"{spec.key}: {why}", slug="invalid-setting")

    if spec.type in ("int", "float"):
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise bad(f"must be a number, not {raw!r}")
        if spec.type == "int" and not float(raw).is_integer():
            raise bad(f"must be a whole number, not {raw!r}")
        value: int | float = int(raw) if spec.type == "int" else float(raw)
        if spec.minimum is not None and value < spec.minimum:
            raise bad(f"must be at least {spec.minimum:g}")
        if spec.maximum is not None and value > spec.maximum:
            raise bad(f"must be at most {spec.maximum:g}")
        return value
    if not isinstance(raw, str):
        raise bad(f"must be a string, not {raw!r}")
    text = raw.strip()
    if len(text) > 1024:
        raise bad("is too long")
    if spec.type == "choice" and text not in spec.choices:
        raise bad(f"must be one of {', '.join(spec.choices)}")
    if spec.type == "emails" and text:
        for part in (p.strip() for p in text.split(",")):
            if not _EMAIL.match(part):
                raise bad(f"{part!r} is not an e-mail address")
        text = ", ".join(p.strip() for p in text.split(","))
    if spec.type == "host" and text and not _HOST.match(text):
        raise bad(f"{text!r} is not a host name or address")
    if spec.type == "id" and text and not _ID.match(text):
        raise bad(f"{text!r} is not an id")
    return text


def current(state: FleetSettings | None, spec: Spec, settings: Settings) -> fe.Value:
    if state is not None and spec.key in state.values:
        return state.values[spec.key]
    return spec.default_from(settings)


def change(
    state: FleetSettings | None, patch: Mapping[str, Any], settings: Settings
) -> list[Event]:
    """One ``settings.changed`` per key whose value differs; nothing when any key is
    unknown or any value bad (``InvalidRequest``)."""
    if not patch:
        raise InvalidRequest("no setting to change", slug="invalid-setting")
    unknown = sorted(k for k in patch if k not in BY_KEY)
    if unknown:
        raise InvalidRequest(f"unknown setting(s): {', '.join(unknown)}", slug="unknown-setting")
    out: list[Event] = []
    for key, raw in patch.items():
        spec = BY_KEY[key]
        new = check(spec, raw)
        old = current(state, spec, settings)
        if new != old:
            out.append(fe.SettingChanged(key=key, old=old, new=new))
    return out


def evolve(state: FleetSettings | None, env: Envelope) -> FleetSettings | None:
    e = env.event
    if not isinstance(e, fe.SettingChanged):
        return state
    base = state or FleetSettings()
    return FleetSettings(
        values={**base.values, e.key: e.new},
        changed={**base.changed, e.key: Change(by=env.actor, at=env.occurred_at)},
    )
