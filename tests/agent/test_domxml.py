"""Domain XML is built from a spec without a hypervisor, and user input stays data."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agent import domxml, simhost
from agent.domxml import VmSpec

VM_ID = "0190a5b2-1111-7000-8000-00000000abcd"


def spec(**kw: object) -> VmSpec:
    values: dict[str, object] = {"vm_id": VM_ID, "name": "web-1", "vcpus": 2, "memory_mib": 512}
    values.update(kw)
    return VmSpec(**values)  # type: ignore[arg-type]


def test_domain_xml_carries_identity_size_and_metadata() -> None:
    root = ET.fromstring(domxml.domain_xml(spec(), "kvm"))
    assert root.get("type") == "kvm"
    assert root.findtext("name") == "lq-web-1-0190a5b2"
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
    assert root.findtext("name") == "lq-a-b-c-..-x-0190a5b2"  # no slash survives


def test_domain_name_of_an_unusable_name() -> None:
    assert domxml.domain_name(spec(name="///")) == "lq-vm-0190a5b2"
    assert len(domxml.domain_name(spec(name="x" * 300))) == 3 + 48 + 1 + 8


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
