"""The JWT signing key: generated on first start, kept in a file only its owner can read.

Every controlplane replica must sign and verify with the same key, so it lives in a file
(``auth_signing_key_file``, default ``<data dir>/jwt-signing-key``) that deployments share
as a secret. It is created atomically with mode 0600 (``O_EXCL``: two replicas starting at
once end up with the one key the first wrote). Rotating it (delete the file, restart every
replica) logs everybody out; API tokens are not JWTs and keep working.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

from events.settings import Settings

KEY_BYTES = 64


def key_path(settings: Settings) -> Path:
    if settings.auth_signing_key_file:
        return Path(settings.auth_signing_key_file).expanduser()
    return settings.data_path / "jwt-signing-key"


def write_secret_file(path: Path, text: str) -> bool:
    """Create ``path`` with mode 0600 holding ``text``; False if it already existed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return True


def load_or_create(settings: Settings) -> bytes:
    """The signing key, creating it on first start."""
    path = key_path(settings)
    write_secret_file(path, secrets.token_hex(KEY_BYTES) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        with contextlib.suppress(OSError):
            path.chmod(0o600)
    text = path.read_text().strip()
    if len(text) < 64:
        raise ValueError(f"signing key in {path} is too short (need at least 32 bytes)")
    return text.encode()
