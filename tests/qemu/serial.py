"""Read and write a domain's serial console straight through libvirt (no LimiQuantix).

The plain-libvirt test of the tiny guest uses this to see its banner and to type into its
shell. The console stream is opened blocking and read in a daemon thread: a non-blocking
libvirt stream only receives data while a libvirt event loop runs, and a blocking
``recv`` needs none (the guest's heartbeat makes sure it returns every few seconds).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import libvirt


class SerialConsole:
    """The serial console of a running domain; everything read is kept in ``text``."""

    def __init__(self, conn: Any, dom: Any) -> None:
        self._stream = conn.newStream(0)
        dom.openConsole(None, self._stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._read, name="lq-serial", daemon=True)
        self._thread.start()

    @property
    def text(self) -> str:
        with self._cond:
            return self._buf.decode(errors="replace")

    def send(self, text: str) -> None:
        self._stream.send(text.encode())

    def wait_for(self, needle: str, timeout: float) -> str:
        """Block until ``needle`` was read (returns everything read so far)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while needle.encode() not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    tail = self._buf[-2000:].decode(errors="replace")
                    raise AssertionError(f"{needle!r} not seen on the serial console: {tail!r}")
                self._cond.wait(min(left, 0.5))
            return self._buf.decode(errors="replace")

    def close(self) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            self._stream.abort()
        self._thread.join(5)

    def _read(self) -> None:
        try:
            while True:
                data = self._stream.recv(4096)
                if not isinstance(data, bytes) or not data:
                    return
                with self._cond:
                    self._buf += data
                    self._cond.notify_all()
        except libvirt.libvirtError:
            return
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
