"""Every NATS subject, stream and bucket name LimiQuantix uses, in one place."""

from __future__ import annotations

EVENTS_STREAM = "LQ_EVENTS"
ORDERS_STREAM = "LQ_ORDERS"
REPORTS_STREAM = "LQ_REPORTS"
METRICS_STREAM = "LQ_METRICS"
HEARTBEAT_BUCKET = "lq_heartbeat"
LEADER_BUCKET = "lq_leader"
CREDENTIALS_BUCKET = "lq_credentials"
HOST_LEASE_BUCKET = "lq_host_lease"
"""Each agent's HA lease (``events.ha.HostLease``), renewed with its heartbeat."""
HA_PROTECTION_BUCKET = "lq_ha_protection"
"""The HA-protected VMs of each host (``events.ha.HaProtection``), written by the leader."""
"""Password hashes and API token digests: verifiers kept out of the event log."""
LOGIN_FAILURES_BUCKET = "lq_login_failures"
"""Failed sign-ins per user name and client address, shared by every controlplane replica."""

EVENTS_ALL = "lq.evt.>"
ORDERS_ALL = "lq.host.*.order"
REPORTS_ALL = "lq.host.*.report"
METRICS_ALL = "lq.host.*.metrics"
ENROLL = "lq.enroll"
CHANGES = "lq.changes"


def event_subject(kind: str, aggregate_id: str) -> str:
    return f"lq.evt.{kind}.{aggregate_id}"


def kind_subjects(kind: str) -> str:
    return f"lq.evt.{kind}.*"


def order_subject(host_id: str) -> str:
    return f"lq.host.{host_id}.order"


def report_subject(host_id: str) -> str:
    return f"lq.host.{host_id}.report"


def metrics_subject(host_id: str) -> str:
    return f"lq.host.{host_id}.metrics"


def parse_event_subject(subject: str) -> tuple[str, str]:
    """``lq.evt.vm.<id>`` → ``("vm", "<id>")``."""
    parts = subject.split(".", 3)
    if len(parts) != 4 or parts[:2] != ["lq", "evt"]:
        raise ValueError(f"not an event subject: {subject!r}")
    return parts[2], parts[3]


def console_subject(host_id: str) -> str:
    """Request/reply: the controlplane asks the host's agent to open a console session."""
    return f"lq.host.{host_id}.console"


def console_stream_subject(host_id: str, session_id: str, direction: str) -> str:
    """Core-NATS byte relay of one console session on ``host_id``: ``out`` (host →
    browser), ``in`` (browser → host) and ``close`` (either side ends it). Under the
    host's prefix, so only that host's NATS user may reach it (docs/security.md)."""
    return f"lq.host.{host_id}.console.{session_id}.{direction}"


# -- storage and networks: core request/reply between the controlplane and a host --------
# Everything a host says or hears carries its id as the third token (``lq.host.<id>.…``):
# the server's per-host permissions can then name exactly the subjects of one host, and
# the controlplane checks that a body's ``host_id`` is the subject's (``subject_host``).


def storage_subject(host_id: str) -> str:
    """Request/reply: the controlplane's storage requests to the host's agent."""
    return f"lq.host.{host_id}.storage"


def storage_report_subject(host_id: str) -> str:
    """Request/reply: the host's storage outcomes and pool states to the controlplane."""
    return f"lq.host.{host_id}.storage.report"


STORAGE_REPORTS_ALL = storage_report_subject("*")


def upload_subject(host_id: str, volume_id: str) -> str:
    """Request/reply: the API relays an upload's chunks to the receiving host's agent."""
    return f"lq.host.{host_id}.upload.{volume_id}"


def net_subject(host_id: str) -> str:
    """Request/reply: the controlplane's desired network state to the host's agent."""
    return f"lq.host.{host_id}.net"


def net_hello_subject(host_id: str) -> str:
    """Request/reply: the host's agent asks for its whole network state when it starts."""
    return f"lq.host.{host_id}.net.hello"


NET_HELLOS_ALL = net_hello_subject("*")


def subject_host(subject: str) -> str:
    """``lq.host.<id>.…`` → ``<id>`` (the server let only that host publish there)."""
    parts = subject.split(".")
    if len(parts) < 4 or parts[:2] != ["lq", "host"] or not parts[2]:
        raise ValueError(f"not a host subject: {subject!r}")
    return parts[2]
