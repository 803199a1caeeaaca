"""Permission names, built-in roles and the ``requires`` declaration of every HTTP route.

Why a contract module: command routes live in ``controlplane`` and query routes in
``projections``, and neither may import the other. Both must declare what a caller needs,
and the one auth middleware (wired by ``lq``) must read those declarations. Keeping the
vocabulary here, pure and import-free, lets every package speak it: ``requires`` only sets
an attribute on the handler function, so declaring a permission costs no aiohttp import.

Every route declares exactly one permission. ``PUBLIC`` answers without credentials (only
health, login, token refresh and the dashboard's static files); ``AUTHENTICATED`` needs a
valid caller but no particular permission (who am I, log out, change my own password, my
own API tokens). An undeclared route is refused with 500 by the middleware (fail closed)
and fails ``tests/auth/test_route_permissions.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Final, TypeVar

import msgspec

PUBLIC: Final = "public"
AUTHENTICATED: Final = "authenticated"

ATTRIBUTE: Final = "__lq_permission__"
"""The handler attribute ``requires`` sets; the middleware reads it."""


# -- the permissions -------------------------------------------------------------------

VM_READ: Final = "vm.read"
VM_CREATE: Final = "vm.create"
VM_POWER: Final = "vm.power"
VM_DELETE: Final = "vm.delete"
VM_CONFIGURE: Final = "vm.configure"
VM_CONSOLE: Final = "vm.console"
HOST_READ: Final = "host.read"
HOST_MAINTENANCE: Final = "host.maintenance"
HOST_ENROLL: Final = "host.enroll"
CLUSTER_READ: Final = "cluster.read"
CLUSTER_MANAGE: Final = "cluster.manage"
TASK_READ: Final = "task.read"
EVENT_READ: Final = "event.read"
METRICS_READ: Final = "metrics.read"
ALERT_READ: Final = "alert.read"
ALERT_MANAGE: Final = "alert.manage"
USER_READ: Final = "user.read"
USER_MANAGE: Final = "user.manage"
ROLE_MANAGE: Final = "role.manage"
WEBHOOK_MANAGE: Final = "webhook.manage"
NETWORK_READ: Final = "network.read"
NETWORK_MANAGE: Final = "network.manage"
STORAGE_READ: Final = "storage.read"
STORAGE_MANAGE: Final = "storage.manage"
SETTINGS_READ: Final = "settings.read"
SETTINGS_MANAGE: Final = "settings.manage"

PERMISSIONS: Final[dict[str, str]] = {
    VM_READ: "See VMs, their history and the inventory summary",
    VM_CREATE: "Create VMs",
    VM_POWER: "Start, stop and otherwise change the power state of VMs",
    VM_DELETE: "Delete VMs",
    VM_CONFIGURE: "Change VMs: disks, NICs, CPU/memory, snapshots and templates",
    VM_CONSOLE: "Open the serial console and VNC display of running VMs",
    HOST_READ: "See hosts and their history",
    HOST_MAINTENANCE: "Put hosts into and out of maintenance",
    HOST_ENROLL: "Create, see and revoke the one-time join tokens new hosts enrol with",
    CLUSTER_READ: "See clusters, resource pools, affinity rules and placement decisions",
    CLUSTER_MANAGE: "Create, change and delete clusters, resource pools and affinity rules;"
    " label hosts and move them between clusters",
    TASK_READ: "See tasks",
    EVENT_READ: "Read the audit log (every event, who and why)",
    METRICS_READ: "Read monitoring metrics",
    ALERT_READ: "See alerts",
    ALERT_MANAGE: "Acknowledge alerts and change alert rules",
    USER_READ: "See users, roles, role bindings and everyone's API tokens",
    USER_MANAGE: "Create and delete users, set passwords, revoke anyone's API tokens",
    ROLE_MANAGE: "Create, change and delete custom roles; bind roles to users",
    WEBHOOK_MANAGE: "See, create, change and delete webhook subscriptions and their deliveries",
    NETWORK_READ: "See virtual networks, their addresses and security groups",
    NETWORK_MANAGE: "Create, change and delete virtual networks and security groups; apply groups",
    STORAGE_READ: "See storage pools and volumes",
    STORAGE_MANAGE: "Create, attach, refresh and delete storage pools; create, resize, clone,"
    " import and delete volumes",
    SETTINGS_READ: "See the fleet settings, who changed them, and the process settings",
    SETTINGS_MANAGE: "Change fleet settings (placement, defaults, lockout, notifications)",
}
"""Every permission with what it allows, for the API and the dashboard."""

READ_ONLY: Final = frozenset(p for p in PERMISSIONS if p.endswith(".read") and p != USER_READ)

BUILTIN_ROLES: Final[dict[str, frozenset[str]]] = {
    "admin": frozenset(PERMISSIONS),
    "operator": READ_ONLY
    | {VM_CREATE, VM_POWER, VM_DELETE, VM_CONFIGURE, VM_CONSOLE, HOST_MAINTENANCE, ALERT_MANAGE}
    | {CLUSTER_MANAGE}
    | {NETWORK_MANAGE}
    | {STORAGE_MANAGE},
    "viewer": READ_ONLY,
}
BUILTIN_DESCRIPTIONS: Final[dict[str, str]] = {
    "admin": "Everything, including users, roles and every API token",
    "operator": "Runs the fleet: everything about VMs, hosts and alerts; no user management",
    "viewer": "Sees the fleet, changes nothing",
}

GLOBAL: Final = "global"
"""The scope of a role binding that applies everywhere; otherwise ``cluster:<id>``."""


def valid_scope(scope: str) -> bool:
    return scope == GLOBAL or (scope.startswith("cluster:") and len(scope) > len("cluster:"))


def unknown(permissions: Iterable[str]) -> list[str]:
    """The names in ``permissions`` that are not permissions."""
    return sorted(set(permissions) - PERMISSIONS.keys())


# -- declaring ------------------------------------------------------------------------

F = TypeVar("F", bound=Callable[..., object])


def requires(permission: str) -> Callable[[F], F]:
    """Declare the permission a route handler needs (``PUBLIC``/``AUTHENTICATED`` included)."""
    if permission not in PERMISSIONS and permission not in (PUBLIC, AUTHENTICATED):
        raise ValueError(f"unknown permission {permission!r}")

    def mark(handler: F) -> F:
        setattr(handler, ATTRIBUTE, permission)
        return handler

    return mark


def declared(handler: object) -> str | None:
    """The permission a handler declared, or None."""
    value = getattr(handler, ATTRIBUTE, None)
    return value if isinstance(value, str) else None


# -- who is calling -------------------------------------------------------------------


class Binding(msgspec.Struct, frozen=True, kw_only=True):
    """A role granted to a user, globally or on one cluster."""

    role: str
    scope: str = GLOBAL


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller, as every route sees it.

    ``permissions`` are the global ones (from globally scoped bindings), already narrowed to
    an API token's scopes; ``scoped`` holds what cluster-scoped bindings add on one cluster.
    """

    user_id: str
    username: str
    via: str  # "session" or "token"
    session_id: str = ""
    token_id: str = ""
    permissions: frozenset[str] = frozenset()
    scoped: dict[str, frozenset[str]] = {}

    @property
    def actor(self) -> str:
        return f"user:{self.username}"

    def allows(self, permission: str, cluster_id: str | None = None) -> bool:
        """Whether the caller holds ``permission`` globally, or on ``cluster_id``."""
        if permission in (PUBLIC, AUTHENTICATED) or permission in self.permissions:
            return True
        if cluster_id is None:
            return False
        return permission in self.scoped.get(cluster_id, frozenset())


CALLER: ContextVar[Principal | None] = ContextVar("lq_caller", default=None)
"""The caller of the request being handled, set by the auth middleware around the handler.

A context variable rather than request storage, so that route modules of any package read
it without importing aiohttp or the controlplane (aiohttp runs each request in its own
task, which gives each request its own value)."""


def caller() -> Principal | None:
    """The authenticated caller of the current request (None on public routes without one)."""
    return CALLER.get()
