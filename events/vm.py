"""Events of the VM aggregate (subject ``lq.evt.vm.<vm_id>``).

VM states are words that outside scripts rely on: ``pending``, ``stopped``, ``starting``,
``running``, ``stopping``, ``paused``, ``migrating``, ``error``, ``deleted``.
"""

from __future__ import annotations

from typing import Literal

from events.base import Event

VmState = Literal[
    "pending",
    "stopped",
    "starting",
    "running",
    "stopping",
    "paused",
    "migrating",
    "error",
    "deleted",
]
VM_STATES: tuple[str, ...] = VmState.__args__  # type: ignore[attr-defined]

VmOperation = Literal["create", "start", "stop", "delete"]


class VmCreated(Event, frozen=True, kw_only=True, tag="vm.created"):
    """A VM was accepted; it waits for placement (state ``pending``)."""

    vm_id: str
    name: str
    vcpus: int
    memory_mib: int
    start: bool = False
    description: str = ""


class VmPlaced(Event, frozen=True, kw_only=True, tag="vm.placed"):
    """Placement chose a host and reserved capacity there."""

    vm_id: str
    host_id: str


class VmPlacementFailed(Event, frozen=True, kw_only=True, tag="vm.placement_failed"):
    """No host could take the VM; it goes to ``error`` with the reason."""

    vm_id: str
    reason: str


class VmDefined(Event, frozen=True, kw_only=True, tag="vm.defined"):
    """The host's hypervisor now knows the VM (state ``stopped``)."""

    vm_id: str
    host_id: str


class VmStartRequested(Event, frozen=True, kw_only=True, tag="vm.start_requested"):
    vm_id: str


class VmStarted(Event, frozen=True, kw_only=True, tag="vm.started"):
    vm_id: str
    host_id: str


class VmStopRequested(Event, frozen=True, kw_only=True, tag="vm.stop_requested"):
    """Power-off requested; ``force`` is a hard power-off (the Phase 1 ``stop`` action)."""

    vm_id: str
    force: bool = True


class VmStopped(Event, frozen=True, kw_only=True, tag="vm.stopped"):
    vm_id: str
    host_id: str


class VmDeleteRequested(Event, frozen=True, kw_only=True, tag="vm.delete_requested"):
    vm_id: str


class VmDeleted(Event, frozen=True, kw_only=True, tag="vm.deleted"):
    """The VM is gone from its host (or never reached one); capacity is released after."""

    vm_id: str
    host_id: str | None = None


class VmOperationFailed(Event, frozen=True, kw_only=True, tag="vm.operation_failed"):
    """An operation failed; ``state`` is what the VM is known to be afterwards."""

    vm_id: str
    operation: str
    reason: str
    state: VmState


class VmStateObserved(Event, frozen=True, kw_only=True, tag="vm.state_observed"):
    """The host saw the VM in a state LimiQuantix did not cause (crash, virsh, reconcile)."""

    vm_id: str
    host_id: str
    state: VmState
    reason: str = ""


VM_EVENTS = (
    VmCreated
    | VmPlaced
    | VmPlacementFailed
    | VmDefined
    | VmStartRequested
    | VmStarted
    | VmStopRequested
    | VmStopped
    | VmDeleteRequested
    | VmDeleted
    | VmOperationFailed
    | VmStateObserved
)
