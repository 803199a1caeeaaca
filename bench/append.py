"""Append throughput: the event store's checked appends against unchecked raw publishes.

Starts a private nats-server (``lq.embedded.start_nats``) in a temporary directory and, in
one run, appends N single-event decisions of realistic size to N distinct VM aggregates
with ``EventStore.append_many`` (expected-sequence check and ``Nats-Msg-Id`` on every
message), then publishes the same payloads with nats-py's ``publish_async`` (no headers, no
checks) to a twin stream. Prints events/s of each and their ratio.

    .venv/bin/python bench/append.py [-n 20000] [--chunk 5000] [--sync-always]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import nats
from nats.js import api

from events.base import Meta, new_id, utcnow
from events.bus import Bus
from events.codec import encode, wrap
from events.settings import Settings
from events.store import AppendRequest, AppendResult
from events.vm import VmCreated
from lq.embedded import start_nats

RAW_STREAM = "LQ_BENCH_RAW"


def requests(n: int) -> list[AppendRequest]:
    meta = Meta(
        actor="user:admin",
        occurred_at=utcnow(),
        correlation_id=new_id(),
        causation_id=new_id(),
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    out = []
    for i in range(n):
        vm = new_id()
        event = VmCreated(
            vm_id=vm,
            name=f"web-{i:06d}",
            vcpus=2,
            memory_mib=4096,
            start=True,
            description="bench: a realistic VM create",
        )
        out.append(AppendRequest("vm", vm, wrap("vm", vm, [event], meta), 0))
    return out


async def run(n: int, chunk: int, sync_always: bool) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_nats(Path(tmp) / "nats", sync_always=sync_always)
        try:
            bus = await Bus.connect(srv.url, name="lq-bench")
            nc = await nats.connect(srv.url)
            try:
                await bus.provision(Settings())
                js = nc.jetstream()
                await js.add_stream(
                    name=RAW_STREAM,
                    subjects=["bench.raw.>"],
                    storage=api.StorageType.FILE,
                    allow_direct=True,
                    duplicate_window=120,
                )
                reqs = requests(n)
                size = len(encode(list(reqs[0].envelopes)))
                print(f"{n} events, {size} bytes per message, chunks of {chunk}")

                t0 = time.perf_counter()
                for i in range(0, n, chunk):
                    results = await bus.store.append_many(reqs[i : i + chunk])
                    assert all(isinstance(r, AppendResult) for r in results)
                checked = n / (time.perf_counter() - t0)

                payloads = [encode(list(r.envelopes)) for r in reqs]
                t0 = time.perf_counter()
                for i, p in enumerate(payloads):
                    await js.publish_async(f"bench.raw.vm.{i}", p)
                await js.publish_async_completed()
                raw = n / (time.perf_counter() - t0)
                assert await bus.store.last_seq() == n
            finally:
                await nc.close()
                await bus.close()
        finally:
            srv.stop()
    return checked, raw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20_000, help="events (default 20000)")
    ap.add_argument("--chunk", type=int, default=5_000, help="requests per append_many call")
    ap.add_argument("--sync-always", action="store_true", help="server fsyncs every write")
    args = ap.parse_args()
    checked, raw = asyncio.run(run(args.n, args.chunk, args.sync_always))
    print(f"append_many (expected-sequence checked): {checked:10,.0f} events/s")
    print(f"publish_async (raw, unchecked):          {raw:10,.0f} events/s")
    print(f"ratio checked/raw: {checked / raw:.2f}")


if __name__ == "__main__":
    main()
