"""The fast NATS header parser gives nats-py's own result for every header block."""

from __future__ import annotations

import random

import pytest

from events import nats_headers

BLOCKS = [
    b"Nats-Stream: LQ_EVENTS\r\nNats-Subject: lq.evt.vm.1\r\nNats-Sequence: 42\r\n"
    b"Nats-Time-Stamp: 2026-11-29T04:00:00.123456789Z\r\nNats-Num-Pending: 0\r\n\r\n",
    b"Name:Value\r\nTabbed:\tvalue \r\n  Padded  :  x:y:z  \r\n\r\n",
    b"Bad Name: dropped\r\nBad\x1fName: dropped\r\nno colon line\r\n: empty name\r\n",
    b"Caf\xc3\xa9: non-ascii name\r\nOk: caf\xc3\xa9\r\nBroken: \xff\xfe\r\n",
    b"Twice: 1\r\nTwice: 2\r\n\r\n\r\n",
    b"\x1cEdge\x1c: \x1cv\x1c\x0b\r\n\x0bTabs\x0c:\x0b value\x85\r\nLone\rCR: x\n y\r\n",
    b"",
]


def original(raw: bytes) -> dict[str, str]:
    """nats-py's own parser (this project's nats-py has it: the replacement is installed)."""
    assert nats_headers.ORIGINAL is not None
    parsed: dict[str, str] = nats_headers.ORIGINAL(raw)
    return parsed


@pytest.mark.parametrize("raw", BLOCKS)
def test_the_fast_parser_matches_nats_py(raw: bytes) -> None:
    assert nats_headers.parse(raw) == original(raw)


def test_the_fast_parser_matches_nats_py_on_random_blocks() -> None:
    pieces = [b"a", b"B", b":", b" ", b"\t", b"\r\n", b"\r", b"\n", b"\x0b", b"\x1c", b"\x85"]
    pieces += [b"\xc3\xa9", b"\xff", b"-", b"1"]
    rng = random.Random(7)
    for _ in range(5000):
        raw = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        assert nats_headers.parse(raw) == original(raw), raw
