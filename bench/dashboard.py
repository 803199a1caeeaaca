"""Benchmark: the dashboard with a large fleet — /vms latency and event-to-screen delay.

Starts a real stack (``lq up --hosts 3`` on a free port, as the end-to-end tests do),
appends a synthetic fleet of N VMs straight to its event stream with
``EventStore.append_many`` (``<data dir>/endpoints.json`` gives the NATS URL), waits until
both the projector and the controlplane's in-memory aggregate cache have replayed them,
then measures:

1. ``GET /api/v1/vms`` first pages (p50/p95/p99 over ``--requests`` sequential calls on
   one keep-alive connection, after a warm-up), for the default listing and a few
   sorts and filters;
2. in headless Chromium (``/usr/bin/chromium`` through Playwright) on
   ``/vms?sort=-updated_at``: VMs created and started through the API, one at a time, and
   the time from the JetStream commit of an event (the stream's own storage timestamp of
   the message) to the moment a MutationObserver in the page sees the row reflect it.

The fleet (``bench/inventory_fleet.py``, shared with ``bench/bigfleet.py``) is realistic in
shape but needs no agents: ``--fleet-hosts`` hosts (default one per 250 VMs) enrolled and
disconnected, and each VM one message holding its whole, valid history, so no process
manager ever sees a pending task and nothing acts on the fleet.

    .venv/bin/python bench/dashboard.py --vms 50000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.inventory_fleet import load_fleet
from events import natsauth
from events.bus import Bus
from events.settings import Settings
from events.store import EventStore
from events.subjects import EVENTS_STREAM

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("LQ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary(values: Sequence[float]) -> str:
    return (
        f"p50 {pct(values, 50):7.1f}  p95 {pct(values, 95):7.1f}  p99 {pct(values, 99):7.1f}"
        f"  max {max(values):7.1f} ms  (n={len(values)})"
    )


# ---------------------------------------------------------------------------- the stack


@dataclass
class Stack:
    url: str
    data_dir: Path
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    token: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def _pump(
    proc: subprocess.Popen[str], sink: list[str], ready: threading.Event, needle: str
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line.rstrip("\n"))
        if needle in line:
            ready.set()
    ready.set()


def _call(url: str, token: str = "", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=5) as res:
        return json.loads(res.read())


def login(url: str, data_dir: Path) -> str:
    """An access token for admin (the password ``lq up`` wrote to the data directory)."""
    secret = (data_dir / "admin-password").read_text().strip()
    answer = _call(url + "/api/v1/auth/login", body={"username": "admin", "password": secret})
    return str(answer["access_token"])


def _stack_ready(url: str, data_dir: Path, hosts: int) -> bool:
    """/ready answers 200 and ``hosts`` hosts are connected (logging in when needed)."""
    try:
        _call(url + "/ready")
        try:
            found = _call(url + "/api/v1/hosts?state=connected")
        except urllib.error.HTTPError as exc:
            if exc.code != 401:
                raise
            found = _call(url + "/api/v1/hosts?state=connected", login(url, data_dir))
    except (OSError, ValueError, KeyError):
        return False
    return int(found["total"]) >= hosts


def start_stack(data_dir: Path, port: int, hosts: int, timeout: float) -> Stack:
    """``lq up`` as a subprocess; ready at its ready line or when our own check passes."""
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "lq.cli", "up", "--data-dir", str(data_dir)),
            *("--port", str(port), "--hosts", str(hosts)),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    output: list[str] = []
    ready = threading.Event()
    threading.Thread(target=_pump, args=(proc, output, ready, url + "/"), daemon=True).start()
    deadline = time.monotonic() + timeout
    while not ready.wait(1.0):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_stack(proc)
            tail = "\n".join(output[-40:])
            raise SystemExit(f"`lq up` was not ready within {timeout:.0f} s:\n{tail}")
        if _stack_ready(url, data_dir, hosts):
            break
    return Stack(url=url, data_dir=data_dir, proc=proc, output=output)


def stop_stack(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


async def authenticate(http: aiohttp.ClientSession, stack: Stack) -> None:
    """Log in as admin when the API wants a bearer token (nothing to do otherwise)."""
    async with http.get(f"{stack.url}/api/v1/vms?limit=1") as res:
        if res.status != 401:
            return
    stack.token = await asyncio.to_thread(login, stack.url, stack.data_dir)
    print("the API wants a bearer token: logged in as admin")


async def get_json(http: aiohttp.ClientSession, stack: Stack, path: str) -> Any:
    async with http.get(stack.url + path, headers=stack.headers()) as res:
        res.raise_for_status()
        return await res.json()


# ---------------------------------------------------------------------------- the fleet


async def wait_caught_up(
    http: aiohttp.ClientSession, stack: Stack, store: EventStore, seq: int, timeout: float
) -> tuple[float, float, float, int]:
    """Seconds until the controlplane's cache and the projector's checkpoint reach ``seq``,
    and until both equal the stream's last sequence, unchanged for 3 s (the stack's own
    reactions to the appended fleet, e.g. alerts, are done); and that last sequence."""
    t0 = time.perf_counter()
    cache = model = 0.0
    quiet_since, last = 0.0, -1
    deadline = t0 + timeout
    checks: dict[str, Any] = {}
    while time.perf_counter() < deadline:
        async with http.get(stack.url + "/ready", headers=stack.headers()) as res:
            checks = (await res.json()).get("checks", {})
        stream = await store.last_seq()
        now = time.perf_counter() - t0
        at_cache, at_model = int(checks.get("stream_seq", 0)), int(checks.get("checkpoint", 0))
        if not cache and at_cache >= seq:
            cache = now
        if not model and at_model >= seq:
            model = now
        if cache and model and at_cache == at_model == stream:
            if stream != last:
                quiet_since, last = now, stream
            elif now - quiet_since >= 3.0:
                return cache, model, quiet_since, stream
        else:
            last = -1
        await asyncio.sleep(0.2)
    raise SystemExit(f"not caught up with seq {seq} after {timeout:.0f} s: {checks}")


# ---------------------------------------------------------------------------- the API


async def api_latency(
    http: aiohttp.ClientSession, stack: Stack, requests: int
) -> dict[str, list[float]]:
    first = await get_json(http, stack, "/api/v1/vms")
    cursor = first["next_cursor"]
    queries = {
        "/api/v1/vms (default: sort=name, limit=50)": "/api/v1/vms",
        "/api/v1/vms?limit=100&sort=-updated_at (the UI's request)": (
            "/api/v1/vms?limit=100&sort=-updated_at"
        ),
        "/api/v1/vms?limit=100&state=running": "/api/v1/vms?limit=100&state=running",
        "/api/v1/vms?limit=100&q=vm-4": "/api/v1/vms?limit=100&q=vm-4",
        "/api/v1/vms?cursor=… (second page, default sort)": f"/api/v1/vms?cursor={cursor}",
    }
    out: dict[str, list[float]] = {}
    for label, path in queries.items():
        for _ in range(10):  # warm-up: connection, plans, caches
            await get_json(http, stack, path)
        times: list[float] = []
        for _ in range(requests):
            t0 = time.perf_counter()
            await get_json(http, stack, path)
            times.append((time.perf_counter() - t0) * 1000)
        out[label] = times
        print(f"  {label:58s} {summary(times)}")
    return out


# ---------------------------------------------------------------------------- the browser

OBSERVER_JS = """
() => {
  window.__lqSeen = {};
  const now = () => performance.timeOrigin + performance.now();
  const scan = () => {
    const t = now();
    for (const row of document.querySelectorAll('[role=row][data-vm-name^="ui-bench-"]')) {
      const name = row.getAttribute('data-vm-name');
      const state = row.getAttribute('data-state');
      const seen = (window.__lqSeen[name] ??= {});
      if (seen.row === undefined) seen.row = t;
      if (seen[state] === undefined) seen[state] = t;
    }
  };
  new MutationObserver(scan).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'],
  });
  scan();
}
"""


NETWORK_JS = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const net = (window.__lqNet = { ws: [], fetches: [] });
  const Ws = window.WebSocket;
  window.WebSocket = class extends Ws {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        const t = now();
        if (typeof ev.data === 'string' && ev.data.includes('"changes"')) net.ws.push([t, ev.data]);
      });
    }
  };
  const fetch0 = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const rec = { url: typeof input === 'string' ? input : input.url, start: now(), end: 0 };
    net.fetches.push(rec);
    try { return await fetch0(input, init); } finally { rec.end = now(); }
  };
})();
"""


