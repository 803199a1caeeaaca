"""The NATS connection and everything on it except the event store's own logic.

Provisions streams and buckets idempotently from settings; carries orders to agents and
reports back (work-queue streams, durable consumers), heartbeats (KV with TTL), leases,
request/reply (enrolment) and core publish/subscribe. With ``events.store`` it is the only
module that imports nats-py (helpers: ``events.streaming``, ``events.provision``,
``events.kvwatch``); no nats type leaves it but a bucket handle to those helpers.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
from nats.js.kv import KeyValue

from events import feeds, nats_headers, streaming, subjects
from events import provision as prov
from events.codec import encode
from events.errors import StoreUnavailable
from events.ha import HA_PROTECTION_DECODER, HOST_LEASE_DECODER, HaProtection, HostLease
from events.metrics import METRICS_DECODER, MetricsSample
from events.natsauth import ClientAuth
from events.orders import ORDER_DECODER, Order
from events.reports import HEARTBEAT_DECODER, REPORT_DECODER, Heartbeat, Report
from events.settings import Settings
from events.store import EventStore

log = logging.getLogger(__name__)

T = TypeVar("T")
_WRONG_LAST_SEQUENCE = 10071


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


class Lease(msgspec.Struct, frozen=True, kw_only=True):
    """A held leader lease: its name, who holds it, and the KV revision that proves it."""

    name: str
    holder: str
    revision: int


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


async def _abandon(nc: NATS) -> None:
    """Close a client whose connect failed (its socket would otherwise stay open)."""
    try:
        await nc.close()
    except (nats.errors.Error, OSError) as exc:
        log.debug("closing a failed connection: %r", exc)
    transport = getattr(nc, "_transport", None)
    if transport is not None:
        transport.close()


def _work_config(durable: str, subject: str, ack_wait: float) -> api.ConsumerConfig:
    return api.ConsumerConfig(
        durable_name=durable,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=ack_wait,
        filter_subject=subject,
    )


class Bus:
    store: EventStore

    def __init__(self, nc: NATS) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._kvs: dict[str, KeyValue] = {}  # bucket handles: looking one up is a request
        self.store = EventStore(self._js, nc, subjects.EVENTS_STREAM)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        name: str,
        reconnect_forever: bool = False,
        tls: ssl.SSLContext | None = None,
        auth: ClientAuth | None = None,
    ) -> Bus:
        """Connect; ``tls`` comes from ``events.tls.nats_client_context(settings)``, ``auth``
        (an nkey identity and its inbox prefix) from ``events.natsauth``.

        ``url`` may list several servers of a cluster, comma-separated: the client starts
        with any that answers and fails over to the others."""
        servers: str | list[str] = [u.strip() for u in url.split(",")] if "," in url else url
        refused = asyncio.Event()

        async def on_error(exc: Exception) -> None:
            if auth is not None and "authorization violation" in str(exc).lower():
                refused.set()  # nats-py would retry a refused identity for ever
            await _on_error(exc)

        nats_headers.install()  # every message's headers parsed about 3x faster
        nc = NATS()
        connecting = asyncio.ensure_future(
            nc.connect(
                servers,
                name=name,
                max_reconnect_attempts=-1 if reconnect_forever else 60,
                error_cb=on_error,
                disconnected_cb=_on_disconnected,
                reconnected_cb=_on_reconnected,
                tls=tls,
                nkeys_seed=auth.seed_file if auth and auth.seed_file else None,
                user_credentials=auth.creds_file if auth and auth.creds_file else None,
                inbox_prefix=auth.inbox_prefix if auth else "_INBOX",
            )
        )
        waiting = asyncio.ensure_future(refused.wait())
        try:
            await asyncio.wait([connecting, waiting], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            if not connecting.done():  # refused, or this call was cancelled
                connecting.cancel()
                await asyncio.gather(connecting, return_exceptions=True)
                await _abandon(nc)
        if connecting.cancelled():
            raise StoreUnavailable(f"NATS at {url} refused this identity: Authorization Violation")
        try:
            connecting.result()
        except (nats.errors.Error, OSError) as exc:
            await _abandon(nc)
            raise StoreUnavailable(f"cannot connect to NATS at {url}: {exc!r}") from exc
        return cls(nc)

    async def close(self) -> None:
        await self.store.close()
        if not self._nc.is_closed:
            try:
                await self._nc.close()
            except (nats.errors.Error, OSError) as exc:  # the connection was lost already
                log.debug("closing the NATS connection: %r", exc)

    @property
    def connected(self) -> bool:
        return self._nc.is_connected

    @property
    def client(self) -> NATS:
        """The underlying connection, for the other modules of the NATS-owning layer
        (``events/backup.py`` speaks JetStream's snapshot API on it)."""
        return self._nc

    async def reconnect(self) -> None:
        """Connect again now, reading the credentials afresh (a renewed NATS user JWT: the
        server ends a connection whose JWT expires, and nats-py does not come back)."""
        await self._nc.force_reconnect()

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

    def orders(
        self, host_id: str, wait: float = streaming.LONG_PULL
    ) -> AsyncIterator[Delivery[Order]]:
        """This host's orders, from its durable consumer ``agent-<host_id>``. ``wait``: how
        long one pull request lingers on the server; an idle host renews it that rarely,
        and an order still arrives at once (``streaming.fetch``)."""
        return self._work(
            subjects.ORDERS_STREAM,
            f"agent-{host_id}",
            subjects.order_subject(host_id),
            ORDER_DECODER,
            wait=wait,
        )

    async def ensure_orders_consumer(self, host_id: str) -> None:
        """Create host ``host_id``'s order consumer (done by the controlplane at enrolment
        when hosts have their own NATS users: they may use it, not create one)."""
        config = _work_config(f"agent-{host_id}", subjects.order_subject(host_id), 30.0)
        try:
            try:
                await self._js.consumer_info(subjects.ORDERS_STREAM, f"agent-{host_id}")
            except nats.js.errors.NotFoundError:
                await self._js.add_consumer(subjects.ORDERS_STREAM, config=config)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"order consumer of {host_id}: {exc!r}") from exc

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
        wait: float = streaming.LONG_PULL,
    ) -> AsyncIterator[Delivery[T]]:
        """Explicit-ack deliveries of a work-queue stream's durable pull consumer."""
        config = _work_config(durable, subject, ack_wait)
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
                for msg in await streaming.fetch(
                    psub, batch, wait, streaming.reconnects_of(self._nc)
                ):
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

    # -- metrics (a side stream: not events, lossy by design) ----------------------------

    async def publish_metrics(self, host_id: str, sample: MetricsSample) -> None:
        """Publish one sample on ``lq.host.<host_id>.metrics`` (``Nats-Msg-Id`` = sample id).

        Raises ``StoreUnavailable`` when it could not be stored; the agent then drops it."""
        headers = {"Nats-Msg-Id": sample.sample_id}
        if sample.traceparent:
            headers["traceparent"] = sample.traceparent
        try:
            await self._js.publish(
                subjects.metrics_subject(host_id), encode(sample), headers=headers, timeout=5.0
            )
        except (nats.errors.Error, TimeoutError) as exc:
            raise StoreUnavailable(f"metrics of {host_id}: {exc!r}") from exc

    def follow_metrics(
        self,
        from_seq: int,
        max_batch: int = 1000,
        linger: float = 0.05,
        *,
        on_lost: Callable[[int], None] | None = None,
        pending_limit: int | None = None,
    ) -> AsyncIterator[list[tuple[int, MetricsSample | None]]]:
        """Every host's samples from stream sequence ``from_seq`` on, in batches of
        ``(seq, sample)`` (``None`` for an undecodable message), forever. Samples dropped
        on the way are read again; ``on_lost(n)`` counts those no longer in the stream
        (``events.feeds``)."""
        return feeds.follow(
            self._js,
            subjects.METRICS_STREAM,
            subjects.METRICS_ALL,
            METRICS_DECODER,
            from_seq=from_seq,
            max_batch=max_batch,
            linger=linger,
            on_lost=on_lost,
            pending_limit=pending_limit,
        )

    async def metrics_last_seq(self) -> int:
        """The metrics stream's last sequence (for the projector's lag)."""
        try:
            info = await self._js.stream_info(subjects.METRICS_STREAM)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"metrics stream info: {exc!r}") from exc
        return int(info.state.last_seq)

    # -- heartbeats ----------------------------------------------------------------------

    async def put_heartbeat(self, hb: Heartbeat) -> None:
        try:
            kv = await self._kv(subjects.HEARTBEAT_BUCKET)
            await kv.put(hb.host_id, encode(hb))
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"heartbeat of {hb.host_id}: {exc!r}") from exc

    async def put_heartbeats(self, beats: Sequence[Heartbeat]) -> None:
        """Write many hosts' heartbeats at once: a plain publish each (the bucket's stream
        stores it), handed to the client's writer without waiting for any answer, instead
        of a request and its stored answer per beat. For a load generator carrying
        thousands of simulated hosts on one connection; an agent writes its own beat with
        ``put_heartbeat``. A beat lost on the way is made good by the next one."""
        prefix = f"$KV.{subjects.HEARTBEAT_BUCKET}."
        await self._publish_many([(prefix + hb.host_id, encode(hb), None) for hb in beats])

    async def put_host_leases(self, leases: Sequence[HostLease]) -> None:
        """Renew many hosts' HA leases at once, as ``put_heartbeats`` writes beats."""
        prefix = f"$KV.{subjects.HOST_LEASE_BUCKET}."
        await self._publish_many([(prefix + le.host_id, encode(le), None) for le in leases])

    async def publish_metrics_many(self, samples: Sequence[MetricsSample]) -> None:
        """``publish_metrics`` for many hosts at once, as ``put_heartbeats`` does it."""
        await self._publish_many(
            [
                (subjects.metrics_subject(s.host_id), encode(s), {"Nats-Msg-Id": s.sample_id})
                for s in samples
            ]
        )

    async def _publish_many(
        self, messages: Sequence[tuple[str, bytes, dict[str, str] | None]]
    ) -> None:
        """Plain publishes (subject, payload, headers) handed to the client's writer."""
        try:
            for subject, payload, headers in messages:
                await self._nc.publish(subject, payload, headers=headers)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"{len(messages)} messages: {exc!r}") from exc

    async def heartbeats(self) -> dict[str, Heartbeat]:
        """Every host's current heartbeat (expired ones are gone by the bucket's TTL)."""
        return await self.kv_values(subjects.HEARTBEAT_BUCKET, HEARTBEAT_DECODER)

    # -- HA: host leases and protection (docs/ha.md) ------------------------------------

    async def put_host_lease(self, lease: HostLease, timeout: float = 2.0) -> None:
        """Renew the host's HA lease (its key in ``lq_host_lease``)."""
        try:
            kv = await self._kv(subjects.HOST_LEASE_BUCKET)
            await asyncio.wait_for(kv.put(lease.host_id, encode(lease)), timeout)
        except (nats.errors.Error, TimeoutError) as exc:
            raise StoreUnavailable(f"lease of {lease.host_id}: {exc!r}") from exc

    async def host_leases(self) -> dict[str, HostLease]:
        """Every host's last written HA lease (expired ones too: see ``renewed_at``)."""
        return await self.kv_values(subjects.HOST_LEASE_BUCKET, HOST_LEASE_DECODER)

    async def host_lease(self, host_id: str, timeout: float = 2.0) -> HostLease | None:
        """One host's last written HA lease (a host's own NATS user may read only its own)."""
        try:
            kv = await self._kv(subjects.HOST_LEASE_BUCKET)
            try:
                entry = await asyncio.wait_for(kv.get(host_id), timeout)
            except nats.js.errors.KeyNotFoundError:
                return None
        except (nats.errors.Error, TimeoutError) as exc:
            raise StoreUnavailable(f"lease of {host_id}: {exc!r}") from exc
        if not entry.value:
            return None
        try:
            return HOST_LEASE_DECODER.decode(entry.value)
        except msgspec.DecodeError:
            log.warning("undecodable HA lease under %s", host_id)
            return None

    async def put_ha_protection(self, protection: HaProtection) -> None:
        try:
            kv = await self._kv(subjects.HA_PROTECTION_BUCKET)
            await kv.put(protection.host_id, encode(protection))
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"HA protection of {protection.host_id}: {exc!r}") from exc

    async def ha_protection(self, host_id: str, timeout: float = 2.0) -> HaProtection | None:
        """The host's HA-protected VMs as the controlplane last wrote them (None: never)."""
        try:
            kv = await self._kv(subjects.HA_PROTECTION_BUCKET)
            try:
                entry = await asyncio.wait_for(kv.get(host_id), timeout)
            except nats.js.errors.KeyNotFoundError:
                return None
        except (nats.errors.Error, TimeoutError) as exc:
            raise StoreUnavailable(f"HA protection of {host_id}: {exc!r}") from exc
        if not entry.value:
            return None
        try:
            return HA_PROTECTION_DECODER.decode(entry.value)
        except msgspec.DecodeError:
            log.warning("undecodable HA protection under %s", host_id)
            return None

    async def ha_protections(self) -> dict[str, HaProtection]:
        return await self.kv_values(subjects.HA_PROTECTION_BUCKET, HA_PROTECTION_DECODER)

    async def kv_handle(self, bucket: str) -> KeyValue:
        """The bucket's handle, for the helpers of the NATS-owning layer (``events.kvwatch``
        follows a bucket with a watch)."""
        return await self._kv(bucket)

    async def bucket_position(self, bucket: str) -> tuple[int, int]:
        """The bucket's last stream sequence and how many messages it holds."""
        try:
            info = await self._js.stream_info(f"KV_{bucket}")
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"position of {bucket}: {exc!r}") from exc
        return int(info.state.last_seq), int(info.state.messages)

    async def _kv(self, bucket: str) -> KeyValue:
        kv = self._kvs.get(bucket)
        if kv is None:
            kv = self._kvs[bucket] = await self._js.key_value(bucket)
        return kv

    async def kv_values(self, bucket: str, decoder: msgspec.json.Decoder[T]) -> dict[str, T]:
        """Every key's current value, in one pass: an ordered consumer delivers the last
        message of each key, where a ``get`` per key would cost one round trip each (a
        liveness check every second over 10,000 hosts)."""
        out: dict[str, T] = {}
        try:
            kv = await self._kv(bucket)
            watcher = await kv.watchall(ignore_deletes=True)
            try:
                while (entry := await watcher.updates(10.0)) is not None:  # type: ignore[no-untyped-call]
                    if not entry.value:
                        continue
                    try:
                        out[entry.key] = decoder.decode(entry.value)
                    except msgspec.DecodeError:
                        log.warning("undecodable value under %s in %s", entry.key, bucket)
            finally:
                await watcher.stop()  # type: ignore[no-untyped-call]
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"reading {bucket}: {exc!r}") from exc
        return out

    # -- leases (leader-only jobs) -------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str) -> Lease | None:
        """Take lease ``name`` in ``lq_leader`` for ``holder``; None if someone else holds it.

        A create succeeds only while the key is absent (never written, released, or aged
        out by the bucket's TTL = ``leader_ttl_s``). If ``holder`` already holds it (a
        restart with the same identity), the lease is renewed instead."""
        try:
            kv = await self._kv(subjects.LEADER_BUCKET)
            try:
                revision = await kv.create(name, holder.encode())
                return Lease(name=name, holder=holder, revision=revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                pass
            try:
                entry = await kv.get(name)
            except nats.js.errors.KeyNotFoundError:
                return None  # released or expired meanwhile: try again next round
            if entry.value != holder.encode() or entry.revision is None:
                return None
            return await self.renew_lease(Lease(name=name, holder=holder, revision=entry.revision))
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"acquiring lease {name}: {exc!r}") from exc

    async def renew_lease(self, lease: Lease) -> Lease | None:
        """Extend a held lease by writing it again at its revision; None if it was lost
        (expired and taken, or released) — the caller must stop its leader-only work."""
        try:
            kv = await self._kv(subjects.LEADER_BUCKET)
            try:
                revision = await kv.update(lease.name, lease.holder.encode(), last=lease.revision)
            except nats.js.errors.KeyWrongLastSequenceError:
                return None
            return Lease(name=lease.name, holder=lease.holder, revision=revision)
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"renewing lease {lease.name}: {exc!r}") from exc

    async def release_lease(self, lease: Lease) -> None:
        """Give a lease up at once (on a clean stop) so that another replica takes over
        without waiting for the TTL; a lease already lost is left alone."""
        try:
            kv = await self._kv(subjects.LEADER_BUCKET)
            await kv.delete(lease.name, last=lease.revision)
        except nats.js.errors.APIError as exc:
            if exc.err_code != _WRONG_LAST_SEQUENCE:  # (nats-py's delete does not translate it)
                raise StoreUnavailable(f"releasing lease {lease.name}: {exc!r}") from exc
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"releasing lease {lease.name}: {exc!r}") from exc

    async def lease_holder(self, name: str) -> str | None:
        """Who holds lease ``name`` now (None: nobody)."""
        try:
            kv = await self._kv(subjects.LEADER_BUCKET)
            try:
                entry = await kv.get(name)
            except nats.js.errors.KeyNotFoundError:
                return None
            return entry.value.decode() if entry.value else None
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"reading lease {name}: {exc!r}") from exc

    # -- credentials (verifiers kept out of the event log) -------------------------------

    async def credential(self, key: str) -> bytes | None:
        """The verifier stored under ``key`` in ``lq_credentials``, or None."""
        try:
            kv = await self._kv(subjects.CREDENTIALS_BUCKET)
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                return None
            return entry.value or None
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"reading credential: {exc!r}") from exc

    async def put_credential(self, key: str, value: bytes, *, only_new: bool = False) -> bool:
        """Store a verifier; with ``only_new`` only if none exists (False if one did)."""
        try:
            kv = await self._kv(subjects.CREDENTIALS_BUCKET)
            if only_new:
                try:
                    await kv.create(key, value)
                except nats.js.errors.KeyWrongLastSequenceError:
                    return False
            else:
                await kv.put(key, value)
            return True
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"storing credential: {exc!r}") from exc

    async def credentials(self, prefix: str) -> dict[str, bytes]:
        """Every value in ``lq_credentials`` whose key starts with ``prefix`` (by key)."""
        try:
            kv = await self._kv(subjects.CREDENTIALS_BUCKET)
            try:
                keys = await kv.keys()
            except nats.js.errors.NoKeysError:
                return {}
            out: dict[str, bytes] = {}
            for key in keys:
                if not key.startswith(prefix):
                    continue
                try:
                    entry = await kv.get(key)
                except nats.js.errors.KeyNotFoundError:
                    continue
                if entry.value:
                    out[key] = entry.value
            return out
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"reading credentials: {exc!r}") from exc

    async def delete_credential(self, key: str) -> None:
        try:
            kv = await self._kv(subjects.CREDENTIALS_BUCKET)
            await kv.delete(key)
        except nats.js.errors.KeyNotFoundError:
            return
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"deleting credential: {exc!r}") from exc

    # -- shared counters (failed sign-ins; docs/security.md) -----------------------------

    async def login_failures(self, key: str) -> tuple[bytes | None, int]:
        """The value under ``key`` in ``lq_login_failures`` and its revision (0: none)."""
        try:
            kv = await self._kv(subjects.LOGIN_FAILURES_BUCKET)
            try:
                entry = await kv.get(key)
            except nats.js.errors.KeyNotFoundError:
                return None, 0
            return entry.value or None, entry.revision or 0
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"reading sign-in failures: {exc!r}") from exc

    async def put_login_failures(self, key: str, value: bytes, last: int) -> bool:
        """Write ``key`` if its revision is still ``last`` (0: if absent); False if not."""
        try:
            kv = await self._kv(subjects.LOGIN_FAILURES_BUCKET)
            try:
                if last:
                    await kv.update(key, value, last=last)
                else:
                    await kv.create(key, value)
            except nats.js.errors.KeyWrongLastSequenceError:
                return False
            return True
        except nats.errors.Error as exc:
            raise StoreUnavailable(f"storing sign-in failures: {exc!r}") from exc

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
        async def by_data(_subject: str, data: bytes) -> bytes:
            return await handler(data)

        return await self.serve_subjects(subject, by_data, queue)

    async def serve_subjects(
        self, subject: str, handler: Callable[[str, bytes], Awaitable[bytes]], queue: str
    ) -> Subscription:
        """``serve`` for a wildcard ``subject``: the handler also gets the subject each
        request came on (which host sent it, when the server's permissions vouch for it)."""

        async def cb(msg: Msg) -> None:
            try:
                reply = await handler(msg.subject, msg.data)
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
