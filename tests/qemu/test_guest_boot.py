"""The tiny guest on plain libvirt: it boots under TCG, talks on its serial console, and
powers itself off on the ACPI power button.

This is the ground the end-to-end tests stand on: if it fails, the fault is in the
machine (libvirtd, QEMU, the kernel package) or the guest, not in LimiQuantix.
"""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET

import libvirt
import pytest

from tests.qemu import guest
from tests.qemu.conftest import Janitor
from tests.qemu.serial import SerialConsole

pytestmark = pytest.mark.qemu
BOOT_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 60.0


def domain_xml(name: str, g: guest.Guest) -> str:
    """A minimal TCG domain booting ``g`` directly, serial console on a pty."""
    dom = ET.Element("domain", {"type": "qemu"})
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "memory", {"unit": "MiB"}).text = "128"
    ET.SubElement(dom, "vcpu").text = "1"
    os_el = ET.SubElement(dom, "os")
    ET.SubElement(os_el, "type", {"arch": "x86_64", "machine": "pc"}).text = "hvm"
    ET.SubElement(os_el, "kernel").text = str(g.kernel)
    ET.SubElement(os_el, "initrd").text = str(g.initrd)
    ET.SubElement(os_el, "cmdline").text = g.cmdline
    features = ET.SubElement(dom, "features")
    ET.SubElement(features, "acpi")
    ET.SubElement(features, "apic")
    ET.SubElement(dom, "on_poweroff").text = "destroy"
    devices = ET.SubElement(dom, "devices")
    ET.SubElement(ET.SubElement(devices, "serial", {"type": "pty"}), "target", {"port": "0"})
    console = ET.SubElement(devices, "console", {"type": "pty"})
    ET.SubElement(console, "target", {"type": "serial", "port": "0"})
    return ET.tostring(dom, encoding="unicode")


def test_guest_boots_echoes_and_powers_off_on_acpi(
    janitor: Janitor, tiny_guest: guest.Guest
) -> None:
    name = f"lqtest-guest-{uuid.uuid4().hex[:8]}"
    janitor.domains.append(name)
    # defined persistently and started paused, so the console is open before the banner
    dom = janitor.conn.defineXML(domain_xml(name, tiny_guest))
    dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
    console = SerialConsole(janitor.conn, dom)
    try:
        dom.resume()
        console.wait_for(guest.BANNER, BOOT_TIMEOUT_S)
        console.wait_for(guest.HEARTBEAT, 2 * guest.HEARTBEAT_S + 5)
        console.send("echo lq-$((6*7))\n")  # the shell answers: input reaches the guest
        console.wait_for("lq-42", 20)

        dom.shutdown()  # the ACPI power button, nothing forced
        deadline = time.monotonic() + SHUTDOWN_TIMEOUT_S
        while dom.isActive():
            assert time.monotonic() < deadline, console.text[-2000:]
            time.sleep(0.2)
        state, reason = dom.state()
        assert state == libvirt.VIR_DOMAIN_SHUTOFF
        assert reason == libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN, reason  # not destroyed
        assert "POWER BUTTON" in console.text
    finally:
        console.close()