def breakdown(net: dict[str, Any], vm_id: str, commit_ms: float, row_ms: float) -> list[float]:
    """[commit → changes frame, frame → list request, request → response headers,
    headers → row in the DOM] in ms, for the first frame naming ``vm_id``."""
    frames = [t for t, data in net["ws"] if vm_id in data and t >= commit_ms - 50]
    if not frames:
        return []
    ws = frames[0]
    lists = [
        f
        for f in net["fetches"]
        if "/api/v1/vms?" in f["url"] and f["start"] >= ws and 0 < f["end"] <= row_ms + 1
    ]
    if not lists:
        return []
    last = lists[-1]  # the list answer that brought the row
    return [ws - commit_ms, last["start"] - ws, last["end"] - last["start"], row_ms - last["end"]]


async def commit_time(js: Any, seq: int) -> float:
    """The JetStream storage timestamp of stream message ``seq``, as epoch seconds."""
    msg = await js.get_msg(EVENTS_STREAM, seq)
    stamp = msg.time
    if stamp is None:
        raise SystemExit(f"stream message {seq} has no timestamp")
    return float(stamp.timestamp())


async def started_seq(http: aiohttp.ClientSession, stack: Stack, vm_id: str) -> int:
    events = await get_json(http, stack, f"/api/v1/vms/{vm_id}/events?limit=100")
    for e in events["items"]:
        if e["type"] == "vm.started":
            return int(e["seq"])
    raise SystemExit(f"vm {vm_id} has no vm.started event")


