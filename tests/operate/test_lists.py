"""Every list endpoint of the live route table follows one convention (docs/api.md "Lists").

One stack with at least two of most things; then every GET route of the app is asked
(path parameters filled with real ids): each one that answers a collection must declare
its ``events.listing.Listing``, its OpenAPI parameters must be exactly what that listing
accepts, and the route must page, sort, filter and refuse bad input the same way.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from events.listing import Listing, listing_of
from lq import openapi
from tests.integration.conftest import Stack, StackFactory

EXEMPT = {
    # the newest sample per host or VM, ranked: a top-N of the metrics store, not pages
    "/api/v1/metrics/latest": "ranking",
    # one document (every fleet setting), read and PATCHed whole
    "/api/v1/settings": "document",
}
REQUIRED = {"/api/v1/search": {"q": "lst"}}
SKIP = {"/api/v1/changes", "/api/v1/vms/{id}/console/{kind}", "/metrics", "/api/docs"}
VOLATILE = {"updated_at", "last_login_at", "vm_count", "connected_vms", "failures"}
"""Sort keys whose values may move while the test pages (heartbeats, live counts)."""
PROBLEM = "urn:limiquantix:problem:invalid-parameter"


async def _post(stack: Stack, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, answer, _ = await stack.request("POST", stack_path(path), json=body)
    assert status in (201, 202), (path, status, answer)
    assert isinstance(answer, dict)
    return answer


def stack_path(path: str) -> str:
    return path if path.startswith("/api") else "/api/v1" + path


async def _populate(stack: Stack, root: str) -> dict[str, str]:
    """Two or more of each cheap resource; answers the ids that fill path parameters."""
    seqs: list[int] = []
    hosts = [h["id"] for h in (await stack.get("/api/v1/hosts"))["items"]]
    pools = []
    for i in (1, 2):
        body = {
            "name": f"lst-pool-{i}",
            "type": "dir",
            "params": {"path": f"{root}/p{i}"},
            "capacity_gib": 10,
        }
        pools.append(await _post(stack, "/storage-pools", {**body, "host_ids": hosts[:1]}))
    nets = []
    for i in (1, 2):
        body = {"name": f"lst-net-{i}", "type": "isolated", "cidr": f"10.9{i}.0.0/24"}
        nets.append(await _post(stack, "/networks", body))
    net = nets[0]
    volumes = [
        await _post(
            stack,
            "/volumes",
            {"pool_id": pools[0]["pool_id"], "name": f"lst-vol-{i}", "size_gib": 1},
        )
        for i in (1, 2)
    ]
    seqs.append(await _max_seq(stack, [*pools, *nets, *volumes]))
    await stack.get(f"/api/v1/events?min_seq={max(seqs)}&limit=1")
    vms = []
    for i in (1, 2, 3):
        spec: dict[str, Any] = {"name": f"lst-vm-{i}", "vcpus": 1, "memory_mib": 64}
        if i == 1:  # two disks and two NICs (with their addresses) to page through
            spec["disks"] = [{"size_gib": 1, "pool_id": pools[0]["pool_id"]}] * 2
            spec["nics"] = [{"network_id": net["network_id"]}] * 2
        vms.append(await _post(stack, "/vms", spec))
    for made in vms:
        assert (await stack.wait_task(made["task_id"]))["state"] == "succeeded"
    vm = vms[0]["vm_id"]
    seqs.append((await _post(stack, f"/vms/{vm}/snapshots", {"name": "s1"}))["seq"])
    for i in (1, 2):
        seqs.append((await _post(stack, "/security-groups", {"name": f"lst-sg-{i}"}))["seq"])
        seqs.append(
            (
                await _post(
                    stack, "/webhooks", {"name": f"lst-wh-{i}", "url": f"http://127.0.0.1:9/{i}"}
                )
            )["seq"]
        )
        seqs.append(
            (await _post(stack, "/silences", {"scope_id": vm, "duration_s": 600 * i}))["seq"]
        )
        seqs.append(
            (await _post(stack, "/tokens", {"name": f"lst-tok-{i}", "scopes": ["vm.read"]}))["seq"]
        )
    cluster = await _post(stack, "/clusters", {"name": "lst-cl-1"})
    seqs.append((await _post(stack, "/clusters", {"name": "lst-cl-2"}))["seq"])
    for i in (1, 2):
        seqs.append(
            (
                await _post(
                    stack,
                    f"/clusters/{cluster['cluster_id']}/resource-pools",
                    {"name": f"lst-rp-{i}"},
                )
            )["seq"]
        )
        rule = {
            "name": f"lst-rule-{i}",
            "rule_type": "vm_anti_affinity",
            "vm_ids": [v["vm_id"] for v in vms[:2]],
        }
        seqs.append((await _post(stack, "/affinity-rules", rule))["seq"])
    seqs.append(
        (await _post(stack, "/users", {"username": "lst-user", "password": "lst-user-pw-1"}))["seq"]
    )
    await stack.get(f"/api/v1/events?min_seq={max(seqs)}&limit=1")
    webhooks = (await stack.get("/api/v1/webhooks"))["items"]
    return {
        "vms": vm,
        "hosts": (await stack.get("/api/v1/hosts"))["items"][0]["id"],
        "tasks": vms[0]["task_id"],
        "networks": net["network_id"],
        "clusters": cluster["cluster_id"],
        "webhooks": webhooks[0]["id"],
    }


async def _max_seq(stack: Stack, answers: list[dict[str, Any]]) -> int:
    return max(int(a["seq"]) for a in answers)


async def _ask(stack: Stack, path: str, **params: Any) -> tuple[int, Any]:
    query = "?" + urlencode(params) if params else ""
    status, body, _ = await stack.request("GET", path + query)
    return status, body


async def _walk(
    stack: Stack, path: str, base: dict[str, Any], sort: str | None, limit: int
) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(50):
        params = {**base, "limit": limit, **({"cursor": cursor} if cursor else {})}
        if sort is not None:
            params["sort"] = sort
        status, page = await _ask(stack, path, **params)
        assert status == 200, (path, params, page)
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{path} sort={sort}: more than 50 pages")


def _identity(listing: Listing, item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(str(item.get(c)) for c, _ in listing.sorts()[listing.default_sort].columns)


async def _bad(stack: Stack, path: str, why: str, **params: Any) -> None:
    status, body = await _ask(stack, path, **params)
    assert status == 400, (path, why, params, status, body)
    assert body["type"] == PROBLEM, (path, why, body)


async def _check(stack: Stack, path: str, listing: Listing, documented: set[str]) -> None:
    assert documented == set(listing.accepted()), (path, documented ^ set(listing.accepted()))
    base = REQUIRED.get(path, {})
    status, whole = await _ask(stack, path, **base, limit=listing.max_limit)
    assert status == 200, (path, whole)
    assert {"items", "next_cursor", "total"} <= set(whole), path
    assert whole["next_cursor"] is None and whole["total"] == len(whole["items"]), path
    everything = {_identity(listing, i) for i in whole["items"]}
    assert len(everything) == len(whole["items"]), f"{path}: identities are not unique"
    limit = max(1, math.ceil(len(everything) / 3))
    for key in listing.keys:
        up = await _walk(stack, path, base, key, limit)
        down = await _walk(stack, path, base, "-" + key, limit)
        ids_up = [_identity(listing, i) for i in up]
        assert sorted(ids_up) == sorted(everything), (path, key, "pages lose or repeat items")
        if key not in VOLATILE:
            assert [_identity(listing, i) for i in down] == ids_up[::-1], (path, key)
    if "order" in listing.extra:  # the event lists' older spelling of sort=-seq
        desc = await _walk(stack, path, {**base, "order": "desc"}, None, limit)
        assert desc == await _walk(stack, path, base, "-seq", limit), path
        await _bad(stack, path, "order against sort", **base, order="desc", sort="seq")
    # the default order is the declared one
    _, first = await _ask(stack, path, **base)
    _, declared = await _ask(stack, path, **base, sort=listing.default_sort)
    assert [_identity(listing, i) for i in first["items"]] == [
        _identity(listing, i) for i in declared["items"]
    ], path
    # filters named after an item field keep exactly the items with that value
    for name, f in listing.filters.items():
        sample = next((i[name] for i in whole["items"] if i.get(name) not in (None, "")), None)
        if sample is None or f.kind == "search" or isinstance(sample, (dict, list)):
            continue
        value = str(sample).lower() if f.kind == "bool" else str(sample)
        status, some = await _ask(stack, path, **base, **{name: value}, limit=listing.max_limit)
        assert status == 200, (path, name, some)
        assert some["items"] and all(i[name] == sample for i in some["items"]), (path, name)
        if f.kind == "enum":
            await _bad(stack, path, "enum", **base, **{name: "no-such-value"})
        if f.kind == "bool":
            await _bad(stack, path, "bool", **base, **{name: "maybe"})
    # bad input is refused, never ignored
    await _bad(stack, path, "limit 0", **base, limit=0)
    await _bad(stack, path, "limit past max", **base, limit=listing.max_limit + 1)
    await _bad(stack, path, "limit text", **base, limit="ten")
    await _bad(stack, path, "sort", **base, sort="no_such_key")
    await _bad(stack, path, "cursor", **base, cursor="not-a-cursor")
    await _bad(stack, path, "unknown", **base, no_such_filter="1")
    if len(everything) > 1 and len(listing.keys) > 1:
        a, b = list(listing.keys)[:2]
        _, page = await _ask(stack, path, **base, sort=a, limit=1)
        await _bad(stack, path, "foreign cursor", **base, sort=b, cursor=page["next_cursor"])


async def test_every_list_route_follows_the_convention(
    make_stack: StackFactory, tmp_path: Path
) -> None:
    root = str(tmp_path / "pools")
    stack = await make_stack(hosts=[(8, 8192), (8, 8192)], storage_allowed_roots=root)
    ids = await _populate(stack, root)
    app_routes = openapi.live_routes(stack_app(stack))
    doc = openapi.document(stack_app(stack))
    checked: list[str] = []
    for (method, path), handler in sorted(app_routes.items()):
        if method != "GET" or path in SKIP:
            continue
        real = path.replace("{id}", ids.get([*path.split("/"), "", "", ""][3], "x"))
        status, body = await _ask(stack, real, **REQUIRED.get(path, {}))
        is_list = isinstance(body, dict) and "items" in body
        listing = listing_of(handler)
        if path in EXEMPT or not is_list:
            assert listing is None or not is_list, path
            continue
        assert status == 200, (path, status, body)
        assert listing is not None, f"{path} answers a list without an events.listing.Listing"
        # (a route missing from the document is test_openapi.py's failure, not this one's)
        params = doc["paths"].get(path, {}).get("get", {}).get("parameters")
        documented = {p["name"] for p in params or [] if p["in"] == "query"}
        documented = documented if params is not None else set(listing.accepted())
        if params is not None:  # the answer is documented as a page
            (answer,) = doc["paths"][path]["get"]["responses"]["200"]["content"].values()
            assert answer["schema"]["$ref"].endswith("Page"), (path, answer)
        await _check(stack, real, listing, documented)
        checked.append(path)
    # the walk really reached the lists (a route table change cannot silently skip them)
    assert len(checked) >= 25, checked
    assert {"/api/v1/vms", "/api/v1/networks", "/api/v1/alerts", "/api/v1/clusters"} <= set(checked)


def stack_app(stack: Stack) -> Any:
    """The aiohttp app serving ``stack`` (built from the same settings, routes only)."""
    from lq.web import build_app

    return build_app(stack.settings)


def list_rows(app: Any) -> list[str]:
    """docs/api.md's table of lists, one row per list route of ``app``."""
    out = []
    for (method, path), handler in sorted(openapi.live_routes(app).items()):
        listing = listing_of(handler)
        if method != "GET" or listing is None:
            continue
        keys = ", ".join(f"`{k}`" for k in listing.keys)
        filters = ", ".join(f"`{n}`" for n in listing.filters) or "—"
        out.append(
            f"| `{path.removeprefix('/api/v1')}` | {keys} | `{listing.default_sort}` | {filters}"
            f" | {listing.default_limit} / {listing.max_limit} |"
        )
    return out


def test_docs_table_of_lists_matches_the_code(tmp_path: Path) -> None:
    from events import settings as settings_mod
    from lq.web import build_app

    app = build_app(settings_mod.load({"data_dir": str(tmp_path)}, env={}))
    doc = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    missing = [row for row in list_rows(app) if row not in doc]
    assert not missing, "docs/api.md 'Lists' lacks or differs on:\n" + "\n".join(missing)
