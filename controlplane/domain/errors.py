"""Typed domain errors; the API maps each to one problem type.

``slug`` is the stable problem type a route answers with (``urn:limiquantix:problem:<slug>``):
``InvalidRequest`` is bad input that no state could make valid (422), ``InvalidState`` a
request the aggregate's current state refuses (409), ``UnknownPart`` a disk, NIC, snapshot or
task the aggregate does not have (404).
"""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused by an aggregate."""

    slug = "domain-error"


class UnknownAggregate(DomainError):
    slug = "not-found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} does not exist")
        self.kind = kind
        self.ident = ident


class UnknownPart(DomainError):
    """A part of an aggregate (``disk``, ``nic``, ``snapshot``, ``task``) that is not there."""

    slug = "not-found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} does not exist")
        self.kind = kind
        self.ident = ident


class AlreadyExists(DomainError):
    slug = "invalid-state"


class InvalidState(DomainError):
    """The command is not allowed in the aggregate's current state."""

    slug = "invalid-state"

    def __init__(self, message: str, slug: str | None = None) -> None:
        super().__init__(message)
        if slug is not None:
            self.slug = slug


class OperationInProgress(InvalidState):
    slug = "operation-in-progress"

    def __init__(self, task_id: str, operation: str) -> None:
        super().__init__(f"operation {operation} is in progress (task {task_id})")
        self.task_id = task_id


class InvalidRequest(DomainError):
    """The request can never be carried out as asked (shrinking a disk, hot-plugging past
    the maximum): bad input found by the domain rather than by the body's schema."""

    slug = "invalid-request"

    def __init__(self, message: str, slug: str | None = None) -> None:
        super().__init__(message)
        if slug is not None:
            self.slug = slug


class InsufficientCapacity(DomainError):
    """The host cannot take the reservation."""

    slug = "insufficient-capacity"
