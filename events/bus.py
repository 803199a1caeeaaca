"""The NATS connection and everything on it except the event store's own logic.

Provisions streams and buckets idempotently from settings; carries orders to agents and
reports back (work-queue streams, durable consumers), heartbeats (KV with TTL), leases,
request/reply (enrolment) and core publish/subscribe. With ``events.store`` it is the only
module that imports nats-py; no nats type leaves it.

INTERFACE (stable; implementation in progress):
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

from events.orders import Order
from events.reports import Heartbeat, Report
from events.settings import Settings
from events.store import EventStore

T = TypeVar("T")


class Delivery(Generic[T]):
    """One message from a durable consumer: the decoded value plus acknowledgement."""

    value: T
    seq: int
    num_delivered: int

    async def ack(self) -> None:
        raise NotImplementedError

    async def nak(self, delay: float | None = None) -> None:
        raise NotImplementedError

    async def in_progress(self) -> None:
        raise NotImplementedError

    async def term(self) -> None:
        raise NotImplementedError


class Subscription:
    async def unsubscribe(self) -> None:
        raise NotImplementedError


class Bus:
    store: EventStore

    @classmethod
    async def connect(cls, url: str, *, name: str, reconnect_forever: bool = False) -> Bus:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    async def provision(self, settings: Settings) -> None:
        """Create or update LQ_EVENTS, LQ_ORDERS, LQ_REPORTS, LQ_METRICS and the KV buckets."""
        raise NotImplementedError

    async def send_order(self, order: Order) -> None:
        """Publish to ``lq.host.<host_id>.order`` with ``Nats-Msg-Id`` = ``order_id``."""
        raise NotImplementedError

    def orders(self, host_id: str) -> AsyncIterator[Delivery[Order]]:
        """This host's orders, from its durable consumer ``agent-<host_id>``."""
        raise NotImplementedError

    async def send_report(self, report: Report) -> None:
        raise NotImplementedError

    def reports(self, durable: str = "controlplane-reports") -> AsyncIterator[Delivery[Report]]:
        """Every host's reports, from one durable consumer shared by controlplane replicas."""
        raise NotImplementedError

    async def put_heartbeat(self, hb: Heartbeat) -> None:
        raise NotImplementedError

    async def heartbeats(self) -> dict[str, Heartbeat]:
        raise NotImplementedError

    async def request(self, subject: str, payload: bytes, timeout: float = 5.0) -> bytes:
        raise NotImplementedError

    async def serve(
        self, subject: str, handler: Callable[[bytes], Awaitable[bytes]], queue: str
    ) -> Subscription:
        raise NotImplementedError

    async def publish(self, subject: str, payload: bytes) -> None:
        raise NotImplementedError

    async def subscribe(
        self, subject: str, handler: Callable[[bytes], Awaitable[None]]
    ) -> Subscription:
        raise NotImplementedError
