"""Settings routes: the fleet settings (event-sourced, changeable) and the process settings
(static, read-only, with where each value came from).

``GET /api/v1/settings`` lists every key of the catalogue with its current value, default,
bounds and who changed it last; ``PATCH /api/v1/settings`` changes any number of keys at
once — all or nothing: an unknown key or a bad value answers a problem and appends
nothing. Answers come from this replica's aggregate cache, which holds its own appends at
once, so a read right after a change sees it. ``GET /api/v1/settings/process`` shows this
process's static settings (docs/settings.md).
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from controlplane.api.common import COMMANDS, decode_body, meta_for
from controlplane.domain import fleet_settings as fs
from controlplane.domain.errors import InvalidRequest
from controlplane.handlers import TooMuchContention
from events import problems
from events.base import new_id
from events.fleet_settings import SettingChanged
from events.listing import Filter, Listing, listed, page_rows
from events.permissions import SETTINGS_MANAGE, SETTINGS_READ, requires
from events.settings import Settings
from events.settings_origin import describe

SETTINGS: web.AppKey[Settings] = web.AppKey("lq_settings_static", Settings)
"""This process's static settings (set by the service)."""

routes = web.RouteTableDef()

Patch = dict[str, Any]
"""``{key: value, ...}``: the keys to change (``GET /api/v1/settings`` lists them)."""


class SettingView(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    group: str
    type: str
    label: str
    help: str
    value: Any
    default: Any
    changed: bool
    changed_by: str | None = None
    changed_at: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] = []
    unit: str = ""
    process_setting: str | None = None


class SettingsView(msgspec.Struct, frozen=True, kw_only=True):
    items: list[SettingView]
    seq: int
    changed_keys: list[str] = []  # in the answer of a PATCH: the keys it changed


def view(state: fs.FleetSettings | None, version: int, settings: Settings) -> SettingsView:
    items = []
    for spec in fs.SPECS:
        last = state.changed.get(spec.key) if state is not None else None
        items.append(
            SettingView(
                key=spec.key,
                group=spec.group,
                type=spec.type,
                label=spec.label,
                help=spec.help,
                value=fs.current(state, spec, settings),
                default=spec.default_from(settings),
                changed=state is not None and spec.key in state.values,
                changed_by=last.by if last else None,
                changed_at=last.at.isoformat() if last else None,
                minimum=spec.minimum,
                maximum=spec.maximum,
                choices=list(spec.choices),
                unit=spec.unit,
                process_setting=spec.static,
            )
        )
    return SettingsView(items=items, seq=version)


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(body), status=status, content_type="application/json"
    )


@routes.get("/api/v1/settings")
@requires(SETTINGS_READ)
async def get_settings(request: web.Request) -> web.Response:
    state, version = request.app[COMMANDS].repo.get(fs.KIND, fs.FLEET_ID)
    return _json(view(state, version, request.app[SETTINGS]))


def _check_references(request: web.Request, patch: Patch) -> None:
    """A default pool or network must exist (``default`` always does)."""
    repo = request.app[COMMANDS].repo
    for key, kind in (("default_pool_id", "storage_pool"), ("default_network_id", "network")):
        ident = patch.get(key)
        if not isinstance(ident, str) or ident.strip() in ("", "default"):
            continue
        state = repo.get(kind, ident.strip())[0]
        if state is None or getattr(state, "deleted", False):
            raise problems.Problem(
                422, "invalid-setting", "The request cannot be carried out",
                f"{key}: no {kind.replace('_', ' ')} {ident.strip()!r}",
            )  # fmt: skip


@routes.patch("/api/v1/settings")
@requires(SETTINGS_MANAGE)
async def patch_settings(request: web.Request) -> web.Response:
    patch = await decode_body(request, Patch)
    settings = request.app[SETTINGS]
    cmds = request.app[COMMANDS]
    try:
        fs.change(cmds.repo.get(fs.KIND, fs.FLEET_ID)[0], patch, settings)  # validate first
        _check_references(request, patch)
        outcome = await cmds.handler.execute(
            fs.KIND,
            fs.FLEET_ID,
            lambda state: fs.change(state, patch, settings),
            meta_for(request, new_id()),
        )
    except InvalidRequest as exc:
        raise problems.Problem(
            422, exc.slug, "The request cannot be carried out", str(exc)
        ) from exc
    except TooMuchContention as exc:
        raise problems.busy(str(exc)) from exc
    state, version = cmds.repo.get(fs.KIND, fs.FLEET_ID)
    changed = [e.event.key for e in outcome.envelopes if isinstance(e.event, SettingChanged)]
    listing = view(state, max(version, outcome.seq), settings)
    return _json(msgspec.structs.replace(listing, changed_keys=changed))


PROCESS_LISTING = Listing(
    keys={"name": "text", "source": "text"},
    default_sort="name",
    filters={"q": Filter("search", description="name substring")},
    default_limit=500,
    tiebreak=(("name", "text"),),
    common=("min_seq",),  # accepted (every GET is), but nothing to wait for here
)


@routes.get("/api/v1/settings/process")
@requires(SETTINGS_READ)
@listed(PROCESS_LISTING)
async def process_settings(request: web.Request) -> web.Response:
    asked = PROCESS_LISTING.parse(request.query)
    items = [msgspec.structs.asdict(s) for s in describe(request.app[SETTINGS])]
    if text := (asked.filters["q"] or "").lower():
        items = [i for i in items if text in i["name"].lower()]
    return _json(page_rows(items, asked))