async def ui_latency(
    http: aiohttp.ClientSession, stack: Stack, nats_url: str, samples: int, shot: Path | None
) -> dict[str, list[float]]:
    from playwright.async_api import async_playwright

    auth = natsauth.service_auth(Settings(data_dir=str(stack.data_dir)))
    nc = await nats.connect(
        nats_url,
        name="bench-dashboard-reader",
        nkeys_seed=auth.seed_file if auth and auth.seed_file else None,
        user_credentials=auth.creds_file if auth and auth.creds_file else None,
        inbox_prefix=auth.inbox_prefix if auth else "_INBOX",
    )
    js = nc.jetstream()
    out: dict[str, list[float]] = {"created": [], "running": [], "request": []}
    parts: list[list[float]] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = await browser.new_context(
                base_url=stack.url, viewport={"width": 1440, "height": 900}
            )
            await ctx.add_init_script(NETWORK_JS)
            page = await ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto("/vms?sort=-updated_at")
            if stack.token:  # the dashboard asks us to sign in: as admin, through its form
                await page.wait_for_selector("input[name=username]", timeout=30_000)
                await page.fill("input[name=username]", "admin")
                secret = (stack.data_dir / "admin-password").read_text().strip()
                await page.fill("input[name=password]", secret)
                await page.click("button[type=submit]")
                await page.wait_for_selector("[role=row][data-vm-id]", timeout=30_000)
                await page.goto("/vms?sort=-updated_at")
            await page.wait_for_selector(
                "[data-testid=connection][data-state=open]", timeout=30_000
            )
            await page.wait_for_selector("[role=row][data-vm-id]", timeout=30_000)
            await page.evaluate(OBSERVER_JS)
            await asyncio.sleep(1.0)
            for k in range(samples):
                name = f"ui-bench-{k:02d}-{uuid.uuid4().hex[:4]}"
                body = {"name": name, "vcpus": 1, "memory_mib": 512, "start": True}
                t_send = time.time()
                async with http.post(
                    stack.url + "/api/v1/vms", json=body, headers=stack.headers()
                ) as res:
                    res.raise_for_status()
                    accepted = await res.json()
                t_202 = time.time()
                await page.wait_for_function(
                    f"() => window.__lqSeen[{json.dumps(name)}]?.running !== undefined",
                    timeout=30_000,
                )
                seen = await page.evaluate(f"() => window.__lqSeen[{json.dumps(name)}]")
                created_commit = await commit_time(js, int(accepted["seq"]))
                run_seq = await started_seq(http, stack, accepted["vm_id"])
                running_commit = await commit_time(js, run_seq)
                out["created"].append(seen["row"] - created_commit * 1000)
                net = await page.evaluate("() => window.__lqNet")
                split = breakdown(net, accepted["vm_id"], created_commit * 1000, seen["row"])
                if split:
                    parts.append(split)
                out["running"].append(seen["running"] - running_commit * 1000)
                out["request"].append(seen["running"] - t_send * 1000)
                print(
                    f"  {name}: 202 after {(t_202 - t_send) * 1000:5.1f} ms;"
                    f" commit→row {out['created'][-1]:6.1f} ms;"
                    f" vm.started commit→'running' {out['running'][-1]:6.1f} ms;"
                    f" POST→'running' {out['request'][-1]:6.1f} ms"
                )
                await asyncio.sleep(0.5)
            if parts:
                names = ["commit→changes frame", "frame→list request", "list request", "→DOM"]
                medians = [pct([p[i] for p in parts], 50) for i in range(4)]
                print(
                    "  vm.created commit → row, median split: "
                    + ", ".join(f"{n} {m:.0f} ms" for n, m in zip(names, medians, strict=True))
                    + f" (n={len(parts)})"
                )
            if shot is not None:
                await page.screenshot(path=str(shot))
            await ctx.close()
            await browser.close()
            if errors:
                print(f"JavaScript errors on the page: {errors}")
    finally:
        await nc.close()
    return out


