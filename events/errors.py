"""Typed errors of the event store and bus; infrastructure errors are translated to these."""

from __future__ import annotations


class LqError(Exception):
    """Base of every LimiQuantix error raised by the ``events`` package."""


class ConcurrencyError(LqError):
    """The aggregate moved on since it was read (JetStream error 10071 or 10164)."""

    def __init__(self, subject: str, expected: int, detail: str = "") -> None:
        super().__init__(f"concurrent change on {subject} (expected version {expected}) {detail}")
        self.subject = subject
        self.expected = expected


class StoreUnavailable(LqError):
    """NATS did not answer or is temporarily unavailable; safe to retry the same append."""


class NotFound(LqError):
    """Nothing stored under that key or subject."""
