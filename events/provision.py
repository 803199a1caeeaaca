"""Idempotent create-or-update of every LimiQuantix stream and KV bucket.

Run by every process at start (``Bus.provision``), so it must be safe to repeat and to
race: an existing stream is updated to the wanted configuration, a missing one created.
Right after a cluster starts, JetStream may not have a meta leader or enough peers yet
("no suitable peers", 503), so each step is retried until a bounded deadline. Called only
from ``events.bus``; it imports nats-py for the stream configuration types.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.js import api
from nats.js.client import JetStreamContext

from events import subjects
from events.errors import LqError, StoreUnavailable
from events.settings import Settings

log = logging.getLogger(__name__)

STREAM_NAME_IN_USE = 10058  # exists with a different configuration
# Worth retrying right after a cluster starts: no meta leader yet, no suitable peers,
# cluster or JetStream temporarily unavailable.
TRANSIENT_CODES = frozenset({10005, 10008, 10023, 10076, 10163})
MIN_DEDUP_WINDOW_S = 120.0
METRICS_MAX_AGE_S = 2 * 24 * 3600.0
MAX_HOSTS = 100_000
"""Room for this many hosts' order consumers (``agent-<host id>``, one per host) on
``LQ_ORDERS``. nats-server 2.15 gives a stream that sets no limit a default of 1,000
consumers (and reads any value below one as "the default"), which silently capped a
fleet at 1,000 hosts able to receive orders."""


def stream_configs(settings: Settings) -> list[api.StreamConfig]:
    dedup = max(settings.dedup_window_s, MIN_DEDUP_WINDOW_S)
    return [
        api.StreamConfig(
            name=subjects.EVENTS_STREAM,
            description="LimiQuantix domain events: the source of truth",
            subjects=[subjects.EVENTS_ALL],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            max_age=0,
            deny_delete=True,
            deny_purge=True,
            duplicate_window=dedup,
            allow_direct=True,
            num_replicas=settings.events_replicas,
        ),
        api.StreamConfig(
            name=subjects.ORDERS_STREAM,
            description="Orders for one host's agent",
            subjects=[subjects.ORDERS_ALL],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            max_consumers=MAX_HOSTS,
            duplicate_window=dedup,
            num_replicas=settings.events_replicas,
        ),
        api.StreamConfig(
            name=subjects.REPORTS_STREAM,
            description="What host agents report back",
            subjects=[subjects.REPORTS_ALL],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            duplicate_window=dedup,
            num_replicas=settings.events_replicas,
        ),
        api.StreamConfig(
            name=subjects.METRICS_STREAM,
            description="Metrics samples of hosts and VMs",
            subjects=[subjects.METRICS_ALL],
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            max_age=METRICS_MAX_AGE_S,
            num_replicas=1,
        ),
    ]


LOGIN_FAILURES_TTL_S = 2 * 86400.0
"""Forgets failed sign-ins after two days (failure window and lockout are at most one)."""


HOST_LEASE_TTL_S = 3600.0
"""Only forgets hosts gone for an hour; a lease's expiry is in its value."""


def heartbeat_ttl_s(settings: Settings) -> float:
    """How long ``lq_heartbeat`` keeps a key without a new beat (three timeouts)."""
    return settings.heartbeat_timeout_s * 3


def bucket_configs(settings: Settings) -> list[api.KeyValueConfig]:
    return [
        api.KeyValueConfig(
            bucket=subjects.HEARTBEAT_BUCKET,
            history=1,
            ttl=heartbeat_ttl_s(settings),
            replicas=settings.events_replicas,
        ),
        api.KeyValueConfig(
            bucket=subjects.LEADER_BUCKET,
            history=1,
            ttl=settings.leader_ttl_s,
            replicas=settings.events_replicas,
        ),
        api.KeyValueConfig(
            bucket=subjects.HOST_LEASE_BUCKET,
            description="LimiQuantix agent HA leases (the value says when each was renewed)",
            history=1,
            ttl=HOST_LEASE_TTL_S,
            replicas=settings.events_replicas,
        ),
        api.KeyValueConfig(
            bucket=subjects.HA_PROTECTION_BUCKET,
            description="LimiQuantix HA-protected VMs per host",
            history=1,
            replicas=settings.events_replicas,
        ),
        api.KeyValueConfig(
            bucket=subjects.CREDENTIALS_BUCKET,
            description="LimiQuantix password hashes and API token digests",
            history=1,
            replicas=settings.events_replicas,
        ),
        api.KeyValueConfig(
            bucket=subjects.LOGIN_FAILURES_BUCKET,
            description="LimiQuantix failed sign-ins per user and address (lockout)",
            history=1,
            ttl=LOGIN_FAILURES_TTL_S,  # > the longest window + lockout; the value says more
            replicas=settings.events_replicas,
        ),
    ]


async def _retrying(what: str, deadline: float, step: Callable[[], Awaitable[None]]) -> None:
    delay = 0.1
    while True:
        try:
            await step()
            return
        except (nats.errors.Error, TimeoutError) as exc:
            if isinstance(exc, nats.js.errors.APIError) and not _transient(exc):
                raise LqError(f"provisioning {what} rejected: {exc!r}") from exc
            if time.monotonic() >= deadline:
                raise StoreUnavailable(f"provisioning {what} failed: {exc!r}") from exc
            log.info("provisioning %s: %r; retrying", what, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


def _transient(exc: nats.js.errors.APIError) -> bool:
    return exc.code == 503 or exc.err_code in TRANSIENT_CODES or "peers" in str(exc.description)


async def ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    try:
        await js.add_stream(config)
    except nats.js.errors.APIError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
        await js.update_stream(config)
        log.info("stream %s updated", config.name)


async def ensure_bucket(js: JetStreamContext, config: api.KeyValueConfig) -> None:
    try:
        await js.create_key_value(config)
    except nats.js.errors.APIError as exc:
        if exc.err_code != STREAM_NAME_IN_USE:
            raise
        info = await js.stream_info(f"KV_{config.bucket}")
        current = info.config
        current.max_age = config.ttl
        current.num_replicas = config.replicas
        current.max_msgs_per_subject = config.history
        if config.ttl:
            current.duplicate_window = min(current.duplicate_window or config.ttl, config.ttl)
        await js.update_stream(current)
        log.info("bucket %s updated", config.bucket)


async def provision(js: JetStreamContext, settings: Settings, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    for stream in stream_configs(settings):

        async def make_stream(c: api.StreamConfig = stream) -> None:
            await ensure_stream(js, c)

        await _retrying(f"stream {stream.name}", deadline, make_stream)
    for bucket in bucket_configs(settings):

        async def make_bucket(c: api.KeyValueConfig = bucket) -> None:
            await ensure_bucket(js, c)

        await _retrying(f"bucket {bucket.bucket}", deadline, make_bucket)
