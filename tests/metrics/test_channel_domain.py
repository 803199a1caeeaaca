"""The notification-channel aggregate as tables: given a state, when a command, then events
(or a typed refusal); and which severities a channel wants."""

from __future__ import annotations

import msgspec
import pytest

from controlplane.domain import channel as cd
from controlplane.domain.errors import AlreadyExists, InvalidRequest, UnknownAggregate
from events import alert as ae

HOOK = cd.Channel(channel_id="c1", name="ops", channel_type="webhook", url="https://x.example/h",
                  min_severity="warning", signed=True)  # fmt: skip


def test_create_checks_and_normalises() -> None:
    to = ("a@example.com", "b@example.com", "a@example.com")
    (e,) = cd.decide(None, cd.Create(channel_id="c2", name="m", channel_type="email", to=to))
    assert isinstance(e, ae.ChannelCreated) and e.to == ["a@example.com", "b@example.com"]
    assert e.signed is False and e.min_severity == "info"


@pytest.mark.parametrize(
    ("command", "slug"),
    [
        (cd.Create(channel_id="c", name="n", channel_type="email"), "invalid-recipients"),
        (cd.Create(channel_id="c", name="n", channel_type="email", to=("nope",)),
         "invalid-recipients"),
        (cd.Create(channel_id="c", name="n", channel_type="email", to=("a@b.c",), url="http://x"),
         "invalid-channel"),
        (cd.Create(channel_id="c", name="n", channel_type="webhook", url="ftp://x"), "invalid-url"),
        (cd.Create(channel_id="c", name="n", channel_type="webhook", url="https://u:p@x/"),
         "invalid-url"),
    ],
)  # fmt: skip
def test_create_refuses_bad_channels(command: cd.Create, slug: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        cd.decide(None, command)
    assert exc.value.slug == slug


def test_update_delete_and_tests() -> None:
    assert cd.decide(HOOK, cd.Update(min_severity="warning")) == []  # nothing changed
    (e,) = cd.decide(HOOK, cd.Update(min_severity="critical", signed=False))
    assert isinstance(e, ae.ChannelUpdated) and (e.min_severity, e.signed) == ("critical", False)
    assert e.url == HOOK.url and e.name == HOOK.name  # the whole configuration
    with pytest.raises(AlreadyExists):
        cd.decide(
            HOOK, cd.Create(channel_id="c1", name="n", channel_type="webhook", url="http://x")
        )
    (t,) = cd.decide(HOOK, cd.RecordTest(target=HOOK.url, ok=False, attempts=1, error="503"))
    assert isinstance(t, ae.ChannelTested) and t.error == "503"
    deleted = msgspec.structs.replace(HOOK, deleted=True)
    gone: list[cd.Command] = [cd.Delete(), cd.Update(name="x"),
                              cd.RecordTest(target="", ok=True, attempts=1)]  # fmt: skip
    for command in gone:
        with pytest.raises(UnknownAggregate):
            cd.decide(deleted, command)


@pytest.mark.parametrize(
    ("severity", "wanted"), [("info", False), ("warning", True), ("critical", True)]
)
def test_min_severity_routes(severity: ae.Severity, wanted: bool) -> None:
    assert HOOK.wants(severity) is wanted
    assert not cd.Channel(channel_id="c", name="n", channel_type="email", to=("a@b.c",),
                          enabled=False).wants("critical")  # fmt: skip
