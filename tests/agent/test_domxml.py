"""Domain XML is built from a spec without a hypervisor, and user input stays data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import devxml, domxml, simhost
from agent.domxml import VmSpec

VM_ID = "0190a5b2-1111-7000-8000-00000000abcd"


def spec(**kw: object) -> VmSpec:
    values: dict[str, object] = {"vm_id": VM_ID, "name": "web-1", "vcpus": 2, "memory_mib": 512}
    values.update(kw)
    return VmSpec(**values)  # type: ignore[arg-type]


def test_domain_xml_carries_identity_size_and_metadata() -> None:
    root = ET.fromstring(domxml.domain_xml(spec(), "kvm"))
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "lq-web-1-00000000abcd"
    assert root.findtext("uuid") == VM_ID
    assert root.findtext("vcpu") == "2"
    mem = root.find("memory")
    assert mem is not None
    assert (mem.get("unit"), mem.text) == ("MiB", "512")
    meta = root.find(f"metadata/{{{domxml.LQ_NS}}}vm")
    assert meta is not None
    assert meta.attrib == {"id": VM_ID, "name": "web-1"}
    assert root.find("features/acpi") is not None


def test_metadata_uses_the_lq_prefix() -> None:
    text = domxml.domain_xml(spec(), "test")
    assert 'xmlns:lq="urn:limiquantix:vm:1"' in text
    assert "<lq:vm " in text
    root = ET.fromstring(text)
    assert root.find("features") is None  # test driver domains need no ACPI


def test_hostile_names_stay_data() -> None:
    name = "a<b>&\"c' /../x"
    root = ET.fromstring(domxml.domain_xml(spec(name=name), "test"))
    assert root.findtext("title") == name
    meta = root.find(f"metadata/{{{domxml.LQ_NS}}}vm")
    assert meta is not None
    assert meta.get("name") == name
    assert root.findtext("name") == "lq-a-b-c-..-x-00000000abcd"  # no slash survives


def test_domain_name_of_an_unusable_name() -> None:
    assert domxml.domain_name(spec(name="///")) == "lq-vm-00000000abcd"
    assert len(domxml.domain_name(spec(name="x" * 300))) == 3 + 48 + 1 + 12


@pytest.mark.parametrize(
    ("bad", "match"),
    [({"vm_id": "not-a-uuid"}, "UUID"), ({"vcpus": 0}, "vcpus"), ({"memory_mib": 0}, "memory")],
)
def test_invalid_specs_are_rejected(bad: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        domxml.domain_xml(spec(**bad), "test")


@pytest.mark.parametrize(
    ("uri", "kvm", "expected"),
    [
        ("test:///default", True, "test"),
        ("test:///tmp/host.xml", True, "test"),
        ("qemu:///system", True, "kvm"),
        ("qemu+ssh://root@h1/system", False, "qemu"),
    ],
)
def test_domain_type_for_uri(uri: str, kvm: bool, expected: str) -> None:
    assert domxml.domain_type_for_uri(uri, kvm=kvm) == expected


def test_best_domain_type_prefers_kvm() -> None:
    caps = """<capabilities><host/>
      <guest><os_type>hvm</os_type><arch name='x86_64'>
        <domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>"""
    assert domxml.best_domain_type(caps) == "kvm"
    with pytest.raises(ValueError):
        domxml.best_domain_type("<capabilities/>")


def test_parse_metadata_as_libvirt_returns_it() -> None:
    meta = domxml.parse_metadata(f'<vm xmlns="{domxml.LQ_NS}" id="{VM_ID}" name="db"/>')
    assert meta == domxml.ManagedMeta(vm_id=VM_ID, name="db")
    with pytest.raises(ValueError):
        domxml.parse_metadata("<vm/>")
    with pytest.raises(ValueError):
        domxml.parse_metadata("<vm")


def test_simhost_node_file(tmp_path: Path) -> None:
    uri = simhost.write_node_file(tmp_path, "host 1", cpus=6, memory_mib=2048)
    path = tmp_path / "host-1.xml"
    assert uri == f"test://{path}"
    root = ET.fromstring(path.read_text())
    assert root.findtext("cpu/cores") == "6"
    assert root.findtext("memory") == str(2048 * 1024)
    with pytest.raises(ValueError):
        simhost.node_xml("x", 0, 1)
    other = simhost.write_node(tmp_path / "hosts" / "sim-2.xml", cpus=2, memory_mib=1024)
    assert other == f"test://{tmp_path}/hosts/sim-2.xml"


# --- the full lifecycle spec -----------------------------------------------------------------

DISK0 = devxml.DiskDev(disk_id="disk0", path="/p/vm-disk0.qcow2")
SEED = devxml.DiskDev(
    disk_id="cidata", path="/p/vm-cidata.iso", bus="ide", device="cdrom", format="raw",
    target="hdc",
)  # fmt: skip
NIC0 = devxml.NicDev(nic_id="nic0", mac="52:54:00:00:00:01")
NIC1 = devxml.NicDev(nic_id="nic1", mac="52:54:00:00:00:02", model="e1000", network="default")


def test_full_spec_devices_carry_aliases_targets_and_macs() -> None:
    root = ET.fromstring(domxml.domain_xml(spec(disks=(DISK0, SEED), nics=(NIC0, NIC1)), "qemu"))
    disks = root.findall("devices/disk")
    assert [d.get("device") for d in disks] == ["disk", "cdrom"]
    assert [d.find("alias").get("name") for d in disks] == ["ua-disk0", "ua-cidata"]  # type: ignore[union-attr]
    assert disks[0].find("target").attrib == {"dev": "vda", "bus": "virtio"}  # type: ignore[union-attr]
    assert disks[0].find("driver").get("type") == "qcow2"  # type: ignore[union-attr]
    assert disks[1].find("readonly") is not None
    nics = root.findall("devices/interface")
    assert [n.get("type") for n in nics] == ["user", "network"]
    assert nics[1].find("source").get("network") == "default"  # type: ignore[union-attr]
    assert nics[1].find("model").get("type") == "e1000"  # type: ignore[union-attr]
    assert root.find("devices/serial[@type='pty']") is not None
    assert root.find("devices/console/target").get("type") == "serial"  # type: ignore[union-attr]
    vnc = root.find("devices/graphics")
    assert vnc is not None
    assert (vnc.get("type"), vnc.get("listen"), vnc.get("autoport")) == ("vnc", "127.0.0.1", "yes")


def test_headroom_firmware_boot_order_and_kernel() -> None:
    root = ET.fromstring(
        domxml.domain_xml(
            spec(
                vcpus=2, max_vcpus=8, memory_mib=512, max_memory_mib=2048, machine="q35",
                firmware="uefi", loader="/ovmf/CODE.fd", nvram_template="/ovmf/VARS.fd",
                boot_order=("network", "hd"), kernel="/boot/vmlinuz", initrd="/boot/initrd",
                cmdline="console=ttyS0",
            ),
            "kvm",
        )
    )  # fmt: skip
    vcpu = root.find("vcpu")
    assert vcpu is not None
    assert (vcpu.text, vcpu.get("current")) == ("8", "2")
    assert root.findtext("memory") == "2048"
    assert root.findtext("currentMemory") == "512"
    assert root.find("os/type").get("machine") == "q35"  # type: ignore[union-attr]
    assert root.findtext("os/loader") == "/ovmf/CODE.fd"
    assert root.find("os/nvram").get("template") == "/ovmf/VARS.fd"  # type: ignore[union-attr]
    assert [b.get("dev") for b in root.findall("os/boot")] == ["network", "hd"]
    assert (root.findtext("os/kernel"), root.findtext("os/initrd")) == (
        "/boot/vmlinuz",
        "/boot/initrd",
    )
    assert root.findtext("os/cmdline") == "console=ttyS0"
    assert root.find("features/acpi") is not None


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ({"vcpus": 4, "max_vcpus": 2}, "max_vcpus"),
        ({"memory_mib": 512, "max_memory_mib": 256}, "max_memory_mib"),
        ({"firmware": "uefi"}, "OVMF"),
        ({"firmware": "coreboot"}, "firmware"),
        ({"cmdline": "a\x00b"}, "control character"),
        ({"disks": (DISK0, DISK0)}, "unique"),
    ],
)
def test_invalid_lifecycle_specs_are_rejected(bad: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        domxml.validate(spec(**bad))


def test_device_targets_and_lookup() -> None:
    assert [devxml.letters(i) for i in (0, 1, 25, 26)] == ["a", "b", "z", "aa"]
    assert devxml.target_for("disk2", "virtio") == "vdc"
    assert devxml.target_for("disk1", "sata") == "sdb"
    assert devxml.seed_target("pc") == ("ide", "hdc")
    assert devxml.seed_target("q35") == ("sata", "sdz")
    xml = domxml.domain_xml(spec(disks=(DISK0,), nics=(NIC0,)), "test")
    assert devxml.find_disk(xml, "disk0") is not None
    assert devxml.find_disk(xml, "disk1") is None
    assert devxml.find_nic(xml, "nic0") is not None
    assert devxml.find_nic(xml, "other", mac="52:54:00:00:00:01") is not None  # by MAC
    assert devxml.nic_ids_by_mac(xml) == {"52:54:00:00:00:01": "nic0"}
    assert devxml.volume_paths(xml) == ["/p/vm-disk0.qcow2"]


def test_definition_edits_for_hypervisors_without_hot_plug() -> None:
    xml = domxml.domain_xml(spec(disks=(DISK0,), nics=(NIC0,)), "test")
    disk1 = devxml.DiskDev(disk_id="disk1", path="/p/vm-disk1.qcow2")
    added = devxml.with_device(xml, devxml.disk_element(disk1))
    assert devxml.volume_paths(added) == ["/p/vm-disk0.qcow2", "/p/vm-disk1.qcow2"]
    removed = devxml.without_device(added, devxml.disk_element(disk1))
    assert devxml.volume_paths(removed) == ["/p/vm-disk0.qcow2"]
    moved = devxml.replaced_device(xml, devxml.nic_element(NIC0), devxml.nic_element(
        devxml.NicDev(nic_id="nic0", mac=NIC0.mac, network="lan")
    ))  # fmt: skip
    nic = devxml.find_nic(moved, "nic0")
    assert nic is not None
    assert devxml.nic_of(nic) == devxml.NicDev(nic_id="nic0", mac=NIC0.mac, network="lan")


def test_find_ovmf(tmp_path: Path) -> None:
    assert domxml.find_ovmf(str(tmp_path)) is None
    (tmp_path / "OVMF_CODE.fd").write_bytes(b"")
    (tmp_path / "OVMF_VARS.fd").write_bytes(b"")
    assert domxml.find_ovmf(str(tmp_path)) == (
        str(tmp_path / "OVMF_CODE.fd"),
        str(tmp_path / "OVMF_VARS.fd"),
    )


def test_same_named_vms_created_moments_apart_get_distinct_domain_names() -> None:
    # UUIDv7 ids created in the same minute share their leading (timestamp) digits.
    a = spec(vm_id="019a1b2c-3d4e-7f00-8a11-0123456789ab", name="web")
    b = spec(vm_id="019a1b2c-3d4e-7f00-9b22-fedcba987654", name="web")
    assert domxml.domain_name(a) != domxml.domain_name(b)
    assert domxml.domain_name(a) == "lq-web-0123456789ab"
