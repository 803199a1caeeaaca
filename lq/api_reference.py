"""What each HTTP route is, for the OpenAPI document: summary, parameters, body, answer.

Why a table here and not decorators on the handlers: routes live in three packages that
must not import each other, and their body types (``controlplane.api.*``) and answer types
(``events.views``) meet only in ``lq``, which composes the app. The types below are the
very msgspec Structs the handlers decode with, so the schemas cannot drift from the code;
``tests/operate/test_openapi.py`` compares this table with the live route table (no
undocumented route, no documented route that does not exist). Add a row with every route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controlplane.api import access, alerts, auth, storage, tasks, vm_devices, vms, webhooks
from controlplane.api import affinity as affinity_api
from controlplane.api import alert_rules as alert_rules_api
from controlplane.api import channels as channels_api
from controlplane.api import clusters as cluster_api
from controlplane.api import drs as drs_api
from controlplane.api import ha as ha_api
from controlplane.api import join_tokens as join_tokens_api
from controlplane.api import networks as net_api
from controlplane.api import security_groups as sg_api
from controlplane.api import settings as settings_api
from events import views

Json = dict[str, Any]


@dataclass(frozen=True)
class Param:
    name: str
    description: str
    kind: str = "string"  # or "integer", "boolean"


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    body: Any = None
    answer: Any = Json  # a msgspec-describable type, or None for no body
    status: int = 200
    params: tuple[Param, ...] = field(default_factory=tuple)
    content_type: str = "application/json"


LIST = (
    Param("limit", "items per page (1-500, default 50)", "integer"),
    Param("cursor", "the next_cursor of the previous page"),
)
MIN_SEQ = Param("min_seq", "wait until the read model has applied this sequence", "integer")
NO_WAIT = Param("min_seq", "accepted as on every GET; this answer is not from the read model")
RULES_SEQ = Param("min_seq", "wait until this controlplane applied that sequence (rules)")
SCHEMA = Param("schema", "answer from a read model built by `lq replay --into <name>`")
EVENT_FILTERS = (
    Param("type", "exact types, comma-separated, or a prefix ending in '.'"),
    Param("actor", "who caused the event"),
    Param("q", "substring of aggregate id, actor or type"),
    Param("since", "sequence or ISO time (inclusive)"),
    Param("until", "sequence or ISO time (inclusive)"),
    Param("order", "asc (default) or desc"),
)
AS_OF = Param("as_of", "sequence or ISO time: the entity as it was then")
DIFF = (Param("from", "sequence or ISO time"), Param("to", "sequence or ISO time"))
METRIC = (
    Param("metric", "cpu (default), memory, disk, net"),
    Param("range", "15m, 1h (default), 6h, 1d, 7d, 30d, 1y"),
    Param("points", "10-2000, default 300", "integer"),
    Param("resolution", "raw, 1m, 1h (default: automatic)"),
)
V1 = "/api/v1"


def _q(*params: Param) -> tuple[Param, ...]:
    """Query parameters of a read route: its own plus ``min_seq`` and ``schema``."""
    return (*params, MIN_SEQ, SCHEMA)


OPERATIONS: tuple[Op, ...] = (
    # -- health and documentation -----------------------------------------------------
    Op("GET", "/health", "Process up, with its uptime", "health"),
    Op("GET", "/live", "200 while the event loop runs", "health"),
    Op("GET", "/ready", "NATS and PostgreSQL answer and the projector is caught up", "health"),
    Op("GET", "/metrics", "Prometheus metrics", "health", answer=str, content_type="text/plain"),
    Op("GET", "/api/openapi.json", "This document", "health"),
    Op(
        "GET",
        "/api/docs",
        "The browsable API reference",
        "health",
        answer=str,
        content_type="text/html",
    ),
    # -- authentication and access ----------------------------------------------------
    Op(
        "POST", f"{V1}/auth/login", "Sign in: access and refresh token", "auth", body=auth.LoginBody
    ),
    Op("POST", f"{V1}/auth/refresh", "Rotate the token pair", "auth", body=auth.RefreshBody),
    Op("POST", f"{V1}/auth/logout", "End this session", "auth", answer=None, status=204),
    Op("POST", f"{V1}/auth/password", "Change my password", "auth", body=auth.PasswordBody),
    Op("GET", f"{V1}/auth/me", "Who am I, with my permissions", "auth"),
    Op("GET", f"{V1}/permissions", "Every permission and the built-in roles", "auth"),
    Op("POST", f"{V1}/users", "Create a user", "access", body=access.CreateUserBody, status=201),
    Op("DELETE", f"{V1}/users/{{user_id}}", "Delete a user", "access", status=202),
    Op(
        "POST",
        f"{V1}/users/{{user_id}}/actions/{{verb}}",
        "set-password (body {password}), disable or enable a user",
        "access",
        body=access.SetPasswordBody,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/users/{{user_id}}/role-bindings",
        "Bind a role to a user",
        "access",
        body=access.BindingBody,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/users/{{user_id}}/role-bindings/actions/remove",
        "Remove a role binding",
        "access",
        body=access.BindingBody,
        status=202,
    ),
    Op("POST", f"{V1}/roles", "Create a custom role", "access", body=access.RoleBody, status=201),
    Op(
        "PUT",
        f"{V1}/roles/{{role}}",
        "Change a custom role",
        "access",
        body=access.UpdateRoleBody,
        status=202,
    ),
    Op("DELETE", f"{V1}/roles/{{role}}", "Delete a custom role", "access", status=202),
    Op(
        "POST",
        f"{V1}/tokens",
        "Create an API token (shown once)",
        "access",
        body=access.TokenBody,
        status=201,
    ),
    Op("DELETE", f"{V1}/tokens/{{token_id}}", "Revoke an API token", "access", status=202),
    Op(
        "POST",
        f"{V1}/join-tokens",
        "Create a one-time host join token (shown once)",
        "access",
        body=join_tokens_api.JoinTokenBody,
        status=201,
    ),
    Op(
        "DELETE",
        f"{V1}/join-tokens/{{token_id}}",
        "Revoke a host join token",
        "access",
        status=202,
    ),
    Op(
        "GET",
        f"{V1}/join-tokens",
        "Host join tokens with their state (never the secret)",
        "access",
        params=_q(Param("state", "active, used, revoked, expired (comma-separated)"), *LIST),
    ),
    Op(
        "GET",
        f"{V1}/users",
        "Users",
        "access",
        params=_q(Param("state", ""), Param("q", ""), *LIST),
    ),
    Op("GET", f"{V1}/users/{{id}}", "One user", "access", params=_q()),
    Op("GET", f"{V1}/roles", "Roles", "access", params=_q()),
    Op(
        "GET",
        f"{V1}/tokens",
        "API tokens (mine; others' with user.read)",
        "access",
        params=_q(Param("user_id", ""), Param("all", ""), Param("include_revoked", "")),
    ),
    # -- VMs --------------------------------------------------------------------------
    Op(
        "POST",
        f"{V1}/vms",
        "Create a VM (placed on a host by the scheduler)",
        "vms",
        body=vms.CreateVmBody,
        answer=vms.Accepted,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/actions/{{verb}}",
        "start, stop (hard power-off), pause or resume a VM",
        "vms",
        answer=vms.Accepted,
        status=202,
    ),
    *(
        Op("POST", f"{V1}/vms/{{vm_id}}/actions/{verb}", summary, "vms", body, vms.Accepted, 202)
        for verb, summary, body in (
            (
                "shutdown",
                "Graceful (ACPI) shutdown, forced after the timeout if asked",
                vms.ShutdownBody,
            ),
            ("reboot", "Reboot (ACPI, or a hardware reset with force)", vms.RebootBody),
            ("clone", "Copy a stopped VM or a template (answers the new VM)", vms.CloneBody),
            ("resize", "Change vCPUs and memory (cold, or hot-plug with live)", vms.ResizeBody),
            ("convert-to-template", "Make a stopped VM a template", None),
            ("convert-to-vm", "Make a template a VM again", None),
        )
    ),
    Op(
        "DELETE",
        f"{V1}/vms/{{vm_id}}",
        "Delete a VM (with its disks unless keep_disks)",
        "vms",
        answer=vms.Accepted,
        status=202,
        params=(
            Param("keep_disks", "leave the volumes in their pool", "boolean"),
            Param("delete_snapshots", "needed when the VM has snapshots", "boolean"),
        ),
    ),
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/snapshots",
        "Take a snapshot (memory: with RAM state)",
        "vms",
        vm_devices.SnapshotBody,
        vms.Accepted,
        202,
    ),
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/snapshots/{{snapshot_id}}/actions/revert",
        "Revert a VM to a snapshot",
        "vms",
        answer=vms.Accepted,
        status=202,
    ),
    Op(
        "DELETE",
        f"{V1}/vms/{{vm_id}}/snapshots/{{snapshot_id}}",
        "Delete a snapshot (its children move to its parent)",
        "vms",
        answer=vms.Accepted,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/disks",
        "Attach a new volume (size_gib) or an existing one (volume)",
        "vms",
        vms.DiskBody,
        vms.Accepted,
        202,
    ),
    Op(
        "DELETE",
        f"{V1}/vms/{{vm_id}}/disks/{{disk_id}}",
        "Detach a disk",
        "vms",
        answer=vms.Accepted,
        status=202,
        params=(Param("delete_volume", "also remove the volume", "boolean"),),
    ),
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/disks/{{disk_id}}/actions/resize",
        "Grow a disk",
        "vms",
        vm_devices.DiskResizeBody,
        vms.Accepted,
        202,
    ),
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/nics",
        "Attach a NIC (MAC chosen unless given)",
        "vms",
        vms.NicBody,
        vms.Accepted,
        202,
    ),
    Op(
        "PATCH",
        f"{V1}/vms/{{vm_id}}/nics/{{nic_id}}",
        "Move a NIC to another network (its MAC stays)",
        "vms",
        vm_devices.NicUpdateBody,
        vms.Accepted,
        202,
    ),
    Op(
        "DELETE",
        f"{V1}/vms/{{vm_id}}/nics/{{nic_id}}",
        "Detach a NIC",
        "vms",
        answer=vms.Accepted,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/tasks/{{task_id}}/actions/cancel",
        "Cancel a queued task, or a running one where that is safe",
        "tasks",
        tasks.CancelBody,
        vms.Accepted,
        202,
    ),
    Op(
        "GET",
        f"{V1}/vms",
        "VMs",
        "vms",
        answer=views.VmPage,
        params=_q(
            Param("state", "comma-separated states"),
            Param("host_id", ""),
            Param("q", "name or id substring"),
            Param("sort", "name, -name, state, created_at, -updated_at …"),
            Param("template", "true: templates only; false: VMs only (default both)", "boolean"),
            *LIST,
        ),
    ),
    Op("GET", f"{V1}/vms/{{id}}", "One VM", "vms", answer=views.VmView, params=_q(AS_OF)),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/snapshots",
        "A VM's snapshot tree, oldest first, with the current snapshot",
        "vms",
        answer=views.SnapshotPage,
        params=_q(AS_OF),
    ),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/disks",
        "A VM's disks",
        "vms",
        answer=views.DiskPage,
        params=_q(AS_OF),
    ),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/nics",
        "A VM's NICs with their MAC and last known IP",
        "vms",
        answer=views.NicPage,
        params=_q(AS_OF),
    ),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/events",
        "A VM's history",
        "vms",
        answer=views.EventPage,
        params=_q(*LIST, *EVENT_FILTERS),
    ),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/diff",
        "What changed on a VM between two points",
        "vms",
        params=_q(*DIFF),
    ),
    Op("GET", f"{V1}/vms/{{id}}/metrics", "A VM's metrics series", "monitoring", params=METRIC),
    # -- hosts ------------------------------------------------------------------------
    Op(
        "GET",
        f"{V1}/hosts",
        "Hosts",
        "hosts",
        answer=views.HostPage,
        params=_q(Param("state", ""), Param("q", ""), Param("sort", ""), *LIST),
    ),
    Op("GET", f"{V1}/hosts/{{id}}", "One host", "hosts", answer=views.HostView, params=_q(AS_OF)),
    Op(
        "GET",
        f"{V1}/hosts/{{id}}/events",
        "A host's history",
        "hosts",
        answer=views.EventPage,
        params=_q(*LIST, *EVENT_FILTERS),
    ),
    Op("GET", f"{V1}/hosts/{{id}}/diff", "What changed on a host", "hosts", params=_q(*DIFF)),
    Op("GET", f"{V1}/hosts/{{id}}/metrics", "A host's metrics series", "monitoring", params=METRIC),
    Op(
        "GET",
        f"{V1}/hosts/{{id}}/pools",
        "A host's storage pools",
        "monitoring",
        params=(NO_WAIT,),
    ),
    # -- tasks and events -------------------------------------------------------------
    Op(
        "GET",
        f"{V1}/tasks",
        "Tasks, newest first",
        "tasks",
        answer=views.TaskPage,
        params=_q(Param("state", ""), Param("target_id", ""), *LIST),
    ),
    Op("GET", f"{V1}/tasks/{{id}}", "One task", "tasks", answer=views.TaskView, params=_q(AS_OF)),
    Op(
        "GET",
        f"{V1}/tasks/{{id}}/events",
        "Every event of a task",
        "tasks",
        answer=views.EventPage,
        params=_q(*LIST, *EVENT_FILTERS),
    ),
    Op("GET", f"{V1}/tasks/{{id}}/diff", "What changed on a task", "tasks", params=_q(*DIFF)),
    Op(
        "GET",
        f"{V1}/tasks/{{id}}/trace",
        "Request → events → resulting state",
        "tasks",
        params=_q(),
    ),
    Op(
        "GET",
        f"{V1}/events",
        "The audit log, oldest first after after_seq",
        "events",
        answer=views.EventPage,
        params=_q(
            Param("kind", ""),
            Param("aggregate_id", ""),
            Param("correlation_id", ""),
            Param("after_seq", "", "integer"),
            *LIST,
            *EVENT_FILTERS,
        ),
    ),
    Op("GET", f"{V1}/stats", "Inventory summary", "events", params=_q()),
    Op("GET", f"{V1}/search", "Find VMs and hosts", "events", params=_q(Param("q", ""), LIST[0])),
    Op(
        "GET",
        f"{V1}/changes",
        "WebSocket of read-model change notifications",
        "events",
        answer=None,
        status=101,
        params=(Param("since", "last sequence seen", "integer"),),
    ),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/console/{{kind}}",
        "WebSocket to a running VM's serial console (kind serial) or VNC display (kind vnc)",
        "vms",
        answer=None,
        status=101,
    ),
    # -- monitoring and alerts --------------------------------------------------------
    Op(
        "GET",
        f"{V1}/metrics/latest",
        "Latest sample per host or VM",
        "monitoring",
        params=(Param("kind", ""), Param("host_id", ""), Param("sort", ""), LIST[0]),
    ),
    Op(
        "GET",
        f"{V1}/alerts",
        "Alerts",
        "alerts",
        params=_q(
            Param("status", ""), Param("severity", ""), Param("q", ""), Param("scope_id", "")
        ),
    ),
    Op("GET", f"{V1}/alerts/{{id}}", "One alert", "alerts", params=_q()),
    Op(
        "POST",
        f"{V1}/alerts/{{id}}/actions/{{verb}}",
        "acknowledge or resolve an alert",
        "alerts",
        body=alerts.NoteBody,
        status=202,
    ),
    Op("GET", f"{V1}/silences", "Silences", "alerts", params=_q()),
    Op(
        "POST",
        f"{V1}/silences",
        "Silence a rule or scope",
        "alerts",
        body=alerts.SilenceBody,
        status=202,
    ),
    Op("DELETE", f"{V1}/silences/{{id}}", "End a silence", "alerts", status=202),
    Op("GET", f"{V1}/alert-rules", "Alert rules in effect", "alerts", params=(RULES_SEQ,)),
    Op("GET", f"{V1}/alert-rules/{{id}}", "One alert rule", "alerts", params=(RULES_SEQ,)),
    Op(
        "POST",
        f"{V1}/alert-rules",
        "Add a custom metric-threshold or event rule",
        "alerts",
        body=alert_rules_api.CreateBody,
        status=201,
    ),
    Op(
        "PATCH",
        f"{V1}/alert-rules/{{id}}",
        "Change a rule: enabled, threshold, durations, severity, scope",
        "alerts",
        body=alert_rules_api.UpdateBody,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/alert-rules/{{id}}/actions/reset",
        "Return a shipped rule to its starting form",
        "alerts",
        status=202,
    ),
    Op("DELETE", f"{V1}/alert-rules/{{id}}", "Delete a custom rule", "alerts", status=202),
    Op("GET", f"{V1}/notification-channels", "Notification channels", "alerts", params=_q()),
    Op(
        "GET",
        f"{V1}/notification-channels/{{id}}",
        "One notification channel",
        "alerts",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/notification-channels",
        "Add a webhook or e-mail channel",
        "alerts",
        body=channels_api.CreateBody,
        status=201,
    ),
    Op(
        "PATCH",
        f"{V1}/notification-channels/{{id}}",
        "Change a channel",
        "alerts",
        body=channels_api.UpdateBody,
        status=202,
    ),
    Op("DELETE", f"{V1}/notification-channels/{{id}}", "Delete a channel", "alerts", status=202),
    Op(
        "POST",
        f"{V1}/notification-channels/{{id}}/actions/test",
        "Send a test notice now; its outcome",
        "alerts",
    ),
    # -- settings (docs/settings.md) -------------------------------------------------
    Op(
        "GET",
        f"{V1}/settings",
        "Fleet settings: value, default, bounds, who changed each last",
        "settings",
        answer=settings_api.SettingsView,
    ),
    Op(
        "PATCH",
        f"{V1}/settings",
        "Change fleet settings {key: value}: all or nothing, one settings.changed each",
        "settings",
        body=Json,
        answer=settings_api.SettingsView,
    ),
    Op(
        "GET",
        f"{V1}/settings/process",
        "This process's static settings and where each came from (secrets redacted)",
        "settings",
        params=(NO_WAIT,),
    ),
    # -- webhook subscriptions (docs/webhooks.md) -------------------------------------
    Op(
        "GET",
        f"{V1}/webhooks",
        "Webhook subscriptions with delivery counts",
        "webhooks",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/webhooks",
        "Subscribe a URL (the signing secret is in this answer only)",
        "webhooks",
        body=webhooks.CreateBody,
        status=201,
    ),
    Op("GET", f"{V1}/webhooks/{{id}}", "One webhook subscription", "webhooks", params=_q()),
    Op(
        "PATCH",
        f"{V1}/webhooks/{{id}}",
        "Change name, URL, filters or enabled",
        "webhooks",
        body=webhooks.UpdateBody,
        status=202,
    ),
    Op("DELETE", f"{V1}/webhooks/{{id}}", "Delete a subscription", "webhooks", status=202),
    Op(
        "GET",
        f"{V1}/webhooks/{{id}}/deliveries",
        "Delivery log, newest first, with attempts",
        "webhooks",
        params=_q(*LIST, Param("status", "pending, delivered, failed, cancelled")),
    ),
    Op(
        "POST",
        f"{V1}/webhooks/{{id}}/actions/test",
        "Queue a test delivery (webhook.pinged)",
        "webhooks",
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/webhooks/{{id}}/actions/rotate-secret",
        "A new signing secret (in this answer only)",
        "webhooks",
    ),
    # -- storage pools and volumes (docs/storage.md) ----------------------------------
    Op(
        "GET",
        f"{V1}/storage-pools",
        "Storage pools with their hosts' states and totals",
        "storage",
        params=_q(*LIST, Param("type", "dir, netfs, logical, rbd, iscsi"), Param("host_id", "")),
    ),
    Op(
        "POST",
        f"{V1}/storage-pools",
        "Define a pool (type and its params), optionally attached to hosts",
        "storage",
        body=storage.PoolBody,
        status=201,
    ),
    Op("GET", f"{V1}/storage-pools/{{id}}", "One storage pool", "storage", params=_q()),
    Op(
        "PATCH",
        f"{V1}/storage-pools/{{id}}",
        "Change name, overcommit or declared capacity",
        "storage",
        body=storage.PoolPatch,
        status=202,
    ),
    Op("DELETE", f"{V1}/storage-pools/{{id}}", "Delete an empty pool", "storage", status=202),
    Op(
        "POST",
        f"{V1}/storage-pools/{{id}}/actions/{{verb}}",
        "attach / detach {host_id}; refresh {host_id?}",
        "storage",
        body=storage.HostBody,
        status=202,
    ),
    Op(
        "GET",
        f"{V1}/volumes",
        "Volumes with their pool and the VMs using them",
        "storage",
        params=_q(*LIST, Param("pool_id", "one pool's"), Param("state", ""), Param("q", "")),
    ),
    Op(
        "POST",
        f"{V1}/volumes",
        "Create a volume (reserved against the pool's limit)",
        "storage",
        body=storage.VolumeBody,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/volumes/import",
        "Import an image from a URL into a new volume",
        "storage",
        body=storage.ImportBody,
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/volumes/upload",
        "Upload a file (the raw body, Content-Length required) into a new volume",
        "storage",
        status=202,
        params=(
            Param("pool_id", "the pool"),
            Param("name", "the volume's name"),
            Param("format", "qcow2 (default) or raw"),
        ),
    ),
    Op("GET", f"{V1}/volumes/{{id}}", "One volume", "storage", params=_q()),
    Op(
        "DELETE",
        f"{V1}/volumes/{{id}}",
        "Delete a volume (?force=true detaches it from its VMs first)",
        "storage",
        status=202,
        params=(Param("force", "detach it from VMs first", "boolean"),),
    ),
    Op(
        "POST",
        f"{V1}/volumes/{{id}}/actions/{{verb}}",
        "resize {size_gib} (grow only) / clone {name}",
        "storage",
        body=storage.ResizeBody,
        status=202,
    ),
    # -- virtual networks and security groups (docs/networking.md) -------------------------
    Op(
        "GET",
        f"{V1}/networks",
        "Virtual networks with DHCP, host states and connected VMs",
        "networking",
        params=_q(Param("type", "isolated, nat, bridge, vlan (comma-separated)")),
    ),
    Op(
        "POST",
        f"{V1}/networks",
        "Create a network (realised on every host)",
        "networking",
        body=net_api.CreateBody,
        status=201,
    ),
    Op(
        "GET",
        f"{V1}/networks/{{id}}",
        "One network with its connected VMs",
        "networking",
        params=_q(),
    ),
    Op(
        "PATCH",
        f"{V1}/networks/{{id}}",
        "Change name, DNS, DHCP range or MTU",
        "networking",
        body=net_api.UpdateBody,
        status=202,
    ),
    Op("DELETE", f"{V1}/networks/{{id}}", "Delete a network no NIC uses", "networking", status=202),
    Op(
        "GET",
        f"{V1}/networks/{{id}}/addresses",
        "Addresses allocated to NICs (and failed allocations)",
        "networking",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/networks/{{id}}/reservations",
        "Add a static DHCP reservation (mac → ip)",
        "networking",
        body=net_api.ReservationBody,
        status=202,
    ),
    Op(
        "DELETE",
        f"{V1}/networks/{{id}}/reservations/{{mac}}",
        "Remove a static reservation",
        "networking",
        status=202,
    ),
    Op(
        "GET",
        f"{V1}/security-groups",
        "Security groups with their rules",
        "networking",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/security-groups",
        "Create a security group (ordered rules)",
        "networking",
        body=sg_api.CreateBody,
        status=201,
    ),
    Op("GET", f"{V1}/security-groups/{{id}}", "One security group", "networking", params=_q()),
    Op(
        "PATCH",
        f"{V1}/security-groups/{{id}}",
        "Change name, description, or replace the rules",
        "networking",
        body=sg_api.UpdateBody,
        status=202,
    ),
    Op(
        "DELETE",
        f"{V1}/security-groups/{{id}}",
        "Delete a group no NIC and no other group uses",
        "networking",
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/security-groups/{{id}}/rules",
        "Add a rule (at position, default last)",
        "networking",
        body=sg_api.RuleBody,
        status=201,
    ),
    Op(
        "DELETE",
        f"{V1}/security-groups/{{id}}/rules/{{rule_id}}",
        "Remove a rule",
        "networking",
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/security-groups/{{id}}/actions/{{verb}}",
        "apply / remove {vm_id, nic_id}: filter a NIC with the group, or stop",
        "networking",
        body=sg_api.NicBody,
        status=202,
    ),
    # -- high availability and DRS (docs/ha.md, docs/drs.md) ---------------------------
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/actions/set-ha",
        "Switch HA protection on or off, with its restart priority",
        "vms",
        ha_api.SetHaBody,
        vms.Accepted,
        202,
    ),
    Op(
        "GET",
        f"{V1}/drs/recommendations",
        "DRS recommendations, newest first",
        "drs",
        params=_q(
            Param("state", "comma-separated"), Param("cluster_id", ""), Param("vm_id", ""), *LIST
        ),
    ),
    Op("GET", f"{V1}/drs/recommendations/{{id}}", "One DRS recommendation", "drs", params=_q()),
    Op(
        "POST",
        f"{V1}/drs/recommendations/{{rec_id}}/actions/{{verb}}",
        "approve, reject ({reason}) or apply (opens its migration task) a recommendation",
        "drs",
        body=drs_api.RejectBody,
        status=202,
    ),
    # -- clusters, placement, maintenance, migration (docs/clusters.md) -------------------
    Op(
        "POST",
        f"{V1}/vms/{{vm_id}}/actions/migrate",
        "Migrate a running (live) or stopped (cold) VM to a host, or wherever placement says",
        "vms",
        cluster_api.MigrateBody,
        vms.Accepted,
        202,
    ),
    Op(
        "GET",
        f"{V1}/vms/{{id}}/placement",
        "Every placement decision about the VM: candidates, why each was refused, scores",
        "clusters",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/hosts/{{host_id}}/actions/enter-maintenance",
        "Enter maintenance: move every VM away (409 with the reason when they cannot fit)",
        "hosts",
        status=202,
    ),
    Op(
        "POST",
        f"{V1}/hosts/{{host_id}}/actions/exit-maintenance",
        "Leave maintenance: the host takes VMs again",
        "hosts",
        status=202,
    ),
    Op("PATCH", f"{V1}/hosts/{{host_id}}", "Set the host's labels", "hosts", cluster_api.HostPatch),
    Op(
        "DELETE",
        f"{V1}/hosts/{{host_id}}",
        "Remove a host from the inventory (in maintenance, no VMs; 409 naming them)",
        "hosts",
        params=(Param("force", "also a down or disconnected host", "boolean"),),
    ),
    Op(
        "GET",
        f"{V1}/clusters",
        "Clusters with hosts, capacity and allocation",
        "clusters",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/clusters",
        "Create a cluster (HA and DRS settings)",
        "clusters",
        cluster_api.ClusterBody,
        status=201,
    ),
    Op(
        "GET",
        f"{V1}/clusters/{{id}}",
        "One cluster with its hosts, VMs and pools",
        "clusters",
        params=_q(),
    ),
    Op(
        "PATCH",
        f"{V1}/clusters/{{cluster_id}}",
        "Change a cluster's name or settings",
        "clusters",
        cluster_api.ClusterPatch,
    ),
    Op("DELETE", f"{V1}/clusters/{{cluster_id}}", "Delete a cluster without hosts", "clusters"),
    Op(
        "POST",
        f"{V1}/clusters/{{cluster_id}}/actions/{{verb}}",
        "add-host / remove-host {host_id}",
        "clusters",
        cluster_api.HostRef,
    ),
    Op(
        "GET",
        f"{V1}/clusters/{{id}}/resource-pools",
        "A cluster's resource pools and usage",
        "clusters",
        params=_q(),
    ),
    Op(
        "POST",
        f"{V1}/clusters/{{cluster_id}}/resource-pools",
        "Create a resource pool (reservations, limits)",
        "clusters",
        cluster_api.PoolBody,
        status=201,
    ),
    Op(
        "PATCH",
        f"{V1}/clusters/{{cluster_id}}/resource-pools/{{pool_id}}",
        "Change a resource pool",
        "clusters",
        cluster_api.PoolBody,
    ),
    Op(
        "DELETE",
        f"{V1}/clusters/{{cluster_id}}/resource-pools/{{pool_id}}",
        "Delete a resource pool without VMs",
        "clusters",
    ),
    Op("GET", f"{V1}/affinity-rules", "Affinity rules", "clusters", params=_q()),
    Op(
        "POST",
        f"{V1}/affinity-rules",
        "Create a VM-VM or VM-host affinity rule",
        "clusters",
        affinity_api.RuleBody,
        status=201,
    ),
    Op(
        "PATCH",
        f"{V1}/affinity-rules/{{rule_id}}",
        "Change an affinity rule",
        "clusters",
        affinity_api.RulePatch,
    ),
    Op("DELETE", f"{V1}/affinity-rules/{{rule_id}}", "Delete an affinity rule", "clusters"),
)
