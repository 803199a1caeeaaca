"""``Repository.changed_since``: the states set since a mark, for scans that look only at
what changed (the orphaned-reservation pass); unknown (None) at first and once the
journal no longer reaches back to the mark, so the caller looks at everything."""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import cast

from controlplane.repository import Repository
from events import host as he
from events import vm as ve
from events.base import Event, Meta
from events.codec import wrap
from events.store import EventStore

META = Meta(actor="user:test", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_changed_since_reports_the_keys_set_after_a_mark_until_the_journal_is_outrun() -> None:
    repo = Repository(cast(EventStore, None))  # fed below, never read from the stream
    seq = 0

    def vm(ident: str) -> None:
        nonlocal seq
        seq += 1
        event = ve.VmCreated(vm_id=ident, name=ident, vcpus=1, memory_mib=64)
        repo.apply("vm", ident, wrap("vm", ident, [event], META), seq)

    mark, keys = repo.changed_since(0)
    assert keys is None  # nothing seen yet: look at everything
    vm("a")
    vm("b")
    mark, keys = repo.changed_since(mark)
    assert keys == {("vm", "a"), ("vm", "b")}
    mark2, keys = repo.changed_since(mark)
    assert (mark2, keys) == (mark, set())
    seq += 1
    reserve = he.HostCapacityReserved(host_id="h", vm_id="a", vcpus=1, memory_mib=64)
    repo.apply("host", "h", wrap("host", "h", [reserve], META), seq)
    repo.apply("vm", "a", [], seq - 5)  # older than what is held: nothing set
    mark2, keys = repo.changed_since(mark)
    assert keys == {("host", "h")}

    repo._changes = deque(repo._changes, maxlen=2)  # a short journal, outrun below
    mark, _ = repo.changed_since(mark2)
    for ident in ("c", "d", "e"):
        vm(ident)
    assert repo.changed_since(mark)[1] is None
    mark, _ = repo.changed_since(mark)
    vm("f")
    assert repo.changed_since(mark)[1] == {("vm", "f")}


def test_vms_on_follows_each_vm_to_its_host() -> None:
    repo = Repository(cast(EventStore, None))
    history: list[tuple[str, Event]] = [
        ("a", ve.VmCreated(vm_id="a", name="a", vcpus=1, memory_mib=64)),
        ("b", ve.VmCreated(vm_id="b", name="b", vcpus=1, memory_mib=64)),
        ("a", ve.VmPlaced(vm_id="a", host_id="h1")),
        ("b", ve.VmPlaced(vm_id="b", host_id="h1")),
        ("a", ve.VmPlaced(vm_id="a", host_id="h2")),
    ]
    for seq, (ident, event) in enumerate(history, start=1):
        repo.apply("vm", ident, wrap("vm", ident, [event], META), seq)
    assert [v.vm_id for v in repo.vms_on("h1")] == ["b"]
    assert [v.vm_id for v in repo.vms_on("h2")] == ["a"]
    assert repo.vms_on("h3") == []
    for host in ("h1", "h2", "h3"):  # the same answer as walking every VM
        assert repo.vms_on(host) == [v for v in repo.all("vm") if v.host_id == host]
