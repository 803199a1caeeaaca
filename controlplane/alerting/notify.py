"""Sending notices: a signed webhook and e-mail, each retried and logged.

Notices go to every enabled notification channel that wants the alert's severity
(``controlplane.domain.channel``) and to the channels of the fleet settings
(``alert_webhook_url``, ``alert_email_to``), which work as before channels existed.

The webhook body is the alert as JSON; ``X-LQ-Timestamp`` carries Unix seconds and
``X-LQ-Signature`` is ``sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`` under the
shared secret, so a receiver can check both origin and freshness (``verify``). E-mail goes
through the configured SMTP server (``smtplib`` in a thread). Each delivery is tried
``attempts`` times with doubling delays; the outcome becomes an ``alert.notified`` event.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import smtplib
import time
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

import aiohttp
import msgspec

from controlplane.domain.channel import Channel
from events.settings import Settings

log = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, max_age_s: float = 300
) -> bool:
    """What a receiver does: a matching signature over a recent timestamp."""
    try:
        fresh = abs(time.time() - float(timestamp)) <= max_age_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    channel: str
    target: str
    ok: bool
    attempts: int
    error: str = ""
    channel_id: str = ""


async def _retrying(attempts: int, base_delay: float, send: Any) -> tuple[bool, int, str]:
    error = ""
    for attempt in range(1, attempts + 1):
        try:
            await send()
            return True, attempt, ""
        except Exception as exc:  # any failure of the far side is retried, then logged
            error = f"{type(exc).__name__}: {exc}"
            log.warning("notification attempt %d/%d failed: %s", attempt, attempts, error)
            if attempt < attempts:
                await asyncio.sleep(base_delay * 2 ** (attempt - 1))
    return False, attempts, error


async def webhook(url: str, secret: str, payload: dict[str, Any], *, attempts: int,
                  base_delay: float = 0.5, channel_id: str = "") -> Delivery:  # fmt: skip
    body = msgspec.json.encode(payload)

    async def send() -> None:
        ts = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-LQ-Timestamp": ts}
        if secret:
            headers["X-LQ-Signature"] = sign(secret, ts, body)
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.post(url, data=body, headers=headers) as resp,
        ):
            if resp.status >= 300:
                raise RuntimeError(f"HTTP {resp.status}")

    ok, tries, error = await _retrying(attempts, base_delay, send)
    return Delivery(channel="webhook", target=url, ok=ok, attempts=tries, error=error,
                    channel_id=channel_id)  # fmt: skip


async def email(settings: Settings, to: str, payload: dict[str, Any], *, attempts: int,
                base_delay: float = 1.0, channel_id: str = "") -> Delivery:  # fmt: skip
    msg = EmailMessage()
    msg["Subject"] = (
        f"[LimiQuantix {payload['severity']}] {payload['status']}: {payload['rule_name']}"
    )
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg.set_content(
        f"{payload['message']}\n\nalert {payload['alert_id']} (episode {payload['episode']})"
        f"\n{payload['scope_kind']} {payload['scope_id']}, rule {payload['rule_id']}\n"
    )

    def send_sync() -> None:
        if not settings.smtp_host:
            raise RuntimeError("no SMTP server is set (fleet setting smtp_host)")
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(msg)

    async def send() -> None:
        await asyncio.to_thread(send_sync)

    ok, tries, error = await _retrying(attempts, base_delay, send)
    return Delivery(channel="email", target=to, ok=ok, attempts=tries, error=error,
                    channel_id=channel_id)  # fmt: skip


async def to_channel(settings: Settings, channel: Channel, secret: str, payload: dict[str, Any],
                     *, attempts: int) -> Delivery:  # fmt: skip
    """One notice to one notification channel (its secret read by the caller)."""
    if channel.channel_type == "webhook":
        return await webhook(channel.url, secret, payload, attempts=attempts,
                             channel_id=channel.channel_id)  # fmt: skip
    return await email(settings, ", ".join(channel.to), payload, attempts=attempts,
                       channel_id=channel.channel_id)  # fmt: skip


async def deliver(
    settings: Settings, payload: dict[str, Any], channels: Sequence[tuple[Channel, str]] = ()
) -> list[Delivery]:
    """Send ``payload`` through the fleet-setting channels and every ``(channel, secret)``."""
    jobs = []
    attempts = max(1, settings.alert_notify_attempts)
    if settings.alert_webhook_url:
        jobs.append(webhook(settings.alert_webhook_url, settings.alert_webhook_secret, payload,
                            attempts=attempts))  # fmt: skip
    if settings.smtp_host and settings.alert_email_to:
        jobs.append(email(settings, settings.alert_email_to, payload, attempts=attempts))
    for channel, secret in channels:
        jobs.append(to_channel(settings, channel, secret, payload, attempts=attempts))
    return list(await asyncio.gather(*jobs))
