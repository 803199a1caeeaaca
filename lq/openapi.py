"""The OpenAPI 3.1 document of the HTTP API, and the offline reference page that shows it.

Built from the app's live route table joined with ``lq.api_reference.OPERATIONS``: every
path and method come from the routes themselves, the permission of each from its
``events.permissions.requires`` declaration, and request/response schemas from the very
msgspec Structs the handlers decode with (``msgspec.json.schema_components``). So the
document cannot promise a body the code would refuse, nor miss a route silently (the
test compares both directions).

``/api/docs`` is a small static page (``lq/apidocs/index.html``) that renders the JSON
with a few lines of script: no CDN, so a LimiQuantix installed without internet access
still has its reference.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, get_origin

import msgspec
from aiohttp import web

from events import views
from events.listing import Listing, listing_of
from events.permissions import AUTHENTICATED, PUBLIC, declared, requires
from lq.api_reference import OPERATIONS, Json, Op

DOCS_PAGE = Path(__file__).parent / "apidocs" / "index.html"
REF = "#/components/schemas/{name}"
UNDOCUMENTED = {("GET", "/{tail}")}  # the dashboard's files: not part of the API
_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")


def route_path(route: web.AbstractRoute) -> str:
    """A route's path in OpenAPI form (``{name}``, regex constraints dropped)."""
    info = route.resource.get_info() if route.resource is not None else {}
    raw = str(info.get("path") or info.get("formatter") or "")
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", raw).replace("{tail:.*}", "{tail}")


def live_routes(app: web.Application) -> dict[tuple[str, str], Any]:
    """``(method, path) → handler`` of every API route of ``app`` (HEAD and UI left out)."""
    out: dict[tuple[str, str], Any] = {}
    for r in app.router.routes():
        key = (r.method, route_path(r))
        if r.method != "HEAD" and key not in UNDOCUMENTED:
            out[key] = r.handler
    return out


def _app_version() -> str:
    try:
        return version("limiquantix")
    except PackageNotFoundError:
        return "0.0.0"


def _schema_types(ops: tuple[Op, ...]) -> list[Any]:
    found: list[Any] = [views.Problem]
    for op in ops:
        for t in (op.body, op.answer):
            if isinstance(t, type) and issubclass(t, msgspec.Struct) and t not in found:
                found.append(t)
    return found


def _content(kind: Any, refs: dict[Any, Any], content_type: str) -> dict[str, Any]:
    if kind is str:
        schema: dict[str, Any] = {"type": "string"}
    elif kind is Json or get_origin(kind) is dict:  # any ``dict[str, ...]`` alias
        schema = {"type": "object"}
    else:
        schema = refs[kind]
    return {content_type: {"schema": schema}}


def _operation(op: Op, handler: Any, refs: dict[Any, Any]) -> dict[str, Any]:
    permission = declared(handler) or "undeclared"
    params: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in _PARAM.findall(op.path)
    ]
    listing = listing_of(handler)
    own = _list_params(listing) if listing is not None else []
    named = {p["name"] for p in own}
    params += own + [
        {"name": p.name, "in": "query", "description": p.description, "schema": {"type": p.kind}}
        for p in op.params
        if p.name not in named
    ]
    answer: dict[str, Any] = {"description": op.summary}
    if listing is not None and op.answer is Json:  # no item type: the page shape at least
        answer["content"] = {op.content_type: {"schema": {"$ref": REF.format(name="Page")}}}
    elif op.answer is not None:
        answer["content"] = _content(op.answer, refs, op.content_type)
    out: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}".replace(
            "{", ""
        )
        .replace("}", "")
        .replace("-", "_")
        .replace(".", "_"),
        "x-permission": permission,
        "parameters": params,
        "responses": {
            str(op.status): answer,
            "default": {
                "description": "An error",
                "content": _content(views.Problem, refs, "application/problem+json"),
            },
        },
    }
    if permission == PUBLIC:
        out["security"] = []
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": _content(op.body, refs, "application/json"),
        }
    return out


PAGE: dict[str, Any] = {
    "type": "object",
    "description": "One page of a list (docs/api.md, Lists)",
    "required": ["items", "next_cursor", "total"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "next_cursor": {"type": ["string", "null"], "description": "null on the last page"},
        "total": {"type": "integer", "description": "items matching the filters, all pages"},
    },
}


def _list_params(listing: Listing) -> list[dict[str, Any]]:
    """A list route's query parameters, from its ``events.listing.Listing`` (the very
    object that validates them)."""
    out: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "description": f"items per page (1-{listing.max_limit})",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": listing.max_limit,
                "default": listing.default_limit,
            },
        },
        {
            "name": "cursor",
            "in": "query",
            "description": "the next_cursor of the previous page (opaque)",
            "schema": {"type": "string"},
        },
        {
            "name": "sort",
            "in": "query",
            "description": "a key, or -key for descending",
            "schema": {
                "type": "string",
                "enum": list(listing.sorts()),
                "default": listing.default_sort,
            },
        },
    ]
    for name, f in listing.filters.items():
        schema: dict[str, Any] = {"type": "boolean" if f.kind == "bool" else "string"}
        if f.kind == "enum":
            schema["description"] = f"comma-separated among {', '.join(f.values)}"
        out.append(
            {
                "name": name,
                "in": "query",
                "description": f.description or name,
                "required": f.required,
                "schema": schema,
            }
        )
    return out


def document(app: web.Application) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s documented routes."""
    live = live_routes(app)
    ops = tuple(op for op in OPERATIONS if (op.method, op.path) in live)
    types = _schema_types(ops)
    refs_list, components = msgspec.json.schema_components(types, ref_template=REF)
    refs = dict(zip(types, refs_list, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(
            op, live[(op.method, op.path)], refs
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "LimiQuantix API",
            "version": _app_version(),
            "description": "Event-sourced virtualization management. Commands answer 202 "
            "with a task id and the consistency token `seq` (use it as `?min_seq=`). "
            f"Permissions: `x-permission` per operation ({PUBLIC}: no credentials, "
            f"{AUTHENTICATED}: any signed-in caller).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": {**components, "Page": PAGE},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@requires(PUBLIC)
async def openapi_json(request: web.Request) -> web.Response:
    # built per request (a few ms): always the routes the app really has
    return web.json_response(document(request.app), headers={"Cache-Control": "no-cache"})


@requires(PUBLIC)
async def docs_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DOCS_PAGE, headers={"Cache-Control": "no-cache"})


def setup(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
