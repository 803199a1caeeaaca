"""The fleet-settings aggregate: validation of every type, all-or-nothing patches, who changed
what, and the accessor consumers read the settings in effect from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from controlplane.domain import fleet_settings as fs
from controlplane.domain.errors import InvalidRequest
from controlplane.fleet import Fleet
from controlplane.repository import Repository
from events.base import Meta
from events.codec import wrap
from events.fleet_settings import SettingChanged, overrides
from events.settings import Settings
from events.settings_origin import REDACTED, describe

STATIC = Settings(placement_strategy="pack", default_cpu_overcommit=2.0)


def fold(state: fs.FleetSettings | None, events: list[object], actor: str) -> fs.FleetSettings:
    meta = Meta(actor=actor, occurred_at=datetime(2026, 1, 1, tzinfo=UTC), correlation_id="c")
    for env in wrap(fs.KIND, fs.FLEET_ID, events, meta):  # type: ignore[arg-type]
        state = fs.evolve(state, env)
    assert state is not None
    return state


def test_a_change_carries_key_old_and_new_and_defaults_come_from_the_process() -> None:
    events = fs.change(None, {"placement_strategy": "spread", "smtp_port": 2525}, STATIC)
    assert events == [
        SettingChanged(key="placement_strategy", old="pack", new="spread"),
        SettingChanged(key="smtp_port", old=25, new=2525),
    ]
    state = fold(None, list(events), "user:alice")
    assert fs.current(state, fs.BY_KEY["placement_strategy"], STATIC) == "spread"
    assert fs.current(state, fs.BY_KEY["default_cpu_overcommit"], STATIC) == 2.0
    assert state.changed["smtp_port"].by == "user:alice"
    # the same value again changes nothing
    assert fs.change(state, {"placement_strategy": "spread", "smtp_port": 2525.0}, STATIC) == []


@pytest.mark.parametrize(
    ("patch", "slug"),
    [
        ({"no_such_key": 1}, "unknown-setting"),
        ({"placement_strategy": "random"}, "invalid-setting"),
        ({"placement_strategy": 3}, "invalid-setting"),
        ({"smtp_port": 0}, "invalid-setting"),
        ({"smtp_port": 70000}, "invalid-setting"),
        ({"smtp_port": 25.5}, "invalid-setting"),
        ({"smtp_port": True}, "invalid-setting"),
        ({"smtp_port": "25"}, "invalid-setting"),
        ({"default_cpu_overcommit": 0.5}, "invalid-setting"),
        ({"alert_email_to": "ops@example.com, not-an-address"}, "invalid-setting"),
        ({"smtp_host": "bad host!"}, "invalid-setting"),
        ({"default_pool_id": "../etc"}, "invalid-setting"),
        ({"auth_access_ttl_s": 5}, "invalid-setting"),
        ({"auth_user_max_failures": None}, "invalid-setting"),
    ],
)
def test_bad_values_are_refused_whole(patch: dict[str, object], slug: str) -> None:
    good = {"smtp_host": "mail.example.com"}
    with pytest.raises(InvalidRequest) as err:
        fs.change(None, {**good, **patch}, STATIC)
    assert err.value.slug == slug


def test_an_empty_patch_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        fs.change(None, {}, STATIC)


def test_values_are_normalised_to_their_type() -> None:
    events = fs.change(
        None,
        {
            "default_memory_overcommit": 2,
            "alert_email_to": " a@example.com ,b@example.com ",
            "default_shutdown_timeout_s": 30.0,
        },
        STATIC,
    )
    got = {e.key: e.new for e in events if isinstance(e, SettingChanged)}
    assert got == {
        "default_memory_overcommit": 2.0,
        "alert_email_to": "a@example.com, b@example.com",
        "default_shutdown_timeout_s": 30,
    }
    assert isinstance(got["default_memory_overcommit"], float)
    assert isinstance(got["default_shutdown_timeout_s"], int)


def test_every_key_with_a_process_setting_names_a_real_one() -> None:
    fields = set(Settings.__struct_fields__)
    for spec in fs.SPECS:
        assert spec.static is None or spec.static in fields, spec.key
        fs.check(spec, spec.default_from(Settings()))  # every default is itself valid


def test_process_settings_say_where_each_value_came_from(tmp_path: Path) -> None:
    (tmp_path / "lq.toml").write_text('http_port = 9090\nsmtp_password = "hunter2"\n')
    settings = Settings(
        data_dir=str(tmp_path),
        http_port=9090,
        log_level="DEBUG",
        smtp_password="hunter2",
        database_url="postgresql://lq:pw@db:5432/lq",
        ws_max_clients=7,
    )
    env = {"LQ_LOG_LEVEL": "DEBUG", "LQ_DATABASE_URL": "postgresql://lq:pw@db:5432/lq"}
    rows = {r.name: r for r in describe(settings, env)}
    assert rows["http_port"].source == f"toml {tmp_path / 'lq.toml'}"
    assert rows["log_level"].source == "env LQ_LOG_LEVEL"
    assert rows["ws_max_clients"].source == "command line"
    assert rows["order_timeout_s"].source == "default"
    assert rows["smtp_password"].value == REDACTED and rows["smtp_password"].secret
    assert rows["admin_password"].value == ""
    assert rows["database_url"].value == f"postgresql://lq:{REDACTED}@db:5432/lq"
    assert "hunter2" not in repr(rows) and ":pw@" not in repr(rows)


def test_the_accessor_overlays_changes_on_the_process_settings() -> None:
    repo = Repository(None)  # type: ignore[arg-type]  # only the in-memory cache is used
    fleet = Fleet(repo, STATIC)
    assert fleet.effective() is STATIC and fleet.value("default_shutdown_timeout_s") == 120
    events = fs.change(None, {"smtp_host": "mx.example.com", "default_pool_id": "p1"}, STATIC)
    meta = Meta(actor="user:a", occurred_at=datetime(2026, 1, 1, tzinfo=UTC), correlation_id="c")
    repo.apply(fs.KIND, fs.FLEET_ID, wrap(fs.KIND, fs.FLEET_ID, events, meta), 5)
    now = fleet.effective()
    assert now.smtp_host == "mx.example.com" and now.placement_strategy == "pack"
    assert fleet.effective() is now  # cached per aggregate version
    assert fleet.value("default_pool_id") == "p1"


def test_stream_followers_fold_the_keys_they_honour() -> None:
    events = [
        SettingChanged(key="webhook_max_attempts", old=8, new=3),
        SettingChanged(key="smtp_port", old=25, new=26),
        SettingChanged(key="webhook_max_attempts", old=3, new=4),
    ]
    assert overrides([object(), *events], ("webhook_max_attempts",)) == {"webhook_max_attempts": 4}
