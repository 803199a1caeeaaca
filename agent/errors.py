"""Typed errors of the agent: the only way failures leave ``agent.hypervisor``.

libvirt raises one exception type with an error code; the agent needs to know one thing
about a failure: will trying the same order again later help? ``TemporaryError`` means yes
(the order is redelivered after a delay), ``PermanentError`` means no (the failure is
reported and the order acknowledged).
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error raised by the ``agent`` package."""


class PermanentError(AgentError):
    """Retrying will not help: bad domain definition, unsupported operation, no such VM."""


class TemporaryError(AgentError):
    """Retrying later may help: hypervisor unreachable, domain busy, operation timed out."""


class DomainNotFound(PermanentError):
    """The hypervisor has no domain with that id (idempotent orders treat it as done)."""

    def __init__(self, vm_id: str) -> None:
        super().__init__(f"no domain with id {vm_id}")
        self.vm_id = vm_id
