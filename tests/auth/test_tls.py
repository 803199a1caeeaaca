"""Certificate settings: NATS connections and the HTTP API speak TLS when configured.

A throwaway CA and a server certificate for 127.0.0.1 are made with the ``openssl`` CLI;
a real nats-server requires TLS, and an aiohttp site serves the app's ``/health`` over it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from events import settings as settings_mod
from events import tls
from events.bus import Bus
from lq.embedded import _spawn, _wait_port, free_port, nats_server_binary
from lq.web import STARTED, health

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _certs(d: Path) -> tuple[Path, Path, Path]:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=lq-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    )
    return d / "ca.pem", d / "server.pem", d / "server.key"


async def test_nats_and_http_over_tls(tmp_path: Path) -> None:
    ca, cert, key = _certs(tmp_path)
    settings = settings_mod.load(
        {
            "data_dir": str(tmp_path),
            "nats_tls_ca_file": str(ca),
            "tls_cert_file": str(cert),
            "tls_key_file": str(key),
        },
        env={},
    )
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        f"listen: 127.0.0.1:{port}\n"
        f'jetstream {{ store_dir: "{tmp_path / "js"}" }}\n'
        f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\n'
    )
    proc = _spawn([nats_server_binary(), "-c", str(conf)], tmp_path / "nats.log")
    try:
        _wait_port(port, proc, 15, "nats-server")
        bus = await Bus.connect(
            f"tls://127.0.0.1:{port}", name="tls-test", tls=tls.nats_client_context(settings)
        )
        try:
            await bus.provision(settings)
            assert bus.connected
        finally:
            await bus.close()
    finally:
        proc.terminate()
        proc.wait(10)

    app = web.Application()
    app.router.add_get("/health", health)
    app[STARTED] = 0.0
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    http_port = free_port()
    site = web.TCPSite(
        runner, "127.0.0.1", http_port, ssl_context=tls.http_server_context(settings)
    )
    await site.start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(ca))
        async with aiohttp.ClientSession() as s:
            async with s.get(f"https://127.0.0.1:{http_port}/health", ssl=client_ctx) as r:
                assert r.status == 200
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await s.get(f"https://127.0.0.1:{http_port}/health")  # unknown CA: refused
    finally:
        await runner.cleanup()
    assert settings.http_url.startswith("https://")
