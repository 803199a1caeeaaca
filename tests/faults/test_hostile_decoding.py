"""Hostile bytes at every decoder and builder: rejected with a clear error, never a crash.

Property-based (hypothesis): arbitrary bytes and arbitrary JSON documents go through the
event decoder (``events.codec.decode_batch``), the agent report, order and enrolment
decoders, and arbitrary text through the domain XML builder. The only acceptable
failures are the decoders' own (``msgspec.DecodeError``/``ValidationError``, both
``ValueError``) and the builder's ``ValueError``; the XML built must parse and hold the
user's text only as text.
"""

from __future__ import annotations

import json
import uuid
import xml.etree.ElementTree as ET
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent import domxml
from events.codec import decode_batch
from events.orders import ORDER_DECODER
from events.reports import ENROLL_REQUEST_DECODER, REPORT_DECODER

FAST = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.too_slow],
)

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=30,
)

# small values inside near-valid documents: what matters there is the shape around them
# (and generating large nested values per field made this the slowest test of the folder)
small_json: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=6,
)

# documents shaped almost like the real thing, so decoding goes past the first field
envelope_like = st.fixed_dictionaries(
    {
        "event_id": st.text(max_size=40),
        "type": st.sampled_from(["vm.created", "host.enrolled", "task.queued", "x.y", ""]),
        "aggregate_kind": st.text(max_size=10),
        "aggregate_id": st.text(max_size=40),
        "occurred_at": st.sampled_from(["2025-01-01T00:00:00Z", "yesterday", ""]),
        "actor": st.text(max_size=20),
        "event": st.dictionaries(st.text(max_size=12), small_json, max_size=6),
    }
)
report_like = st.fixed_dictionaries(
    {
        "report_id": st.text(max_size=40),
        "host_id": st.text(max_size=40),
        "sent_at": st.sampled_from(["2025-01-01T00:00:00Z", "never", 5]),
        "body": st.dictionaries(
            st.sampled_from(["type", "vm_id", "state", "order_id", "domains", "error"]),
            small_json | st.sampled_from(["report.order_done", "report.inventory"]),
            max_size=6,
        ),
    }
)

DECODERS = {
    "event batch": decode_batch,
    "report": REPORT_DECODER.decode,
    "order": ORDER_DECODER.decode,
    "enrolment": ENROLL_REQUEST_DECODER.decode,
}


def _rejected_cleanly(decode: Any, data: bytes) -> None:
    try:
        decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        assert str(exc)  # a clear message, not an empty error


@FAST
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes(data: bytes) -> None:
    for decode in DECODERS.values():
        _rejected_cleanly(decode, data)


@FAST
@given(doc=json_values)
def test_arbitrary_json(doc: Any) -> None:
    raw = json.dumps(doc).encode()
    for decode in DECODERS.values():
        _rejected_cleanly(decode, raw)


@FAST
@given(docs=st.lists(envelope_like, min_size=1, max_size=3))
def test_almost_envelopes(docs: list[dict[str, Any]]) -> None:
    _rejected_cleanly(decode_batch, json.dumps(docs).encode())


@FAST
@given(doc=report_like)
def test_almost_reports(doc: dict[str, Any]) -> None:
    _rejected_cleanly(REPORT_DECODER.decode, json.dumps(doc).encode())


def _tags(xml: str) -> set[str]:
    return {el.tag for el in ET.fromstring(xml).iter()}


# the elements the builder makes for a plain VM: a hostile name must not add any
EXPECTED_TAGS = _tags(
    domxml.domain_xml(
        domxml.VmSpec(vm_id=str(uuid.uuid4()), name="vm", vcpus=1, memory_mib=128), "kvm"
    )
)


@FAST
@given(name=st.text(max_size=300), vcpus=st.integers(-5, 600), memory=st.integers(-5, 10**7))
def test_domain_xml_never_injects(name: str, vcpus: int, memory: int) -> None:
    spec = domxml.VmSpec(vm_id=str(uuid.uuid4()), name=name, vcpus=vcpus, memory_mib=memory)
    try:
        xml = domxml.domain_xml(spec, "kvm")
    except ValueError as exc:
        assert str(exc)
        return
    root = ET.fromstring(xml)  # well-formed whatever the name holds
    assert {el.tag for el in root.iter()} <= EXPECTED_TAGS
    assert root.findtext("title") == name
    vm = root.find(f"metadata/{{{domxml.LQ_NS}}}vm")
    assert vm is not None and vm.get("name") == name
    assert domxml.parse_metadata(ET.tostring(vm, encoding="unicode")).name == name
    assert set(root.findtext("name") or "") <= set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
    )
