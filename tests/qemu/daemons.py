"""libvirtd and virtlogd for the real-hypervisor tier, on machines without systemd.

When ``qemu:///system`` already answers, nothing is started. Otherwise ``virtlogd`` and
``libvirtd`` are started in the foreground as children of the test session (in their own
process group, so a Ctrl-C of pytest does not reach them) and stopped, by their process
ids, when the session ends.

Several test sessions may share one libvirtd. Each session holds a shared ``flock`` on
``LOCK`` while it uses the daemons; the session that started them stops them only if it
can then take the lock exclusively, that is when no other session still uses them.
Otherwise it leaves them running for the others.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import libvirt
import pytest

from tests.qemu import guest, pool

URI = "qemu:///system"
BINARIES = ("libvirtd", "virtlogd", "qemu-system-x86_64", "qemu-img")
PACKAGES = "libvirt-daemon-system qemu-system-x86 qemu-utils busybox-static linux-image-amd64"
LOCK = Path("/run/lq-qemu-tests.lock")
VIRTLOGD_SOCKET = Path("/run/libvirt/virtlogd-sock")
START_TIMEOUT_S = 30.0
SESSION: list[Daemons] = []
"""The daemons of this session while ``qemu_uri`` is active (for tests that restart the
libvirtd the session started: tests/qemu/test_libvirtd_restart.py)."""


def unavailable() -> str:
    """Why this machine cannot run the tier ("" when it can)."""
    if os.geteuid() != 0:
        return "the qemu tier needs root (it drives qemu:///system and may start libvirtd)"
    missing = [b for b in BINARIES if shutil.which(b) is None]
    if missing:
        return f"missing {', '.join(missing)}: apt-get install {PACKAGES} (./dev.sh test does)"
    return ""


def quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr unless a handler is installed."""


def answers(uri: str = URI) -> bool:
    """Whether libvirtd takes a connection to ``uri`` right now."""
    libvirt.registerErrorHandler(quiet, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return False
    conn.close()
    return True


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


@dataclass
class Daemons:
    """The daemons this session started (none when libvirtd already ran)."""

    lock: IO[bytes]
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    log_dir: Path | None = None

    @classmethod
    def ensure(cls) -> Daemons:
        """Make ``qemu:///system`` answer; raise ``RuntimeError`` with the logs if it won't."""
        lock = LOCK.open("ab")
        fcntl.flock(lock, fcntl.LOCK_SH)
        self = cls(lock=lock)
        if answers():
            return self
        self.log_dir = Path(tempfile.mkdtemp(prefix="lq-qemu-daemons-"))
        if not _socket_answers(VIRTLOGD_SOCKET):
            self._spawn("virtlogd")
        self._spawn("libvirtd")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not answers():
            dead = [p for p in self.started if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.release()
                raise RuntimeError(f"libvirtd did not come up; logs in {self.log_dir}")
            time.sleep(0.2)
        return self

    def _spawn(self, name: str) -> None:
        assert self.log_dir is not None
        with (self.log_dir / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(
                [name],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        self.started.append(proc)

    def release(self) -> None:
        """Stop what this session started, unless another session still uses it."""
        try:
            if self.started and self._alone():
                for proc in reversed(self.started):  # libvirtd before virtlogd
                    proc.terminate()
                    try:
                        proc.wait(10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(5)
                if self.log_dir is not None:  # kept only while the daemons may need reading
                    shutil.rmtree(self.log_dir, ignore_errors=True)
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(self.lock, fcntl.LOCK_UN)
            self.lock.close()

    def _alone(self) -> bool:
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def session() -> Iterator[str]:
    """The ``qemu_uri`` fixture's body: ``qemu:///system`` answering for the whole session
    with the agent pool in place, or the test skipped with the reason."""
    if reason := unavailable():
        pytest.skip(reason)
    if missing := guest.missing_parts():
        pytest.skip(f"cannot build the test guest, missing {', '.join(missing)}")
    running = Daemons.ensure()
    SESSION.append(running)
    try:
        libvirt.registerErrorHandler(quiet, None)
        conn = libvirt.open(URI)
        try:
            pool.ensure_pool(conn)
        finally:
            conn.close()
        yield URI
    finally:
        SESSION.remove(running)
        running.release()
