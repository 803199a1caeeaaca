"""Power operations beyond start/stop: reboot, reset, pause, resume.

Runs in the hypervisor's worker thread (``Hypervisor.run_dom``). Each returns the VM's
state afterwards; pausing a paused VM or resuming a running one is already done, and a
VM that is not running is refused (there is nothing to reboot, pause or resume).
"""

from __future__ import annotations

import logging
from typing import Any

import libvirt

from agent.errors import PermanentError
from agent.hypervisor import state_word
from events.vm import VmState

log = logging.getLogger(__name__)


def _state(dom: Any) -> VmState:
    state, reason = dom.state()
    return state_word(state, reason)[0]


def _running(dom: Any) -> None:
    if not dom.isActive():
        raise PermanentError(f"vm {dom.UUIDString()} is not running")


def reboot(_conn: Any, dom: Any, force: bool) -> VmState:
    """ACPI reboot request, or a hardware reset when ``force``."""
    _running(dom)
    if force:
        dom.reset(0)
    else:
        dom.reboot(0)
    log.info("%s %s", "reset" if force else "reboot requested for", dom.name())
    return _state(dom)


def pause(_conn: Any, dom: Any) -> VmState:
    state, _ = dom.state()
    if state == libvirt.VIR_DOMAIN_PAUSED:
        return "paused"
    _running(dom)
    dom.suspend()
    log.info("paused %s", dom.name())
    return _state(dom)


def resume(_conn: Any, dom: Any) -> VmState:
    state, _ = dom.state()
    if state in (libvirt.VIR_DOMAIN_PAUSED, libvirt.VIR_DOMAIN_PMSUSPENDED):
        dom.resume()
        log.info("resumed %s", dom.name())
        return _state(dom)
    _running(dom)
    return _state(dom)
