"""Tamper evidence: a sha256 chain per aggregate, and its verifier.

Why per aggregate and not in stream order: appends to one aggregate are already serialised
by the optimistic check (``Nats-Expected-Last-Subject-Sequence``), so the controlplane
knows the aggregate's last hash exactly when it appends, with no global lock. Each
envelope carries ``prev_hash`` (the hash of the aggregate's previous event, or None for the
first chained one) and ``hash`` = sha256 of the envelope's own JSON with ``"hash":null``.
The events of one message chain one after the other.

The verifier hashes the bytes as stored, not a re-encoding, so adding fields to an event
type later never breaks old hashes. It relies on ``hash`` being the envelope's last field
(``events.codec`` keeps it there): the stored form ends with ``,"hash":"<hex>"}`` and the
hashed form is the same bytes ending in ``,"hash":null}``.

What it proves: an altered event (its hash no longer matches), a missing one (the next
event's ``prev_hash`` points past it), a forged one published straight to NATS without the
chain (an unchained event where the chain already ran, or a hash that does not match), and
two events claiming the same predecessor (the second one's ``prev_hash`` is stale). Events
written before chaining existed are reported as unchained; the report says where each
aggregate's chain starts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import msgspec

from events.codec import Envelope, encode

_NULL_TAIL = b',"hash":null}'
_TAIL = re.compile(rb',"hash":"([0-9a-f]{64})"\}\Z')


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def seal(envelopes: Sequence[Envelope], prev_hash: str | None) -> list[Envelope]:
    """The envelopes with ``prev_hash`` and ``hash`` set, chained after ``prev_hash``."""
    out: list[Envelope] = []
    for env in envelopes:
        unsealed = msgspec.structs.replace(env, prev_hash=prev_hash, hash=None)
        body = encode(unsealed)
        if not body.endswith(_NULL_TAIL):
            raise AssertionError("Envelope.hash must be the envelope's last field")
        prev_hash = digest(body)
        out.append(msgspec.structs.replace(unsealed, hash=prev_hash))
    return out


def last_hash(envelopes: Sequence[Envelope]) -> str | None:
    return envelopes[-1].hash if envelopes else None


class _Head(msgspec.Struct, kw_only=True):
    event_id: str = ""
    aggregate_kind: str = ""
    aggregate_id: str = ""
    prev_hash: str | None = None
    hash: str | None = None


_raw_list = msgspec.json.Decoder(list[msgspec.Raw])
_head = msgspec.json.Decoder(_Head)


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One problem: where (stream sequence, index in the message, subject) and what."""

    seq: int
    index: int
    subject: str
    problem: str  # altered | missing-or-inserted | unchained | undecodable | misfiled
    detail: str


class Report(msgspec.Struct, kw_only=True):
    messages: int = 0
    events: int = 0
    chained: int = 0
    unchained: int = 0
    aggregates: int = 0
    last_seq: int = 0
    findings: list[Finding] = []
    chain_starts: dict[str, int] = {}
    """Subject → stream sequence of its first chained event (earlier ones are unchained)."""

    @property
    def ok(self) -> bool:
        return not self.findings


class Verifier:
    """Feed it every message of the stream in order; read ``report`` at the end."""

    def __init__(self, max_findings: int = 1000) -> None:
        self.report = Report()
        self._last: dict[str, str | None] = {}  # subject -> hash of its last event
        self._max = max_findings

    def _find(self, seq: int, index: int, subject: str, problem: str, detail: str) -> None:
        if len(self.report.findings) < self._max:
            self.report.findings.append(
                Finding(seq=seq, index=index, subject=subject, problem=problem, detail=detail)
            )

    def feed(self, seq: int, subject: str, data: bytes) -> None:
        r = self.report
        r.messages += 1
        r.last_seq = max(r.last_seq, seq)
        try:
            raws = _raw_list.decode(data)
        except msgspec.DecodeError as exc:
            self._find(seq, 0, subject, "undecodable", f"not a JSON array of envelopes: {exc}")
            return
        if subject not in self._last:
            r.aggregates += 1
            self._last[subject] = None
        for index, raw in enumerate(raws):
            r.events += 1
            self._check(seq, index, subject, bytes(raw))

    def _check(self, seq: int, index: int, subject: str, body: bytes) -> None:
        r = self.report
        try:
            head = _head.decode(body)
        except msgspec.DecodeError as exc:
            self._find(seq, index, subject, "undecodable", str(exc))
            return
        if subject != f"lq.evt.{head.aggregate_kind}.{head.aggregate_id}":
            self._find(seq, index, subject, "misfiled", f"envelope names {head.aggregate_id}")
        last = self._last[subject]
        started = subject in r.chain_starts
        if head.hash is None:
            r.unchained += 1
            if started:
                self._find(
                    seq, index, subject, "unchained", "an event without a hash inside the chain"
                )
            self._last[subject] = None if not started else last
            return
        r.chained += 1
        match = _TAIL.search(body)
        if match is None or match.group(1).decode() != head.hash:
            self._find(seq, index, subject, "altered", "the hash is not the envelope's last field")
        elif digest(body[: match.start()] + _NULL_TAIL) != head.hash:
            self._find(seq, index, subject, "altered", "the content does not match its hash")
        if not started:
            r.chain_starts[subject] = seq
            if head.prev_hash is not None:
                self._find(seq, index, subject, "missing-or-inserted", "the chain starts mid-way")
        elif head.prev_hash != last:
            self._find(
                seq,
                index,
                subject,
                "missing-or-inserted",
                f"prev_hash {str(head.prev_hash)[:12]} but the previous event is"
                f" {str(last)[:12]}: an event is missing or was inserted before this one",
            )
        self._last[subject] = head.hash
