"""What the long fault soak found, each pinned by its own test.

- A creation whose host never answered (the agent was cut off) failed by its deadline and
  left the VM in ``error`` with no domain anywhere. Starting it failed on the host ("no
  domain"), and the failed start set the VM ``stopped``: the read model showed a stopped VM
  on a host that had no domain for it. A failed start of a VM in ``error`` now leaves it in
  ``error``.
"""

from __future__ import annotations

from controlplane.domain import vm as vd
from tests.controlplane.vm_fixtures import PLACE, SPEC, state


def test_a_failed_start_of_a_vm_in_error_leaves_it_in_error() -> None:
    never_made = (SPEC, PLACE, vd.Fail(task_id="t1", reason="host did not complete create"))
    assert state(*never_made).state == "error"
    failed = vd.Fail(task_id="t2", reason="no domain with id …")  # the host knows no state
    assert state(*never_made, vd.Start(task_id="t2"), failed).state == "error"
    # a VM whose host says what became of it takes that state, as before
    said = vd.Fail(task_id="t2", reason="boom", state="stopped")
    assert state(*never_made, vd.Start(task_id="t2"), said).state == "stopped"
