"""Events of VM name claims (subject ``lq.evt.vm_name.<claim id>``).

A VM's name is unique among the VMs that are not deleted, fleet-wide, regardless of case
(docs/reliability.md). Each name (lower-cased) has one claim aggregate, whose id is derived
from the name; appending a claim under the aggregate's expected version is what makes two
concurrent creations of one name impossible. The claim names the VM that holds it; it is
free again once that VM is deleted.
"""

from __future__ import annotations

from events.base import Event


class VmNameClaimed(Event, frozen=True, kw_only=True, tag="vm_name.claimed"):
    """``vm_id`` holds ``name`` (as the VM is named) from now on."""

    name: str
    vm_id: str


VM_NAME_EVENTS = VmNameClaimed
