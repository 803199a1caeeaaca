"""Reports: what an agent tells the controlplane (``lq.host.<id>.report``) and enrolment.

Reports are claims, not facts: the controlplane checks each against the aggregate (is
this VM assigned to that host?) before turning it into a domain event.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.vm import VmState


class OrderDone(msgspec.Struct, frozen=True, kw_only=True, tag="report.order_done"):
    """The order's effect is in place; ``state`` is the domain state seen afterwards.

    ``forced`` is true when a graceful shutdown ended in a hard power-off; ``note`` is a
    remark for the task (e.g. "quiesce not supported: crash-consistent snapshot").
    """

    order_id: str
    vm_id: str
    operation: str
    state: VmState
    forced: bool = False
    note: str = ""


class OrderFailed(msgspec.Struct, frozen=True, kw_only=True, tag="report.order_failed"):
    order_id: str
    vm_id: str
    operation: str
    error: str
    state: VmState | None = None
    permanent: bool = True


class OrderProgress(msgspec.Struct, frozen=True, kw_only=True, tag="report.order_progress"):
    order_id: str
    vm_id: str
    percent: int
    message: str = ""


class DomainSeen(msgspec.Struct, frozen=True, kw_only=True):
    vm_id: str
    name: str
    state: VmState


class Inventory(msgspec.Struct, frozen=True, kw_only=True, tag="report.inventory"):
    """Every domain the hypervisor has that LimiQuantix manages: sent on start (reconcile)."""

    domains: list[DomainSeen]


class DomainChanged(msgspec.Struct, frozen=True, kw_only=True, tag="report.domain_changed"):
    """A libvirt lifecycle event for one managed domain."""

    vm_id: str
    state: VmState
    reason: str = ""


class NicAddress(msgspec.Struct, frozen=True, kw_only=True, tag="report.nic_address"):
    """The IP address a NIC holds (DHCP lease or guest agent), or "" when it lost it."""

    vm_id: str
    nic_id: str
    ip: str


AnyReport = OrderDone | OrderFailed | OrderProgress | Inventory | DomainChanged | NicAddress


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The message on ``lq.host.<host_id>.report``; ``Nats-Msg-Id`` is ``report_id``."""

    report_id: str
    host_id: str
    task_id: str | None = None
    sent_at: datetime
    traceparent: str | None = None
    body: AnyReport = msgspec.field(name="report")


class EnrollRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Sent once on agent start (request/reply on ``lq.enroll``)."""

    host_id: str | None = None
    name: str
    uri: str
    cpus: int
    memory_mib: int
    join_token: str | None = None
    nkey: str | None = None
    """The public key of the host's own NATS user (``events.natsauth``; docs/security.md)."""
    nkey_proof: str | None = None
    """Signature by that key over ``events.natsauth.enroll_proof_payload`` (base64)."""


class EnrollReply(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    host_id: str = ""
    error: str = ""
    user_jwt: str = ""
    """In NATS JWT mode: the host's user JWT, signed by the account (docs/security.md)."""
    heartbeat_interval_s: float | None = None
    """How often the host beats, derived from the controlplane's ``heartbeat_timeout_s``
    (None: a controlplane that does not say; the agent keeps its own setting)."""


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True):
    """Value of the host's key in the ``lq_heartbeat`` KV bucket."""

    host_id: str
    at: datetime
    domains: int = 0


REPORT_DECODER = msgspec.json.Decoder(Report)
ENROLL_REQUEST_DECODER = msgspec.json.Decoder(EnrollRequest)
ENROLL_REPLY_DECODER = msgspec.json.Decoder(EnrollReply)
HEARTBEAT_DECODER = msgspec.json.Decoder(Heartbeat)
