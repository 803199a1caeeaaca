"""Schemathesis over the served OpenAPI document: every operation, hostile and valid data.

``fuzz`` loads ``/api/openapi.json`` from a running stack and, for every operation not
excluded, sends generated requests in three passes: valid data (positive mode) with
random path parameters, valid data with the ids of real resources seeded beforehand (so
the requests reach the handlers' logic rather than their 404), and invalid data
(negative mode). Every answer is checked: no 5xx, the status documented, the content
type documented, the body valid against its documented schema (``Problem`` for errors).
Findings are collected, not raised, so one run lists every broken operation.

Requests carry an API token (``logout`` cannot end it) and never leave the machine: a
``url`` in a generated body is pointed at a closed loopback port before it is sent.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

NEVER: tuple[str, ...] = ()
"""Operations never fuzzed (none: every documented operation is)."""

SAFE_BODIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    # a generated pool is never attached to a host, so no agent ever tries to reach the
    # servers its generated ``params`` may name (NFS, iSCSI, Ceph)
    "POST /api/v1/storage-pools": lambda body: {k: v for k, v in body.items() if k != "host_ids"},
}
"""Per operation, what is taken out of a generated body before it is sent: fuzzing sends
nothing off this machine (``url`` fields are pointed at a closed loopback port for all)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
QUIET = settings(
    deadline=None,
    derandomize=True,  # the same requests on every run: CI never flakes
    database=None,
    phases=[Phase.generate],  # no shrinking: a finding is reported as first seen
    suppress_health_check=list(HealthCheck),
)
_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Finding:
    operation: str
    mode: str
    status: int
    checks: tuple[str, ...]
    detail: str
    curl: str

    def line(self) -> str:
        return f"{self.operation} [{self.mode}] {self.status} {', '.join(self.checks)}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    unsatisfiable: list[str] = field(default_factory=list)
    by_operation: defaultdict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )

    def add(self, finding: Finding) -> None:
        """Keep one finding per operation, mode, status and checks (the first seen)."""
        key = (finding.operation, finding.mode, finding.status, finding.checks)
        if all((f.operation, f.mode, f.status, f.checks) != key for f in self.findings):
            self.findings.append(finding)

    def summary(self) -> str:
        total = sum(self.requests.values())
        codes = ", ".join(f"{c}: {n}" for c, n in sorted(self.statuses.items()))
        lines = [
            f"{len(self.operations)} operations fuzzed ({len(self.excluded)} excluded), "
            f"{total} requests; statuses {codes}",
            *(f"  FINDING {f.line()}\n    {f.curl}\n    {f.detail[:600]}" for f in self.findings),
        ]
        if os.environ.get("LQ_FUZZ_VERBOSE") == "1":
            lines += [f"  {op}: {dict(codes)}" for op, codes in self.by_operation.items()]
        return "\n".join(lines)


def excluded(path: str, fragments: Iterable[str]) -> bool:
    return any(frag in path for frag in fragments)


def known_path_values(path: str, ids: dict[str, str]) -> dict[str, str]:
    """Real values for ``path``'s parameters: by collection and parameter name
    (``ids["clusters:pool_id"]`` for a cluster's resource pool), by parameter name
    (``snapshot_id``, ``disk_id``, …) or, for ``{id}``-like ones, by the collection the
    path names (``/api/v1/webhooks/{id}`` → ``ids["webhooks"]``). Unknown ones stay
    generated."""
    collection = path.removeprefix("/api/v1/").split("/", 1)[0]
    out: dict[str, str] = {}
    for name in _PARAM.findall(path):
        value = ids.get(f"{collection}:{name}", ids.get(name))
        if value is None and (name == "id" or name.removesuffix("_id") in _OWN_ID):
            value = ids.get(collection)
        if value is not None:
            out[name] = value
    return out


_OWN_ID = frozenset({"vm", "user", "token", "task", "role", "cluster", "rule", "host", "rec"})
"""``{<x>_id}`` parameters that name the collection's own item when no better value is known."""


def _loopback_urls(value: Any, target: str) -> Any:
    """``value`` with every string under a key naming a URL replaced by ``target``."""
    if isinstance(value, dict):
        return {
            k: target
            if isinstance(v, str) and "url" in str(k).lower()
            else _loopback_urls(v, target)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_loopback_urls(v, target) for v in value]
    return value


@dataclass
class Fuzzer:
    base: str
    token: str
    ids: dict[str, str]
    examples: int
    loopback_url: str
    exclude: tuple[str, ...] = ()
    only: tuple[str, ...] = ()  # when set: only operations whose path holds one of these
    report: Report = field(default_factory=Report)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self, document: dict[str, Any]) -> Report:
        schema = schemathesis.openapi.from_dict(document)
        ops = []
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"the document has an invalid operation: {result}"
            op = result.ok()
            skip = excluded(op.path, self.exclude) or op.label in NEVER
            if self.only and not excluded(op.path, self.only):
                skip = True
            if skip:
                self.report.excluded.append(op.label)
            else:
                ops.append(op)
        # deletions last, so the seeded resources live through the other operations
        ops.sort(key=lambda o: (o.method.upper() == "DELETE", o.path, o.method))
        for op in ops:
            if self.stop.is_set():
                break
            self.report.operations.append(op.label)
            self._operation(op)
        return self.report

    def _operation(self, op: Any) -> None:
        known = known_path_values(op.path, self.ids)
        passes: list[tuple[str, Any]] = [("valid", op.as_strategy(GenerationMode.POSITIVE))]
        if known:
            passes.append(
                ("valid, real ids", op.as_strategy(GenerationMode.POSITIVE, path_parameters=known))
            )
        passes.append(("invalid", op.as_strategy(GenerationMode.NEGATIVE)))
        for mode, strategy in passes:
            self._fuzz(op.label, mode, strategy)

    def _fuzz(self, label: str, mode: str, strategy: st.SearchStrategy[Any]) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}

        @settings(QUIET, max_examples=self.examples)
        @given(case=strategy)
        def one(case: Any) -> None:
            if self.stop.is_set():
                return
            if isinstance(case.body, dict) and label in SAFE_BODIES:
                case.body = SAFE_BODIES[label](case.body)
            if isinstance(case.body, dict | list):
                case.body = _loopback_urls(case.body, self.loopback_url)
            response = case.call(base_url=self.base, headers=headers, timeout=30)
            self.report.requests[label] += 1
            self.report.statuses[response.status_code] += 1
            self.report.by_operation[f"{label} [{mode}]"][response.status_code] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (FailureGroup, Failure) as exc:
                failures = exc.exceptions if isinstance(exc, FailureGroup) else (exc,)
                self.report.add(
                    Finding(
                        operation=label,
                        mode=mode,
                        status=response.status_code,
                        checks=tuple(sorted({f.title for f in failures})),
                        detail=" | ".join(f.message for f in failures)
                        + f" | body: {response.text[:300]!r}",
                        curl=case.as_curl_command(headers={"Authorization": "Bearer $TOKEN"}),
                    )
                )

        run: Callable[[], None] = one
        try:
            run()
        except Unsatisfiable:  # e.g. no invalid request exists for an operation without input
            self.report.unsatisfiable.append(f"{label} [{mode}]")
