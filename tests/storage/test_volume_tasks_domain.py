"""Volume tasks end, never hang: cancelling a queued one, and the deadline rule
(``controlplane.domain.storage_deadlines``) as tables of given events and expected
reasons. The same rules on a running stack: ``test_volume_tasks.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controlplane.domain import storage_deadlines as sdl
from controlplane.domain import storage_pool as sd
from controlplane.domain.errors import InvalidState
from events import storage as se
from events import task as te
from events.base import Event, Meta
from events.codec import wrap

GIB = se.GIB
T0 = datetime(2026, 1, 1, tzinfo=UTC)
UP = {"h1": "connected"}


def fold(pool: sd.Pool | None, events: list[Event], at: datetime = T0) -> sd.Pool:
    for env in wrap(sd.KIND, "p1", events, Meta(actor="test", occurred_at=at)):
        pool = sd.evolve(pool, env)
    assert pool is not None
    return pool


def run(pool: sd.Pool | None, command: sd.Command, at: datetime = T0) -> sd.Pool:
    return fold(pool, sd.decide(pool, command), at)


def pool_with(*names: str) -> sd.Pool:
    pool = run(
        None,
        sd.Define(
            pool_id="p1",
            name="a",
            pool_type="dir",
            params=se.PoolParams(path="/srv/pools/a"),
            capacity_bytes=10 * GIB,
            allowed_roots=("/srv/pools",),
        ),
    )
    pool = run(pool, sd.Attach(host_id="h1"))
    for name in names:
        create = sd.CreateVolume(task_id=f"t-{name}", volume_id=name, name=name, size_bytes=GIB)
        pool = run(pool, create)
        pool = run(pool, sd.VolumeDone(volume_id=name, operation="create", host_id="h1"))
    return pool


def test_a_queued_task_is_cancelled_and_the_volume_stays_as_it_was() -> None:
    pool = pool_with("v1")
    create = sd.CreateVolume(task_id="t-new", volume_id="new", name="new", size_bytes=4 * GIB)
    pool = run(pool, create, T0)
    assert pool.allocated_bytes == 5 * GIB
    events = sd.decide(pool, sd.CancelTask(task_id="t-new", reason="wrong size"))
    assert events == [
        se.VolumeFailed(
            pool_id="p1", volume_id="new", operation="create", error="cancelled: wrong size"
        ),
        te.TaskCancelled(task_id="t-new", reason="wrong size"),
    ]
    pool = fold(pool, events)
    assert pool.volumes["new"].state == "failed" and pool.allocated_bytes == GIB  # space back
    # a queued deletion cancelled: the volume is ready as before
    pool = run(pool, sd.DeleteVolume(task_id="t-del", volume_id="v1"))
    pool = run(pool, sd.CancelTask(task_id="t-del"))
    assert (pool.volumes["v1"].state, pool.volumes["v1"].error) == ("ready", "cancelled")
    # a queued resize cancelled keeps the old size
    pool = run(pool, sd.ResizeVolume(task_id="t-grow", volume_id="v1", size_bytes=3 * GIB))
    pool = run(pool, sd.CancelTask(task_id="t-grow"))
    assert (pool.volumes["v1"].state, pool.volumes["v1"].size_bytes) == ("ready", GIB)


@pytest.mark.parametrize("case", ["dispatched", "ended", "upload"])
def test_what_cannot_be_cancelled_is_refused(case: str) -> None:
    pool = pool_with("v1")
    task = "t-v1"
    if case == "dispatched":
        pool = run(pool, sd.DeleteVolume(task_id="t-del", volume_id="v1"))
        pool = run(pool, sd.VolumeStarted(volume_id="v1", operation="delete", host_id="h1"))
        task = "t-del"
    elif case == "upload":
        up = sd.CreateVolume(
            task_id="t-up", volume_id="up", name="up", size_bytes=GIB, source_url=se.UPLOAD_SOURCE
        )
        pool = run(pool, up)
        task = "t-up"
    with pytest.raises(InvalidState) as err:
        sd.decide(pool, sd.CancelTask(task_id=task))
    assert err.value.slug == "not-cancellable"


def test_a_dispatch_decided_after_a_cancellation_decides_nothing() -> None:
    pool = run(pool_with("v1"), sd.DeleteVolume(task_id="t-del", volume_id="v1"))
    pool = run(pool, sd.CancelTask(task_id="t-del"))
    assert sd.decide(pool, sd.VolumeStarted(volume_id="v1", operation="delete", host_id="h1")) == []


def test_deadlines_and_away_hosts_give_their_reasons() -> None:
    pool = run(pool_with("v1", "v2"), sd.DeleteVolume(task_id="t-del", volume_id="v1"), T0)
    v1 = pool.volumes["v1"]
    assert v1.since == T0
    at = T0 + timedelta(seconds=30)

    def why(vol: sd.Volume, now: datetime, **kw: object) -> str | None:
        args: dict[str, object] = {"timeout_s": 60.0, "host_states": UP, **kw}
        return sdl.overdue(pool, vol, now, **args)  # type: ignore[arg-type]

    assert why(v1, at) is None
    assert why(pool.volumes["v2"], at + timedelta(hours=1)) is None  # ready: nothing pending
    assert why(v1, at, host_states={"h1": "disconnected"}) == (
        "host h1 is disconnected: volume.delete of v1 not done"
    )
    late = T0 + timedelta(seconds=61)
    assert why(v1, late) == "host h1 did not take volume.delete of v1 within 60 s"
    assert why(v1, late, attached_to=["vm-a", "vm-b"]) == (
        "volume v1 still attached to vm vm-a, vm-b after 60 s"
    )
    # a dispatched clone has LONG_FACTOR deadlines, restarted when dispatched
    clone = sd.CreateVolume(task_id="t-c", volume_id="c", name="c", size_bytes=0, clone_of="v2")
    pool = run(pool, clone, T0)
    pool = run(pool, sd.VolumeStarted(volume_id="c", operation="clone", host_id="h1"), at)
    c = pool.volumes["c"]
    assert c.since == at and why(c, at + timedelta(seconds=61)) is None
    assert why(c, at + timedelta(seconds=361)) == (
        "host h1 did not complete volume.clone of c within 360 s"
    )
    # an upload is ended by its own rule
    up = sd.CreateVolume(
        task_id="t-up", volume_id="up", name="up", size_bytes=GIB, source_url=se.UPLOAD_SOURCE
    )
    pool = run(pool, up)
    assert why(pool.volumes["up"], late, host_states={"h1": "down"}) is None


def test_a_deletion_the_host_carries_out_after_its_task_failed_still_removes_it() -> None:
    pool = run(pool_with("v1"), sd.DeleteVolume(task_id="t-del", volume_id="v1"))
    pool = run(pool, sd.VolumeFailed(volume_id="v1", operation="delete", error="host h1 is down"))
    assert pool.volumes["v1"].state == "ready"
    late = sd.decide(pool, sd.VolumeDone(volume_id="v1", operation="delete", host_id="h1"))
    assert late == [se.VolumeDeleted(pool_id="p1", volume_id="v1")]
    assert "v1" not in fold(pool, late).volumes


def test_an_idempotency_key_is_recorded_on_the_task() -> None:
    pool = pool_with()
    create = sd.CreateVolume(
        task_id="t1", volume_id="v", name="v", size_bytes=GIB, idempotency_key="k"
    )
    queued = sd.decide(pool, create)[1]
    assert isinstance(queued, te.TaskQueued) and queued.idempotency_key == "k"
    assert sd.decide(run(pool, create), create) == []  # the same volume id: nothing more
