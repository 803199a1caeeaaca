"""The ``lq`` commands of the full VM lifecycle against a real in-process stack.

Create from a spec, disks, NICs, power (pause, reboot, graceful shutdown), snapshots,
resize, clone, templates, delete options and task cancel: each command is run the way a
script would (``--wait``, ``-o json``) and its effect read back through the CLI itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest

from events import views
from lq.client import render
from lq.client.vm_create import parse_boot, parse_disk, parse_nic, size_gib
from tests.integration.conftest import Stack, StackFactory
from tests.operate.test_client import Lq, signed_in


@pytest.fixture
async def stack(make_stack: StackFactory) -> Stack:
    return await make_stack(hosts=[(8, 8192)])


async def ok(lq: Lq, *args: str) -> dict[str, Any]:
    """Run a task command with --wait; it must succeed."""
    task: dict[str, Any] = await lq.json(*args, "--wait")
    assert task["state"] == "succeeded", (args, task)
    return task


async def test_create_with_a_spec_then_disks_and_nics(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    user_data = tmp_path / "user-data"
    user_data.write_text("#cloud-config\nhostname: app\n")
    spec = ("--memory", "128", "--disk", "1", "--disk", "2G:sata", "--nic", "default:e1000")
    more = ("--machine", "q35", "--boot", "hd,network", "--max-vcpus", "4")
    await ok(lq, "vm", "create", "app", *spec, *more, "--cloud-init-user-data", str(user_data))
    vm = await lq.json("vm", "show", "app")
    assert [(d["disk_id"], d["size_gib"], d["bus"]) for d in vm["disks"]] == [
        ("disk0", 1, "virtio"),
        ("disk1", 2, "sata"),
    ]
    (nic,) = vm["nics"]
    assert (
        nic["nic_id"] == "nic0" and nic["model"] == "e1000" and nic["mac"].startswith("52:54:00:")
    )
    assert (vm["machine"], vm["boot_order"], vm["max_vcpus"]) == ("q35", ["hd", "network"], 4)
    assert vm["has_cloud_init"] is True and vm["template"] is False
    shown = (await lq("vm", "show", "app")).stdout
    assert "disk1" in shown and nic["mac"] in shown and '["hd", "network"]' in shown

    await ok(lq, "vm", "disk", "attach", "app", "--size", "1", "--bus", "scsi")
    await ok(lq, "vm", "disk", "resize", "app", "disk2", "--size", "3")
    disks = await lq.json("vm", "disk", "list", "app")
    assert {d["disk_id"]: d["size_gib"] for d in disks["items"]} == {
        "disk0": 1,
        "disk1": 2,
        "disk2": 3,
    }
    assert "disk2" in (await lq("vm", "disk", "list", "app")).stdout
    await ok(lq, "vm", "disk", "detach", "app", "disk2", "--delete-volume")
    assert [d["disk_id"] for d in (await lq.json("vm", "disk", "list", "app"))["items"]] == [
        "disk0",
        "disk1",
    ]

    accepted = await lq.json("vm", "nic", "attach", "app", "--model", "virtio")
    assert accepted["nic_id"] == "nic1"
    await lq.json("task", "show", accepted["task_id"], "--wait")
    nics = await lq.json("vm", "nic", "list", "app")
    assert [n["nic_id"] for n in nics["items"]] == ["nic0", "nic1"]
    # no network "lab": refused (by the API, or by the host's task), the NIC stays
    moved = await lq("vm", "nic", "set-network", "app", "nic1", "lab", "--wait", ok=False)
    assert moved.exit_code == 1 and "no network" in moved.output and "lab" in moved.output
    nics = await lq.json("vm", "nic", "list", "app")
    assert nics["items"][1]["network_id"] == "default"
    await ok(lq, "vm", "nic", "detach", "app", "nic1")
    assert "nic1" not in (await lq("vm", "nic", "list", "app")).stdout

    refused = await lq("vm", "disk", "resize", "app", "disk0", "--size", "1", "--wait", ok=False)
    assert refused.exit_code == 1  # grow only: the API says no, nothing is queued


async def test_power_snapshots_resize_and_delete_options(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    await ok(lq, "vm", "create", "pw", "--memory", "128", "--disk", "1", "--start")
    await ok(lq, "vm", "pause", "pw")
    assert (await lq.json("vm", "show", "pw"))["state"] == "paused"
    await ok(lq, "vm", "resume", "pw")
    await ok(lq, "vm", "reboot", "pw")
    await ok(lq, "vm", "reboot", "pw", "--hard")
    assert (await lq.json("vm", "show", "pw"))["state"] == "running"

    await ok(lq, "vm", "snapshot", "create", "pw", "one", "--description", "first")
    await ok(lq, "vm", "snapshot", "create", "pw", "two")
    snaps = await lq.json("vm", "snapshot", "list", "pw")
    by_name = {s["name"]: s for s in snaps["items"]}
    assert by_name["two"]["parent_id"] == by_name["one"]["snapshot_id"]
    assert snaps["current_snapshot_id"] == by_name["two"]["snapshot_id"]
    table = (await lq("vm", "snapshot", "list", "pw")).stdout
    assert "*" in table and "one" in table

    await ok(lq, "vm", "shutdown", "pw", "--timeout", "30", "--force-on-timeout")
    assert (await lq.json("vm", "show", "pw"))["state"] == "stopped"
    await ok(lq, "vm", "snapshot", "revert", "pw", "one")  # by name
    snaps = await lq.json("vm", "snapshot", "list", "pw")
    assert snaps["current_snapshot_id"] == by_name["one"]["snapshot_id"]
    await lq("vm", "stop", "pw", "--wait", ok=False)  # reverted to a running state, or not
    await ok(lq, "vm", "snapshot", "delete", "pw", by_name["two"]["snapshot_id"])  # by id
    assert [s["name"] for s in (await lq.json("vm", "snapshot", "list", "pw"))["items"]] == ["one"]
    missing = await lq("vm", "snapshot", "revert", "pw", "nope", ok=False)
    assert missing.exit_code == 1 and "no snapshot 'nope'" in missing.output

    await ok(lq, "vm", "resize", "pw", "--vcpus", "2", "--memory", "256")
    vm = await lq.json("vm", "show", "pw")
    assert (vm["vcpus"], vm["memory_mib"]) == (2, 256)

    refused = await lq("vm", "delete", "pw", "--wait", ok=False)  # it has a snapshot
    assert refused.exit_code == 1 and "409" in refused.output
    await ok(lq, "vm", "delete", "pw", "--delete-snapshots", "--keep-disks")
    assert (await lq.json("vm", "list"))["items"] == []


async def test_clone_templates_and_task_cancel(stack: Stack, tmp_path: Path) -> None:
    lq = await signed_in(stack, tmp_path)
    await ok(lq, "vm", "create", "src", "--memory", "128", "--disk", "1", "--nic", "default")
    accepted = await lq.json("vm", "clone", "src", "src-copy")
    task = await lq.json("task", "show", accepted["task_id"], "--wait")
    assert task["state"] == "succeeded" and task["target_id"] == accepted["vm_id"]
    copy = await lq.json("vm", "show", "src-copy")
    assert copy["clone_of"]["vm_id"] == (await lq.json("vm", "show", "src"))["id"]
    assert copy["nics"][0]["mac"] != (await lq.json("vm", "show", "src"))["nics"][0]["mac"]

    await ok(lq, "vm", "convert-to-template", "src")
    templates = await lq.json("template", "list")
    assert [t["name"] for t in templates["items"]] == ["src"]
    assert "(template)" in (await lq("vm", "list")).stdout
    vms_only = await lq.json("vm", "list", "--no-templates")
    assert "src" not in {v["name"] for v in vms_only["items"]}
    await ok(lq, "vm", "create", "from-tpl", "--vcpus", "2", "--template", "src", "--linked")
    made = await lq.json("vm", "show", "from-tpl")
    assert made["clone_of"]["linked"] is True and made["template"] is False
    assert (made["vcpus"], made["memory_mib"]) == (2, 128)  # memory: the template's
    refused = await lq("vm", "start", "src", "--wait", ok=False)  # templates do not start
    assert refused.exit_code == 1
    refused = await lq("template", "revert", "src", "--wait", ok=False)  # a linked clone needs it
    assert refused.exit_code == 1 and "from-tpl" in refused.output
    await ok(lq, "vm", "delete", "from-tpl")
    await ok(lq, "template", "revert", "src")
    assert (await lq.json("template", "list"))["items"] == []
    out = (await lq("vm", "clone", "src", "src-2")).stdout  # no --wait: the new VM's id
    assert out.startswith("accepted: task") and "vm_id " in out

    done = await lq("task", "cancel", task["id"], ok=False)  # already over
    assert done.exit_code == 1 and "409" in done.output
    unknown = await lq("task", "cancel", "no-such-task", ok=False)
    assert unknown.exit_code == 1 and "404" in unknown.output


def test_spec_parsing() -> None:
    assert parse_disk("20") == {"size_gib": 20}
    assert parse_disk("20G:sata:fast") == {"size_gib": 20, "bus": "sata", "pool_id": "fast"}
    assert parse_nic("lab:e1000") == {"network_id": "lab", "model": "e1000"}
    assert parse_boot("hd,cdrom") == ["hd", "cdrom"]
    assert size_gib("3GiB") == 3
    for bad in ("x", "0", "20:ide", "1:virtio:p:extra"):
        with pytest.raises(click.BadParameter, match=r"GiB|bus|expected"):
            parse_disk(bad)
    with pytest.raises(click.BadParameter, match="model"):
        parse_nic("lab:ne2k")


async def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    lq = Lq(tmp_path)
    for args in (
        ("vm", "create", "x", "--disk", "big"),
        ("vm", "create", "x", "--linked"),
        ("vm", "create", "x", "--boot", "floppy"),
        ("vm", "disk", "attach", "x"),
        ("vm", "shutdown", "x", "--timeout", "0"),
    ):
        result = await lq(*args, ok=False)
        assert result.exit_code == 2, (args, result.output)


def test_snapshot_tree_order() -> None:
    def snap(sid: str, parent: str | None) -> views.SnapshotView:
        when = datetime(2026, 1, 1, tzinfo=UTC)
        return views.SnapshotView(snapshot_id=sid, name=sid, parent_id=parent, created_at=when)

    items = [snap("a", None), snap("b", "a"), snap("c", None), snap("d", "a"), snap("e", "b")]
    order = [(depth, s.snapshot_id) for depth, s in render.snapshot_order(items)]
    assert order == [(0, "a"), (1, "b"), (2, "e"), (1, "d"), (0, "c")]
