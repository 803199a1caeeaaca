"""The NATS connection and everything on it except the event store's own logic.

Provisions streams and buckets idempotently from settings; carries orders to agents and
reports back (work-queue streams, durable consumers), heartbeats (KV with TTL), leases,
request/reply (enrolment) and core publish/subscribe. With ``events.store`` it is the only
module that imports nats-py (helpers: ``events.streaming``, ``events.provision``); no nats
type leaves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

import msgspec
import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import api
from nats.js.client import JetStreamContext

from events import provision as prov
from events import streaming, subjects
from events.codec import encode
from events.errors import StoreUnavailable
from events.orders import ORDER_DECODER, Order
from events.reports import HEARTBEAT_DECODER, REPORT_DECODER, Heartbeat, Report
from events.settings import Settings
from events.store import EventStore

log = logging.getLogger(__name__)

T = TypeVar("T")


class Delivery(Generic[T]):
    """One message from a durable consumer: the decoded value plus acknowledgement."""

    value: T
    seq: int
    num_delivered: int

    def __init__(self, value: T, msg: Msg) -> None:
        md = msg.metadata
        self.value = value
        self.seq = md.sequence.stream
        self.num_delivered = md.num_delivered
        self._msg = msg

    async def ack(self) -> None:
        await self._settle(self._msg.ack())

    async def nak(self, delay: float | None = None) -> None:
        await self._settle(self._msg.nak(delay=delay))

    async def in_progress(self) -> None:
        await self._settle(self._msg.in_progress())

    async def term(self) -> None:
        await self._settle(self._msg.term())

    async def _settle(self, op: Awaitable[None]) -> None:
        try:
            await op
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"acknowledging message {self.seq}: {exc!r}") from exc


class Subscription:
    """A core NATS subscription (``Bus.serve`` / ``Bus.subscribe``)."""

    def __init__(self, sub: NatsSubscription) -> None:
        self._sub = sub

    async def unsubscribe(self) -> None:
        try:
            await self._sub.unsubscribe()
        except nats.errors.Error as exc:  # connection closed: nothing left to free
            log.debug("unsubscribe %s: %r", self._sub.subject, exc)


async def _on_error(exc: Exception) -> None:
    log.warning("nats: %r", exc)


async def _on_disconnected() -> None:
    log.info("nats: disconnected")


async def _on_reconnected() -> None:
    log.info("nats: reconnected")


class Bus:
    store: EventStore

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self.store = EventStore(self._js, nc, subjects.EVENTS_STREAM)

    @classmethod
    async def connect(cls, url: str, *, name: str, reconnect_forever: bool = False) -> Bus:
        try:
            nc = await nats.connect(
                url,
                name=name,
                max_reconnect_attempts=-1 if reconnect_forever else 60,
                error_cb=_on_error,
                disconnected_cb=_on_disconnected,
                reconnected_cb=_on_reconnected,
            )
        except (nats.errors.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot connect to NATS at {url}: {exc!r}") from exc
        return cls(nc)

    async def close(self) -> None:
        await self.store.close()
        if not self._nc.is_closed:
            await self._nc.close()

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    async def provision(self, settings: Settings) -> None:
        """Create or update LQ_EVENTS, LQ_ORDERS, LQ_REPORTS, LQ_METRICS and the KV buckets."""
        await prov.provision(self._js, settings)

    # -- work queues --------------------------------------------------------------------

    async def _publish_js(self, subject: str, payload: bytes, msg_id: str) -> None:
        try:
            await self._js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"publish to {subject}: {exc!r}") from exc

    async def send_order(self, order: Order) -> None:
        """Publish to ``lq.host.<host_id>.order`` with ``Nats-Msg-Id`` = ``order_id``."""
        await self._publish_js(subjects.order_subject(order.host_id), encode(order), order.order_id)

    def orders(self, host_id: str) -> AsyncIterator[Delivery[Order]]:
        """This host's orders, from its durable consumer ``agent-<host_id>``."""
        return self._work(
            subjects.ORDERS_STREAM,
            f"agent-{host_id}",
            subjects.order_subject(host_id),
            ORDER_DECODER,
        )

    async def send_report(self, report: Report) -> None:
        await self._publish_js(
            subjects.report_subject(report.host_id), encode(report), report.report_id
        )

    def reports(self, durable: str = "controlplane-reports") -> AsyncIterator[Delivery[Report]]:
        """Every host's reports, from one durable consumer shared by controlplane replicas."""
        return self._work(subjects.REPORTS_STREAM, durable, subjects.REPORTS_ALL, REPORT_DECODER)

    async def _work(
        self,
        stream: str,
        durable: str,
        subject: str,
        decoder: msgspec.json.Decoder[T],
        *,
        ack_wait: float = 30.0,
        batch: int = 32,
    ) -> AsyncIterator[Delivery[T]]:
        """Explicit-ack deliveries of a work-queue stream's durable pull consumer."""
        config = api.ConsumerConfig(
            durable_name=durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            filter_subject=subject,
        )
        try:
            try:
                await self._js.consumer_info(stream, durable)
            except nats.js.errors.NotFoundError:
                await self._js.add_consumer(stream, config=config)
            psub = await self._js.pull_subscribe_bind(durable=durable, stream=stream)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"consumer {durable} on {stream}: {exc!r}") from exc
        try:
            while True:
                for msg in await streaming.fetch(psub, batch, 1.0):
                    try:
                        value = decoder.decode(msg.data)
                    except msgspec.DecodeError as exc:
                        log.error("undecodable message on %s dropped: %s", msg.subject, exc)
                        await msg.term()
                        continue
                    yield Delivery(value, msg)
        finally:
            try:
                await psub.unsubscribe()
            except nats.errors.Error as exc:
                log.debug("unsubscribe %s: %r", durable, exc)

    # -- heartbeats ----------------------------------------------------------------------

    async def put_heartbeat(self, hb: Heartbeat) -> None:
        try:
            kv = await self._js.key_value(subjects.HEARTBEAT_BUCKET)
            await kv.put(hb.host_id, encode(hb))
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"heartbeat of {hb.host_id}: {exc!r}") from exc

    async def heartbeats(self) -> dict[str, Heartbeat]:
        """Every host's current heartbeat (expired ones are gone by the bucket's TTL)."""
        try:
            kv = await self._js.key_value(subjects.HEARTBEAT_BUCKET)
            try:
                keys = await kv.keys()
            except nats.js.errors.NoKeysError:
                return {}
            out: dict[str, Heartbeat] = {}
            for key in keys:
                try:
                    entry = await kv.get(key)
                except nats.js.errors.KeyNotFoundError:  # expired or deleted meanwhile
                    continue
                if entry.value:
                    try:
                        out[key] = HEARTBEAT_DECODER.decode(entry.value)
                    except msgspec.DecodeError:
                        log.warning("undecodable heartbeat under %s", key)
            return out
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"reading heartbeats: {exc!r}") from exc

    # -- core NATS -----------------------------------------------------------------------

    async def request(self, subject: str, payload: bytes, timeout: float = 5.0) -> bytes:
        try:
            msg = await self._nc.request(subject, payload, timeout=timeout)
        except nats.errors.NoRespondersError as exc:
            raise StoreUnavailable(f"nobody serves {subject}") from exc
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"request on {subject}: {exc!r}") from exc
        return msg.data

    async def serve(
        self, subject: str, handler: Callable[[bytes], Awaitable[bytes]], queue: str
    ) -> Subscription:
        async def cb(msg: Msg) -> None:
            try:
                reply = await handler(msg.data)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handler for %s failed", subject)
                return
            if msg.reply:
                await msg.respond(reply)

        return Subscription(await self._nc.subscribe(subject, queue=queue, cb=cb))

    async def publish(self, subject: str, payload: bytes) -> None:
        try:
            await self._nc.publish(subject, payload)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"publish to {subject}: {exc!r}") from exc

    async def subscribe(
        self, subject: str, handler: Callable[[bytes], Awaitable[None]]
    ) -> Subscription:
        async def cb(msg: Msg) -> None:
            try:
                await handler(msg.data)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handler for %s failed", subject)

        return Subscription(await self._nc.subscribe(subject, cb=cb))
