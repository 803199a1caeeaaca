"""The deployment files against the code: compose.yaml, the Caddy and NATS configs, the
systemd units and the Dockerfile.

No Docker engine runs here, so the files are checked by reading them: every ``lq``
command they run must exist in the click app with those options, every ``LQ_*`` variable
must be a real setting (``events.settings.Settings``) with a value it accepts, ports must
agree between the processes, the proxy and the health checks, and everything referenced
(services, secrets, configs, volumes) must be defined. The NATS config is checked by the
real nats-server (``-t``), the units by ``systemd-analyze verify`` when it exists.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import msgspec
import pytest
import yaml

from events import settings as settings_mod
from lq.cli import main
from lq.embedded import nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
NOT_SETTINGS = {"LQ_CONFIG"}  # read by events.settings.load itself: the TOML file
FIELDS = {"LQ_" + f.name.upper() for f in msgspec.structs.fields(settings_mod.Settings)}


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def lq_command(argv: list[str]) -> click.Command:
    """The click command that ``lq <argv>`` runs; its options must exist too."""
    assert argv[0] == "lq", argv
    command: click.Command = main
    args = argv[1:]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        name = args.pop(0)
        found = command.commands.get(name)
        assert found is not None, f"`{' '.join(argv)}`: no command {name!r}"
        command = found
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    for a in args:
        if a.startswith("-"):
            assert a.split("=")[0] in options, f"`{' '.join(argv)}`: no option {a}"
    return command


def expand(text: str) -> str:
    """Compose's ``${VAR:-default}`` with the defaults."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def lq_env(env: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in env.items() if k.startswith("LQ_")}


def check_settings(env: dict[str, str], where: str) -> settings_mod.Settings:
    unknown = set(env) - FIELDS - NOT_SETTINGS
    assert not unknown, f"{where}: {sorted(unknown)} are not settings (events/settings.py)"
    plain = {k: v for k, v in env.items() if k not in NOT_SETTINGS}
    return settings_mod.load({}, env=plain)  # raises on a value the setting refuses


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def test_every_lq_service_runs_a_real_command_with_real_settings() -> None:
    seen = set()
    for name, svc in services().items():
        argv = [expand(a) for a in svc.get("command") or []]
        if not argv or argv[0] != "lq":
            continue
        seen.add(argv[1])
        lq_command(argv)
        s = check_settings(lq_env(svc.get("environment") or {}), name)
        if argv[1] in ("controlplane", "projector"):
            assert s.nats_url and s.database_url, name
            assert s.events_replicas == 3, f"{name}: the event stream must be R3 on the cluster"
        if argv[1] == "agent":
            assert s.nats_url, name
    assert seen == {"controlplane", "projector", "agent"}


def test_nats_cluster_and_urls() -> None:
    svcs = services()
    nats = sorted(n for n in svcs if n.startswith("nats-"))
    assert nats == ["nats-1", "nats-2", "nats-3"]
    conf = (ROOT / "deploy/nats/nats.conf").read_text()
    routes = set(re.findall(r"nats-route://([\w-]+):(\d+)", conf))
    assert routes == {(n, "6222") for n in nats}
    assert "listen: 0.0.0.0:4222" in conf and "sync_interval: always" in conf
    names = {svcs[n]["environment"]["SERVER_NAME"] for n in nats}
    assert names == set(nats)
    for name, svc in svcs.items():
        url = (svc.get("environment") or {}).get("LQ_NATS_URL")
        if url:
            hosts = {(urlsplit(u).hostname, urlsplit(u).port) for u in url.split(",")}
            assert hosts == {(n, 4222) for n in nats}, name
            deps = svc.get("depends_on") or {}
            assert set(nats) <= set(deps), f"{name} must wait for the NATS nodes"


