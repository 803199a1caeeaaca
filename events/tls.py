"""TLS contexts built from settings, for the HTTP API (server side) and NATS (client side).

One place turns the certificate settings into ``ssl.SSLContext`` objects, so every process
applies them the same way. No setting set means no context: plain TCP, the embedded
default on loopback. docs/security.md shows how to deploy with certificates.
"""

from __future__ import annotations

import ssl

from events.settings import Settings


def http_server_context(settings: Settings) -> ssl.SSLContext | None:
    """The API's server context when ``tls_cert_file`` is set (key in ``tls_key_file``,
    or in the certificate file itself)."""
    if not settings.tls_cert_file:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(settings.tls_cert_file, settings.tls_key_file or None)
    return ctx


def nats_client_context(settings: Settings) -> ssl.SSLContext | None:
    """The context for NATS connections when a CA or a client certificate is configured.

    ``nats_tls_ca_file`` pins the server's CA; ``nats_tls_cert_file``/``nats_tls_key_file``
    present a client certificate (mutual TLS). A ``tls://`` URL without either uses the
    system's trust store.
    """
    if not (settings.nats_tls_ca_file or settings.nats_tls_cert_file):
        return None
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=settings.nats_tls_ca_file or None
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.nats_tls_cert_file:
        ctx.load_cert_chain(settings.nats_tls_cert_file, settings.nats_tls_key_file or None)
    return ctx
