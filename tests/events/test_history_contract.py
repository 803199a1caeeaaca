"""Decoding never stops at an unknown type; upcasters; the hash chain and its verifier."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from events import chain, evolution, vm
from events.base import Meta, utcnow
from events.codec import Envelope, decode_batch, decode_event_data, encode, event_data, wrap
from events.evolution import UnknownEvent


def _envs(*events: Any, prev: str | None = None) -> list[Envelope]:
    meta = Meta(actor="user:alice", occurred_at=utcnow(), correlation_id="t1")
    return chain.seal(wrap("vm", "v1", list(events), meta), prev)


def test_unknown_type_decodes_to_a_placeholder_beside_known_ones() -> None:
    known = encode(_envs(vm.VmStarted(vm_id="v1", host_id="h1")))[1:-1]
    future = (
        b'{"event_id":"e2","schema_version":3,"aggregate_kind":"vm","aggregate_id":"v1",'
        b'"occurred_at":"2030-01-01T00:00:00Z","actor":"user:bob","future_field":1,'
        b'"event":{"type":"vm.resized","vm_id":"v1","vcpus":8}}'
    )
    envs = decode_batch(b"[" + known + b"," + future + b"]")
    assert isinstance(envs[0].event, vm.VmStarted)
    unknown = envs[1].event
    assert isinstance(unknown, UnknownEvent)
    assert envs[1].type == "vm.resized" and envs[1].actor == "user:bob"
    assert event_data(envs[1]) == {"type": "vm.resized", "vm_id": "v1", "vcpus": 8}


def test_known_type_in_an_unreadable_shape_is_kept_not_fatal() -> None:
    bad = decode_event_data(b'{"type":"vm.started","vm_id":7}')
    assert isinstance(bad, UnknownEvent) and bad.original_type == "vm.started"
    assert "vm_id" in bad.reason


@pytest.fixture
def rename_upcaster() -> Iterator[None]:
    """vm.started v1 → v2 renamed ``node`` to ``host_id`` (a made-up history)."""
    key = ("vm.started", 1)

    def step(data: dict[str, Any]) -> dict[str, Any]:
        data["host_id"] = data.pop("node", data.get("host_id"))
        return data

    evolution.upcaster(*key)(step)
    yield
    del evolution.UPCASTERS[key]


@pytest.mark.usefixtures("rename_upcaster")
def test_upcaster_runs_for_old_versions_only() -> None:
    old = (
        b'[{"event_id":"e1","schema_version":1,"aggregate_kind":"vm","aggregate_id":"v1",'
        b'"occurred_at":"2020-01-01T00:00:00Z","actor":"user:a",'
        b'"event":{"type":"vm.started","vm_id":"v1","node":"h-old"}}]'
    )
    (env,) = decode_batch(old)
    assert isinstance(env.event, vm.VmStarted)
    assert env.event.host_id == "h-old" and env.schema_version == 2
    ev = decode_event_data(b'{"type":"vm.started","vm_id":"v1","node":"h-x"}', 1)
    assert isinstance(ev, vm.VmStarted) and ev.host_id == "h-x"


def _verify(messages: list[tuple[int, bytes]]) -> chain.Report:
    v = chain.Verifier()
    for seq, data in messages:
        v.feed(seq, "lq.evt.vm.v1", data)
    return v.report


def _history() -> list[tuple[int, bytes]]:
    first = _envs(vm.VmCreated(vm_id="v1", name="a", vcpus=1, memory_mib=512))
    second = _envs(vm.VmStartRequested(vm_id="v1"), prev=first[-1].hash)
    third = _envs(vm.VmStarted(vm_id="v1", host_id="h1"), prev=second[-1].hash)
    return [(1, encode(first)), (5, encode(second)), (9, encode(third))]


def test_an_intact_chain_verifies() -> None:
    report = _verify(_history())
    assert report.ok and report.chained == 3 and report.chain_starts == {"lq.evt.vm.v1": 1}


def test_an_altered_event_is_found() -> None:
    msgs = _history()
    msgs[1] = (5, msgs[1][1].replace(b'"actor":"user:alice"', b'"actor":"user:mallory"'))
    (finding,) = _verify(msgs).findings
    assert (finding.seq, finding.problem) == (5, "altered")


def test_a_missing_event_is_found() -> None:
    msgs = _history()
    del msgs[1]
    (finding,) = _verify(msgs).findings
    assert (finding.seq, finding.problem) == (9, "missing-or-inserted")


def test_an_unchained_event_inside_a_chain_is_found() -> None:
    msgs = _history()
    forged = wrap(
        "vm", "v1", [vm.VmStopped(vm_id="v1", host_id="h1")], Meta(actor="x", occurred_at=utcnow())
    )
    msgs.insert(2, (7, encode(forged)))
    assert [f.problem for f in _verify(msgs).findings] == ["unchained"]


def test_events_before_the_chain_are_unchained_not_wrong() -> None:
    plain = wrap(
        "vm",
        "v1",
        [vm.VmCreated(vm_id="v1", name="a", vcpus=1, memory_mib=1)],
        Meta(actor="x", occurred_at=utcnow()),
    )
    chained = _envs(vm.VmStartRequested(vm_id="v1"))
    report = _verify([(1, encode(plain)), (2, encode(chained))])
    assert report.ok and report.unchained == 1 and report.chain_starts == {"lq.evt.vm.v1": 2}


def test_seal_keeps_hash_the_last_field() -> None:
    (env,) = _envs(vm.VmStartRequested(vm_id="v1"))
    body = encode(env)
    assert body.endswith(b'"hash":"' + env.hash.encode() + b'"}')  # type: ignore[union-attr]
    assert msgspec.json.decode(body)["prev_hash"] is None
