"""A small synchronous JSON client for the LimiQuantix HTTP API.

Synchronous (``urllib``) on purpose: a CLI command makes a handful of calls one after
another and needs no event loop. Every request carries ``Authorization: Bearer <token>``
from the context; an expired access token is renewed once with the context's refresh
token (``POST /api/v1/auth/refresh``) and the renewed pair is saved back to the context.
Errors come back as ``ApiError`` built from the server's ``application/problem+json``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from typing import Any

from lq.client import config
from lq.client.config import Context


class ApiError(Exception):
    """The API answered with an error (``status`` 0: it could not be reached)."""

    def __init__(self, status: int, title: str, detail: str = "", slug: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug


def _problem(status: int, raw: bytes) -> ApiError:
    try:
        body = json.loads(raw)
    except ValueError:
        return ApiError(status, raw.decode(errors="replace")[:200] or "error")
    if not isinstance(body, dict):
        return ApiError(status, "error")
    slug = str(body.get("type", "")).rsplit(":", 1)[-1]
    return ApiError(status, str(body.get("title", "error")), str(body.get("detail", "")), slug)


class Api:
    def __init__(self, ctx: Context, timeout: float = 30.0) -> None:
        self.ctx = ctx
        self.timeout = timeout

    @property
    def base(self) -> str:
        return self.ctx.url.rstrip("/")

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        return self.base + path + suffix

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        auth: bool = True,
    ) -> Any:
        try:
            return self._send(method, path, body, params, auth)
        except ApiError as exc:
            if exc.status != 401 or not auth or not self.ctx.refresh_token:
                raise
            self._refresh()
            return self._send(method, path, body, params, auth)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params)

    def _send(
        self, method: str, path: str, body: Any, params: dict[str, Any] | None, auth: bool
    ) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url(path, params), data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if auth and self.ctx.token:
            req.add_header("Authorization", f"Bearer {self.ctx.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise _problem(exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"cannot reach {self.base}", str(reason)) from None
        return json.loads(raw) if raw else None

    def login(self, username: str, password: str) -> dict[str, Any]:
        answer = self.request(
            "POST",
            "/api/v1/auth/login",
            body={"username": username, "password": password},
            auth=False,
        )
        return dict(answer)

    def _refresh(self) -> None:
        answer = self._send(
            "POST",
            "/api/v1/auth/refresh",
            {"refresh_token": self.ctx.refresh_token},
            None,
            False,
        )
        self.ctx = replace(
            self.ctx, token=answer["access_token"], refresh_token=answer["refresh_token"]
        )
        if self.ctx.name:
            config.store_tokens(self.ctx.name, self.ctx.url, self.ctx.token, self.ctx.refresh_token)
