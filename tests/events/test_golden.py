"""Golden files: the encoded form of every event type, as written, must always decode.

Each ``golden/<type>.json`` holds one envelope exactly as a writer of that time encoded
it. The files are never regenerated for an existing type: when a type evolves, its old
golden file stays and must still decode (through an upcaster if the meaning moved), and a
new file is added for the new version (``<type>.v2.json``). ``LQ_WRITE_GOLDEN=1`` writes
files only for types that have none yet.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import pytest

from events.base import event_type
from events.codec import decode_batch, encode, event_data
from events.evolution import UnknownEvent
from tests.events.golden_samples import envelope, event_types

GOLDEN = Path(__file__).parent / "golden"


def _name(tag: str) -> str:
    return tag + ".json"


def test_every_event_type_has_a_golden_file() -> None:
    missing = []
    for cls in event_types():
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str)
        path = GOLDEN / _name(tag)
        if not path.exists():
            if os.environ.get("LQ_WRITE_GOLDEN") == "1":
                path.write_bytes(encode(envelope(cls)) + b"\n")
            else:
                missing.append(tag)
    assert not missing, f"no golden file for {missing}: run with LQ_WRITE_GOLDEN=1 once"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_golden_file_still_decodes(path: Path) -> None:
    raw = path.read_bytes().strip()
    (env,) = decode_batch(b"[" + raw + b"]")
    assert not isinstance(env.event, UnknownEvent), env.event
    stored = msgspec.json.decode(raw)
    assert env.type == stored["event"]["type"] == event_type(env.event)
    # every field as written is still read with the same value (new fields may be added)
    now = event_data(env)
    for key, value in stored["event"].items():
        assert msgspec.json.decode(msgspec.json.encode(now[key])) == value, key
    assert env.event_id == stored["event_id"]
    assert env.correlation_id == stored["correlation_id"]
