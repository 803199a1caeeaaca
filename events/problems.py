"""Problem details (RFC 9457) with stable types: the one way LimiQuantix reports API errors.

Route handlers raise ``Problem``; the HTTP layer renders it as ``application/problem+json``.
The ``type`` of each problem is a stable URN that clients may switch on.
"""

from __future__ import annotations

from typing import Any

PROBLEM_BASE = "urn:limiquantix:problem:"


class Problem(Exception):
    def __init__(self, status: int, slug: str, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(f"{status} {slug}: {detail or title}")
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if instance:
            out["instance"] = instance
        out.update(self.extra)
        return out


def invalid_body(detail: str, **extra: Any) -> Problem:
    return Problem(422, "invalid-body", "The request body is not valid", detail, **extra)


def malformed(detail: str) -> Problem:
    return Problem(400, "malformed-request", "The request could not be parsed", detail)


def invalid_param(detail: str) -> Problem:
    return Problem(400, "invalid-parameter", "A query or path parameter is not valid", detail)


def not_found(kind: str, ident: str) -> Problem:
    return Problem(
        404, "not-found", f"No such {kind}", f"{kind} {ident} does not exist", kind=kind, id=ident
    )


def conflict(detail: str, slug: str = "invalid-state") -> Problem:
    return Problem(409, slug, "The request conflicts with the current state", detail)


def busy(detail: str) -> Problem:
    return Problem(409, "concurrent-modification", "The resource kept changing; try again", detail)


def unavailable(detail: str) -> Problem:
    return Problem(503, "unavailable", "A backing service is unavailable", detail)


def timeout(detail: str) -> Problem:
    return Problem(504, "read-timeout", "The read model did not catch up in time", detail)


def unauthorized(detail: str) -> Problem:
    p = Problem(401, "unauthorized", "Authentication required", detail)
    p.headers["WWW-Authenticate"] = 'Bearer realm="limiquantix"'
    return p


def forbidden(permission: str) -> Problem:
    return Problem(
        403,
        "forbidden",
        "Permission denied",
        f"this needs the permission {permission}",
        permission=permission,
    )


def too_many_attempts(detail: str, retry_after: float) -> Problem:
    seconds = max(1, int(retry_after + 0.999))
    p = Problem(429, "too-many-attempts", "Too many failed attempts", detail, retry_after=seconds)
    p.headers["Retry-After"] = str(seconds)
    return p
