"""Typed domain errors; the API maps each to one problem type."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused by an aggregate."""


class UnknownAggregate(DomainError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident} does not exist")
        self.kind = kind
        self.ident = ident


class AlreadyExists(DomainError):
    pass


class InvalidState(DomainError):
    """The command is not allowed in the aggregate's current state."""


class OperationInProgress(InvalidState):
    def __init__(self, task_id: str, operation: str) -> None:
        super().__init__(f"operation {operation} is in progress (task {task_id})")
        self.task_id = task_id


class InsufficientCapacity(DomainError):
    """The host cannot take the reservation."""
