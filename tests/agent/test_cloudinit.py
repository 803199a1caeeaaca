"""The cloud-init NoCloud seed is an ISO labelled ``cidata`` that a guest can read."""

from __future__ import annotations

from agent import cloudinit

VM_ID = "0190a5b2-1111-7000-8000-00000000abcd"


def test_seed_holds_the_three_files_under_their_real_names() -> None:
    image = cloudinit.seed_iso(
        VM_ID,
        "web-1",
        user_data="#cloud-config\npackages: [nginx]\n",
        meta_data="instance-id: abc\n",
        network_config="version: 2\nethernets: {}\n",
    )
    label, files = cloudinit.read_iso(image)
    assert label == "cidata"
    assert files == {
        "user-data": b"#cloud-config\npackages: [nginx]\n",
        "meta-data": b"instance-id: abc\n",
        "network-config": b"version: 2\nethernets: {}\n",
    }


def test_meta_data_defaults_to_the_vm_id_and_no_network_config() -> None:
    label, files = cloudinit.read_iso(cloudinit.seed_iso(VM_ID, "db"))
    assert label == "cidata"
    assert set(files) == {"user-data", "meta-data"}  # network-config only when given
    assert files["meta-data"].decode() == f"instance-id: {VM_ID}\nlocal-hostname: db\n"
    assert files["user-data"].startswith(b"#cloud-config")


def test_the_image_is_the_same_for_the_same_input() -> None:
    one = cloudinit.seed_files(VM_ID, "a", "u", "m", "")
    assert one == cloudinit.seed_files(VM_ID, "a", "u", "m", "")
    assert len(cloudinit.build_iso(one)) % 2048 == 0  # whole ISO sectors


def test_non_ascii_user_data_survives() -> None:
    text = "#cloud-config\nwrite_files: [{path: /etc/motd, content: 'héllo ✓'}]\n"
    _, files = cloudinit.read_iso(cloudinit.seed_iso(VM_ID, "x", user_data=text))
    assert files["user-data"].decode() == text
