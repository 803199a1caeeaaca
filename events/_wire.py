"""JetStream wire details the event store parses itself, without nats-py's JSON path.

The store answers publish acks and direct-get replies on its own inbox (see
``events.store``), so it parses them here with msgspec: one reusable decoder per reply
shape, the error codes it acts on, and the retry backoff. Pure data and functions: no
NATS import, so the parsing is unit-testable and reusable.
"""

from __future__ import annotations

import base64
import enum
import random

import msgspec

# JetStream error codes the store distinguishes (nats-server 2.15).
WRONG_LAST_SEQUENCE = 10071  # stale expected subject sequence: a conflict
SUBJECT_IN_FLIGHT = 10164  # clustered stream: same subject already being proposed
TEMPORARILY_UNAVAILABLE = 10163
DUPLICATE_IN_PROCESS = 10158
NO_MESSAGE_FOUND = 10037

CONFLICT_CODES = frozenset({WRONG_LAST_SEQUENCE, SUBJECT_IN_FLIGHT})
RETRY_CODES = frozenset({TEMPORARILY_UNAVAILABLE, DUPLICATE_IN_PROCESS})

# Headers of direct-get replies (ADR-31).
HDR_STATUS = "Status"
HDR_SEQUENCE = "Nats-Sequence"
HDR_SUBJECT = "Nats-Subject"
HDR_NUM_PENDING = "Nats-Num-Pending"
HDR_LAST_SEQUENCE = "Nats-Last-Sequence"
HDR_TIME_STAMP = "Nats-Time-Stamp"
HDR_MSG_ID = "Nats-Msg-Id"
HDR_EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"

STATUS_NO_RESPONDERS = "503"
STATUS_NOT_FOUND = "404"
STATUS_END_OF_BATCH = "204"


class ApiError(msgspec.Struct):
    code: int = 0
    err_code: int = 0
    description: str = ""


class PubAck(msgspec.Struct):
    stream: str = ""
    seq: int = 0
    duplicate: bool = False
    error: ApiError | None = None


class StoredMsg(msgspec.Struct):
    subject: str = ""
    seq: int = 0
    hdrs: str | None = None
    data: str | None = None


class MsgGetReply(msgspec.Struct):
    message: StoredMsg | None = None
    error: ApiError | None = None


PUB_ACK_DECODER = msgspec.json.Decoder(PubAck)
MSG_GET_DECODER = msgspec.json.Decoder(MsgGetReply)
_ENCODER = msgspec.json.Encoder()


def encode_request(obj: dict[str, object]) -> bytes:
    return _ENCODER.encode(obj)


class Outcome(enum.Enum):
    """What one append attempt's reply means."""

    STORED = "stored"
    CONFLICT = "conflict"
    RETRY = "retry"
    FAILED = "failed"


def classify(ack: PubAck | None) -> Outcome:
    """``None`` = no reply at all (timeout or no responders): retry."""
    if ack is None:
        return Outcome.RETRY
    if ack.error is None:
        return Outcome.STORED
    if ack.error.err_code in CONFLICT_CODES:
        return Outcome.CONFLICT
    if ack.error.err_code in RETRY_CODES or ack.error.code == 503:
        return Outcome.RETRY
    return Outcome.RETRY if ack.error.code >= 500 else Outcome.FAILED


def raw_header(hdrs_b64: str | None, name: str) -> str | None:
    """One header of a stored message as returned by ``STREAM.MSG.GET`` (base64 block)."""
    if not hdrs_b64:
        return None
    text = base64.b64decode(hdrs_b64).decode("utf-8", "replace")
    wanted = name.lower()
    for line in text.split("\r\n")[1:]:
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == wanted:
            return value.strip()
    return None


def backoff(attempt: int, base: float = 0.05, cap: float = 1.0) -> float:
    """Full-jitter exponential backoff for attempt 0, 1, 2, ..."""
    return random.uniform(0, min(cap, base * (2**attempt)))
