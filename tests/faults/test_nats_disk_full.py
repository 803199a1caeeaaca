"""The disk of the NATS store fills up: commands fail with a clear 503, nothing is
half-done, and once space returns (and nats-server is restarted) the same command goes
through exactly once.

The JetStream store lives on a small tmpfs mounted for the test (root only); a filler
file takes the rest of it, so nats-server's writes really hit ``ENOSPC``. Measured with
nats-server 2.15: it answers no publish while the disk is full (the controlplane's
append gives up after its retries) and keeps the failed block's write error after space
returns, so recovery needs a restart of nats-server; the stream is intact after it.

The stack's append budget is short (``events_append_timeout_s`` x ``events_append_retries``,
docs/settings.md) so that giving up takes seconds rather than the default's half minute;
the refusal must come within that budget (the default's would not).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lq.embedded import NatsServer, start_nats
from tests.integration.conftest import StackFactory

UNAVAILABLE = "urn:limiquantix:problem:unavailable"
APPEND_TIMEOUT_S = 2.0
APPEND_RETRIES = 2
BUDGET_S = APPEND_TIMEOUT_S * (APPEND_RETRIES + 1)


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """nats-server with its JetStream store on a 64 MiB tmpfs of its own."""
    disk = tmp_path / "nats-disk"
    if not _mount_tmpfs(disk, "64m"):
        pytest.skip("needs root and tmpfs mounts (a small file system for the NATS store)")
    srv = start_nats(disk / "js")
    try:
        yield srv
    finally:
        srv.stop()
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write a filler file until the file system is full."""
    filler = disk / "filler"
    chunk = b"\0" * (1 << 20)
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(chunk)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    with contextlib.suppress(OSError), open(disk / "filler-tail", "wb") as tail:
        while True:  # the last partial megabyte
            tail.write(b"\0" * 4096)
            tail.flush()
    return filler


@pytest.mark.timeout(240)
async def test_full_nats_disk_fails_commands_cleanly_and_recovers(
    make_stack: StackFactory, nats_server: NatsServer
) -> None:
    stack = await make_stack(
        hosts=[(4, 4096)],
        events_append_timeout_s=APPEND_TIMEOUT_S,
        events_append_retries=APPEND_RETRIES,
    )
    first = await stack.command(
        "POST", "/api/v1/vms", json={"name": "before", "vcpus": 1, "memory_mib": 128}
    )
    assert (await stack.wait_task(first["task_id"]))["state"] == "succeeded"
    end_before = int((await stack.get("/ready"))["checks"]["stream_seq"])
    disk = nats_server.store_dir.parent
    filler = fill(disk)

    key = {"Idempotency-Key": "disk-full-1"}
    body = {"name": "during", "vcpus": 1, "memory_mib": 128}
    started = time.monotonic()
    status, problem, ctype = await stack.request("POST", "/api/v1/vms", json=body, headers=key)
    waited = time.monotonic() - started
    print(f"\ncommand on a full NATS disk answered {status} after {waited:.1f} s")
    assert (status, problem["type"]) == (503, UNAVAILABLE), problem
    assert ctype.startswith("application/problem+json")
    assert "Idempotency-Key" in problem["detail"]
    # bounded by the append's budget, never a hang: the command's first append (its name
    # claim) waits out every try, plus at most a second of backoff in all
    assert waited < BUDGET_S + 5, waited
    # reads keep working from the read model meanwhile, and show nothing of it
    names = [v["name"] for v in (await stack.get("/api/v1/vms"))["items"]]
    assert names == ["before"]

    # space returns; nats-server keeps the block's write error until it restarts
    filler.unlink()
    (disk / "filler-tail").unlink(missing_ok=True)
    nats_server.stop()
    nats_server.restart()
    recovered = time.monotonic()
    for _ in range(300):  # the stack reconnects by itself
        status, again, _ = await stack.request("POST", "/api/v1/vms", json=body, headers=key)
        if status == 202:
            break
        assert status == 503, again
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("commands never succeeded after the disk was freed")
    print(f"first command accepted {time.monotonic() - recovered:.1f} s after the restart")
    assert (await stack.wait_task(again["task_id"], timeout=60))["state"] == "succeeded"
    # exactly once: one "during" VM, and the log holds no trace of the refused attempt
    vms = (await stack.get(f"/api/v1/vms?min_seq={again['seq']}"))["items"]
    assert sorted(v["name"] for v in vms) == ["before", "during"]
    created = (await stack.get("/api/v1/events?type=vm.created&limit=500"))["items"]
    assert len(created) == 2
    assert min(e["seq"] for e in created if e["aggregate_id"] == again["vm_id"]) > end_before