def test_nats_config_is_valid_for_nats_server(tmp_path: Path) -> None:
    out = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(ROOT / "deploy/nats/nats.conf")],
        env={**os.environ, "SERVER_NAME": "nats-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_database_url_proxy_ports_and_health_checks() -> None:
    svcs = services()
    cps = sorted(n for n in svcs if n.startswith("controlplane-"))
    assert len(cps) == 2
    caddy = (ROOT / "deploy/caddy/Caddyfile").read_text()
    upstreams = set(re.findall(r"(controlplane-\d+):(\d+)", caddy))
    for name in cps:
        svc = svcs[name]
        argv = svc["command"]
        port = option(argv, "--port") or "8080"
        assert option(argv, "--bind") == "0.0.0.0", f"{name} must listen beyond loopback"
        assert (name, port) in upstreams, f"the proxy does not reach {name}:{port}"
        assert f"127.0.0.1:{port}/live" in " ".join(svc["healthcheck"]["test"])
        env = svc["environment"]
        db = urlsplit(env["LQ_DATABASE_URL"])
        assert db.hostname == "postgres" and db.port == 5432
        assert "passfile=/run/secrets/pgpass" in env["LQ_DATABASE_URL"]
        assert {"pgpass", "jwt_signing_key", "lq.toml"} <= set(svc["secrets"])
        assert env["LQ_AUTH_SIGNING_KEY_FILE"] == "/run/secrets/jwt_signing_key"
        assert env["LQ_CONFIG"] == "/run/secrets/lq.toml"
    assert "health_uri /live" in caddy
    listen = re.search(r"^:(\d+) \{", caddy, re.M)
    assert listen is not None
    assert svcs["proxy"]["ports"] == [f"127.0.0.1:8080:{listen.group(1)}"]
    projector = svcs["projector"]
    prom = projector["environment"]["LQ_PROMETHEUS_PORT"]
    assert f"127.0.0.1:{prom}/metrics" in " ".join(projector["healthcheck"]["test"])


def test_references_are_defined() -> None:
    c = compose()
    svcs = c["services"]
    for name, svc in svcs.items():
        for dep in svc.get("depends_on") or {}:
            assert dep in svcs, f"{name} depends on unknown {dep}"
        for secret in svc.get("secrets") or []:
            assert secret in c["secrets"], f"{name}: undefined secret {secret}"
        for cfg in svc.get("configs") or []:
            assert cfg["source"] in c["configs"], f"{name}: undefined config {cfg['source']}"
            assert (ROOT / c["configs"][cfg["source"]]["file"]).is_file()
        for vol in svc.get("volumes") or []:
            source = vol.split(":")[0]
            if not source.startswith(("/", ".")):
                assert source in c["volumes"], f"{name}: undefined volume {source}"
        for check in [svc.get("healthcheck")] if svc.get("healthcheck") else []:
            assert check["test"][0] in ("CMD", "CMD-SHELL")


def test_dockerfile_default_command_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    cmd = re.findall(r"^CMD (\[.*\])$", text, re.M)
    assert cmd
    lq_command(yaml.safe_load(cmd[-1]))


UNITS = sorted((ROOT / "deploy/systemd").glob("*.service"))


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_unit(unit: Path, tmp_path: Path) -> None:
    text = unit.read_text()
    execs = re.findall(r"^ExecStart=(.*)$", text, re.M)
    assert len(execs) == 1
    argv = shlex.split(execs[0])
    assert argv[0].endswith("/lq")
    lq_command(["lq", *argv[1:]])
    env = dict(re.findall(r"^Environment=(LQ_\w+)=(.*)$", text, re.M))
    check_settings(env, unit.name)
    assert re.search(r"^Restart=always$", text, re.M)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    # verify the unit as systemd would load it, with this machine's lq and no libvirtd
    local = re.sub(
        r"^ExecStart=\S+", f"ExecStart={Path(sys.executable).parent / 'lq'}", text, flags=re.M
    )
    local = re.sub(r"^EnvironmentFile=", "EnvironmentFile=-", local, flags=re.M)
    local = "\n".join(line for line in local.splitlines() if "libvirtd" not in line)
    copy = tmp_path / unit.name
    copy.write_text(local + "\n")
    out = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