# ---------------------------------------------------------------------------- main


async def bench(args: argparse.Namespace, stack: Stack) -> None:
    endpoints = json.loads((stack.data_dir / "endpoints.json").read_text())
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await authenticate(http, stack)
        base = await get_json(http, stack, "/api/v1/stats")
        auth = natsauth.service_auth(Settings(data_dir=str(stack.data_dir)))
        bus = await Bus.connect(endpoints["nats_url"], name="bench-dashboard", auth=auth)
        try:
            t0 = time.perf_counter()
            loader = await load_fleet(bus.store, args.vms, args.fleet_hosts, args.chunk)
            dt = time.perf_counter() - t0
            print(
                f"appended {args.vms} VMs on {args.fleet_hosts} fleet hosts:"
                f" {loader.events} events in {loader.messages} messages in {dt:.1f} s"
                f" ({loader.events / dt:,.0f} events/s); last seq {loader.last}"
                f" (stack had {base['seq']})"
            )
            cache, model, quiet, stream = await wait_caught_up(
                http, stack, bus.store, loader.last, args.catch_up_timeout
            )
        finally:
            await bus.close()
        print(
            f"after the last append: controlplane cache at its seq after {cache:.1f} s,"
            f" read model after {model:.1f} s; stream quiet at seq {stream} after {quiet:.1f} s"
            f" ({stream - loader.last} events appended by the stack itself)"
        )
        stats = await get_json(http, stack, "/api/v1/stats")
        print(f"read model: {stats['vms']['total']} VMs, by state {stats['vms']['by_state']}")
        print(f"GET latency, {args.requests} sequential requests each, client-side wall time:")
        await api_latency(http, stack, args.requests)
        if args.samples > 0:
            print(f"browser: /vms?sort=-updated_at, {args.samples} VMs created and started:")
            shot = Path(args.screenshot) if args.screenshot else None
            ui = await ui_latency(http, stack, endpoints["nats_url"], args.samples, shot)
            print(f"  event commit → row in the DOM (vm.created):     {summary(ui['created'])}")
            print(f"  event commit → row says running (vm.started):   {summary(ui['running'])}")
            print(f"  POST sent → row says running (whole round trip): {summary(ui['request'])}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--vms", type=int, default=50_000, help="VMs in the fleet (default 50k)")
    p.add_argument("--fleet-hosts", type=int, default=0, help="fleet hosts (default VMs/250)")
    p.add_argument("--hosts", type=int, default=3, help="simulated hosts with agents")
    p.add_argument("--chunk", type=int, default=2000, help="VMs per append round")
    p.add_argument("--requests", type=int, default=200, help="GETs per measured query")
    p.add_argument("--samples", type=int, default=20, help="VMs created for the UI timing")
    p.add_argument("--catch-up-timeout", type=float, default=600.0)
    p.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    p.add_argument("--data-dir", help="stack data directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the temporary data directory")
    p.add_argument("--screenshot", help="save a screenshot of the VM list here")
    args = p.parse_args()
    args.fleet_hosts = args.fleet_hosts or max(1, args.vms // 250)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="lq-bench-dash-"))
    print(f"starting lq up --hosts {args.hosts} in {data_dir}")
    t0 = time.perf_counter()
    stack: Stack | None = None
    try:
        stack = start_stack(data_dir, args.port or free_port(), args.hosts, 120.0)
        print(f"ready at {stack.url}/ after {time.perf_counter() - t0:.1f} s")
        asyncio.run(bench(args, stack))
    finally:
        if stack is not None:
            stop_stack(stack.proc)
        if not args.data_dir and not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
