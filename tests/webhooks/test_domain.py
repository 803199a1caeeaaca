"""The webhook aggregate as tables (given events, when command, then events or error) and
the pure delivery contract: filters, delivery ids, signatures, backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import msgspec
import pytest

from controlplane.domain import webhook as wd
from controlplane.domain.errors import AlreadyExists, InvalidRequest, InvalidState, UnknownAggregate
from events import settings as settings_mod
from events import webhook as we
from events.base import Event, Meta
from events.codec import Envelope, wrap
from projections.webhook_dispatch import backoff

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CREATE = wd.Create(webhook_id="w1", name="ops", url="https://example.org/hook", kinds=("vm",))


def _fold(events: list[Event]) -> wd.Webhook | None:
    state: wd.Webhook | None = None
    meta = Meta(actor="user:test", occurred_at=T0)
    env: Envelope
    for env in wrap("webhook", "w1", events, meta):
        state = wd.evolve(state, env)
    return state


def _given(*commands: wd.Command) -> wd.Webhook | None:
    state: wd.Webhook | None = None
    for c in commands:
        state = _fold([*_history(state), *wd.decide(state, c)])
    return state


def _history(state: wd.Webhook | None) -> list[Event]:
    if state is None:
        return []
    return [
        we.WebhookCreated(
            webhook_id=state.webhook_id, name=state.name, url=state.url, kinds=list(state.kinds),
            types=list(state.types), enabled=state.enabled,
        )
    ] + ([we.WebhookDeleted(webhook_id=state.webhook_id)] if state.deleted else [])  # fmt: skip


def test_create_records_the_configuration_with_sorted_distinct_filters() -> None:
    cmd = msgspec.structs.replace(CREATE, types=("vm.started", "vm.*", "vm.started"))
    (event,) = wd.decide(None, cmd)
    assert event == we.WebhookCreated(
        webhook_id="w1", name="ops", url="https://example.org/hook", kinds=["vm"],
        types=["vm.*", "vm.started"], enabled=True,
    )  # fmt: skip


def test_create_twice_is_refused() -> None:
    with pytest.raises(AlreadyExists):
        wd.decide(_given(CREATE), CREATE)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/x",
        "example.org/hook",
        "https://",
        "https://user:secret@example.org/hook",
        "https://example.org:99999/hook",
        "javascript:alert(1)",
        "https://exa mple.org/",
    ],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        wd.decide(None, msgspec.structs.replace(CREATE, url=url))
    assert info.value.slug == "invalid-url"


@pytest.mark.parametrize("pattern", ["VM", "vm started", "", "x" * 65, "vm/*"])
def test_bad_filter_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        wd.decide(None, msgspec.structs.replace(CREATE, types=(pattern,)))
    assert info.value.slug == "invalid-filter"


def test_update_carries_the_whole_new_configuration_and_nothing_when_unchanged() -> None:
    state = _given(CREATE)
    (event,) = wd.decide(state, wd.Update(enabled=False, types=("vm.started",)))
    assert isinstance(event, we.WebhookUpdated)
    assert (event.enabled, event.types, event.kinds, event.url) == (
        False, ["vm.started"], ["vm"], "https://example.org/hook",
    )  # fmt: skip
    assert wd.decide(state, wd.Update(name="ops", enabled=True)) == []


def test_deleted_or_unknown_webhooks_refuse_every_command() -> None:
    gone = _given(CREATE, wd.Delete())
    assert gone is not None and gone.deleted and not gone.enabled
    for cmd in (wd.Update(name="x"), wd.Delete(), wd.Ping(), wd.RotateSecret()):
        with pytest.raises(UnknownAggregate):
            wd.decide(gone, cmd)
        with pytest.raises(UnknownAggregate):
            wd.decide(None, cmd)


def test_rotating_the_secret_is_recorded_without_it() -> None:
    state = _given(CREATE)
    assert wd.decide(state, wd.RotateSecret()) == [we.WebhookSecretRotated(webhook_id="w1")]
    with pytest.raises(UnknownAggregate):
        wd.decide(_given(CREATE, wd.Delete()), wd.RotateSecret())


def test_ping_needs_an_enabled_webhook() -> None:
    assert wd.decide(_given(CREATE), wd.Ping()) == [we.WebhookPinged(webhook_id="w1")]
    disabled = _given(msgspec.structs.replace(CREATE, enabled=False))
    with pytest.raises(InvalidState) as info:
        wd.decide(disabled, wd.Ping())
    assert info.value.slug == "webhook-disabled"


@pytest.mark.parametrize(
    ("kinds", "types", "kind", "etype", "expected"),
    [
        ((), (), "vm", "vm.started", True),
        (("vm",), (), "vm", "vm.started", True),
        (("vm",), (), "host", "host.connected", False),
        ((), ("vm.*",), "vm", "vm.snapshot_created", True),
        ((), ("vm.*",), "task", "task.failed", False),
        (("vm", "task"), ("task.failed", "vm.st*"), "task", "task.failed", True),
        (("vm", "task"), ("task.failed", "vm.st*"), "task", "task.succeeded", False),
        (("vm",), ("task.*",), "vm", "task.queued", True),
    ],
)
def test_filters_are_globs_on_kind_and_type(
    kinds: tuple[str, ...], types: tuple[str, ...], kind: str, etype: str, expected: bool
) -> None:
    assert we.matches(kinds, types, kind, etype) is expected


def test_delivery_ids_are_stable_per_subscription_and_event() -> None:
    a = we.delivery_id("w1", "e1")
    assert a == we.delivery_id("w1", "e1")
    assert a != we.delivery_id("w2", "e1") != we.delivery_id("w1", "e2")


def test_signature_covers_timestamp_and_body() -> None:
    sig = we.sign("s3cret", "1700000000", b'{"a":1}')
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert we.verify("s3cret", "1700000000", b'{"a":1}', sig, now=1700000010)
    assert not we.verify("other", "1700000000", b'{"a":1}', sig, now=1700000010)
    assert not we.verify("s3cret", "1700000000", b'{"a":2}', sig, now=1700000010)
    assert not we.verify("s3cret", "1700000001", b'{"a":1}', sig, now=1700000010)
    assert not we.verify("s3cret", "1700000000", b'{"a":1}', sig, now=1700009999)  # too old
    assert not we.verify("s3cret", "soon", b'{"a":1}', sig)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    s = settings_mod.load({"webhook_backoff_s": 1.0, "webhook_backoff_max_s": 10.0}, env={})
    rng = random.Random(7)
    for attempts, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (30, 10.0)]:
        for _ in range(20):
            assert full / 2 <= backoff(s, attempts, rng) <= full
