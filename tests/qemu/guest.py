"""The tiny guest of the real-hypervisor tier: a Debian kernel plus a busybox initramfs.

Real VMs need something to boot that answers like an operating system: it writes to its
serial console, echoes what it is sent there, and powers off when the ACPI power button is
pressed (that is what a graceful shutdown is). A distribution image would take minutes to
boot under TCG; this guest reaches its banner in seconds and is built from what the
packages ``linux-image-amd64`` and ``busybox-static`` put on the host:

- the kernel ``/boot/vmlinuz-<version>`` (booted directly: ``<os><kernel>``),
- an initramfs (cpio ``newc``, gzip) with ``/bin/busybox``, ``button.ko`` and
  ``evdev.ko`` from ``/lib/modules/<version>``, and ``/init`` (``INIT`` below).

``/init`` prints ``BANNER`` and then ``HEARTBEAT`` lines on ``/dev/ttyS0``, runs a shell on
the serial console (the tty echoes what it reads), and runs busybox ``acpid``, whose
handler for the power button (``/etc/acpi/PWRF/00000080``) is ``poweroff -f`` — unless
the kernel command line holds ``IGNORE_POWER_BUTTON``, for a guest that ignores a graceful
shutdown.

The build is cached per kernel version and builder content in ``cache_root()``. The files
must be readable by the QEMU process, which libvirt runs as an unprivileged user
(``libvirt-qemu`` on Debian) unless ``/etc/libvirt/qemu.conf`` says otherwise: the cache
therefore lives outside ``/root`` (mode 0700), in ``/var/cache/limiquantix/guest`` when
running as root, with directories 0755 and files 0644.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BANNER = "LIMIQUANTIX GUEST READY"
HEARTBEAT = "LIMIQUANTIX GUEST HEARTBEAT"
BUSYBOX = Path("/bin/busybox")
MODULES = ("kernel/drivers/acpi/button.ko", "kernel/drivers/input/evdev.ko")
CMDLINE = "console=ttyS0 quiet loglevel=3"
HEARTBEAT_S = 2
IGNORE_POWER_BUTTON = "lq.ignore_power_button"
"""On the kernel command line: the guest runs no ``acpid`` (a guest that will not shut down)."""

INIT_TEMPLATE = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /var/run /var/log /tmp
for m in /lib/modules/*.ko; do insmod "$m"; done
# acpid opens /dev/input/event0, event1, ... up to the first gap: wait for the nodes
i=0
while [ $i -lt 100 ]; do
  ready=1
  grep -q "Power Button" /proc/bus/input/devices || ready=0
  for e in /sys/class/input/event*; do [ -e "/dev/input/${e##*/}" ] || ready=0; done
  [ $ready = 1 ] && break
  i=$((i+1)); sleep 0.1
done
if grep -q "@IGNORE@" /proc/cmdline; then
  echo "LIMIQUANTIX GUEST IGNORES THE POWER BUTTON" > /dev/ttyS0
else
  acpid -d -c /etc/acpi -a /etc/acpid.conf > /dev/ttyS0 2>&1 &
fi
echo "@BANNER@" > /dev/ttyS0
(n=0; while :; do n=$((n+1)); echo "@HEARTBEAT@ $n" > /dev/ttyS0; sleep @HEARTBEAT_S@; done) &
while :; do setsid cttyhack sh -i; done
"""
INIT = (
    INIT_TEMPLATE.replace("@BANNER@", BANNER)
    .replace("@HEARTBEAT@", HEARTBEAT)
    .replace("@HEARTBEAT_S@", str(HEARTBEAT_S))
    .replace("@IGNORE@", IGNORE_POWER_BUTTON)
)

POWER_BUTTON = """#!/bin/sh
echo "LIMIQUANTIX GUEST POWER BUTTON" > /dev/ttyS0
poweroff -f
"""

# busybox acpid: event name -> handler path under the -c directory
ACPID_CONF = "PWRF PWRF/00000080\n"


@dataclass(frozen=True)
class Guest:
    """A built guest: paths on the host, readable by the QEMU process."""

    kernel: Path
    initrd: Path
    cmdline: str = CMDLINE


def cache_root() -> Path:
    """Where built guests are kept: ``$LQ_GUEST_CACHE`` if set, else
    ``/var/cache/limiquantix/guest`` for root, else ``~/.cache/limiquantix/guest``."""
    if env := os.environ.get("LQ_GUEST_CACHE"):
        return Path(env)
    if os.geteuid() == 0:
        return Path("/var/cache/limiquantix/guest")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "limiquantix" / "guest"


def newest_kernel_version() -> str:
    """The version of the newest ``/boot/vmlinuz-*`` whose modules are installed."""
    found = [
        p.name.removeprefix("vmlinuz-")
        for p in Path("/boot").glob("vmlinuz-*")
        if (Path("/lib/modules") / p.name.removeprefix("vmlinuz-")).is_dir()
    ]
    if not found:
        raise FileNotFoundError(
            "no /boot/vmlinuz-* with /lib/modules/<version> (linux-image-amd64)"
        )
    return sorted(found)[-1]


def missing_parts(version: str | None = None) -> list[str]:
    """What the guest cannot be built without (empty when everything is there)."""
    try:
        version = version or newest_kernel_version()
    except FileNotFoundError as exc:
        return [str(exc)]
    parts = [Path(f"/boot/vmlinuz-{version}"), BUSYBOX]
    missing = [str(p) for p in parts if not p.is_file()]
    for m in MODULES:
        if _module_file(version, m) is None and not _builtin(version, m):
            missing.append(str(Path("/lib/modules") / version / m))
    return missing


def build(root: Path | None = None, version: str | None = None) -> Guest:
    """The guest for kernel ``version`` (default: the newest installed), built once.

    Concurrent callers are safe: the guest is built in a private temporary directory and
    renamed into place; the loser of a race uses the winner's copy."""
    version = version or newest_kernel_version()
    if missing := missing_parts(version):
        raise FileNotFoundError(f"cannot build the test guest, missing: {', '.join(missing)}")
    root = root or cache_root()
    target = root / f"{version}-{_fingerprint(version)}"
    guest = Guest(kernel=target / "vmlinuz", initrd=target / "initrd.gz")
    if guest.kernel.is_file() and guest.initrd.is_file():
        return guest
    _mkdirs_readable(root)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    try:
        shutil.copyfile(f"/boot/vmlinuz-{version}", work / "vmlinuz")
        (work / "initrd.gz").write_bytes(_initramfs(version))
        for p in (work / "vmlinuz", work / "initrd.gz"):
            p.chmod(0o644)
        work.chmod(0o755)
        try:
            work.rename(target)
        except OSError:
            if not guest.initrd.is_file():  # not a lost race: a real failure
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return guest


def _fingerprint(version: str) -> str:
    h = hashlib.sha256()
    for text in (INIT, POWER_BUTTON, ACPID_CONF, CMDLINE):
        h.update(text.encode())
    for p in (BUSYBOX, Path(f"/boot/vmlinuz-{version}")):
        st = p.stat()
        h.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def _mkdirs_readable(path: Path) -> None:
    """Make ``path`` and let the QEMU user through it: search permission for others on it
    and on each of its own ancestors below ``/``, ``/tmp`` and the home directory (a
    restrictive umask would otherwise hide the guest from QEMU)."""
    path.mkdir(parents=True, exist_ok=True)
    for p in (path, *path.parents):
        if p == Path.home() or str(p) in ("/", "/tmp", "/var/tmp"):
            break
        st = p.stat()
        if st.st_uid == os.geteuid() and not st.st_mode & stat.S_IXOTH:
            p.chmod(stat.S_IMODE(st.st_mode) | 0o055)


MODULE_ROOT = Path("/lib/modules")


def _module_file(version: str, module: str, root: Path = MODULE_ROOT) -> Path | None:
    """The module as installed: plain, or compressed as distributions ship it (Debian
    installs ``.ko``, Ubuntu and Fedora ``.ko.zst`` or ``.ko.xz``)."""
    base = root / version / module
    for p in (base, *(base.with_name(base.name + ext) for ext in (".zst", ".xz", ".gz"))):
        if p.is_file():
            return p
    return None


def _builtin(version: str, module: str, root: Path = MODULE_ROOT) -> bool:
    """Whether the kernel was built with ``module`` inside it (nothing to load)."""
    listing = root / version / "modules.builtin"
    return listing.is_file() and module in listing.read_text().split()


def _module_bytes(version: str, module: str, root: Path = MODULE_ROOT) -> bytes | None:
    """The uncompressed module (busybox ``insmod`` loads plain ELF objects only), or
    ``None`` for a module built into the kernel."""
    path = _module_file(version, module, root)
    if path is None:
        return None
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", str(path)], check=True, capture_output=True).stdout
    return data


def _initramfs(version: str) -> bytes:
    """A gzip-compressed cpio ``newc`` archive of the guest's root file system."""
    archive = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "etc", "etc/acpi", "etc/acpi/PWRF", "lib"):
        archive.add_dir(d)
    archive.add_dir("lib/modules")
    archive.add_file("bin/busybox", BUSYBOX.read_bytes(), 0o755)
    archive.add_file("bin/sh", b"/bin/busybox", 0o777, symlink=True)
    for m in MODULES:
        if (data := _module_bytes(version, m)) is not None:
            archive.add_file(f"lib/modules/{Path(m).name}", data, 0o644)
    archive.add_file("etc/acpid.conf", ACPID_CONF.encode(), 0o644)
    archive.add_file("etc/acpi/PWRF/00000080", POWER_BUTTON.encode(), 0o755)
    archive.add_file("init", INIT.encode(), 0o755)
    # dev/console must exist before devtmpfs is mounted: the kernel opens it for init
    archive.add_node("dev/console", stat.S_IFCHR | 0o600, 5, 1)
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


class _Cpio:
    """A minimal writer of the cpio ``newc`` format the kernel unpacks."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._ino = 1

    def add_dir(self, name: str) -> None:
        self._entry(name, stat.S_IFDIR | 0o755, b"", nlink=2)

    def add_file(self, name: str, data: bytes, mode: int, *, symlink: bool = False) -> None:
        kind = stat.S_IFLNK if symlink else stat.S_IFREG
        self._entry(name, kind | mode, data)

    def add_node(self, name: str, mode: int, major: int, minor: int) -> None:
        self._entry(name, mode, b"", rdev=(major, minor))

    def finish(self) -> bytes:
        self._entry("TRAILER!!!", 0, b"", ino=0)
        return self._buf.getvalue()

    def _entry(
        self,
        name: str,
        mode: int,
        data: bytes,
        *,
        nlink: int = 1,
        rdev: tuple[int, int] = (0, 0),
        ino: int | None = None,
    ) -> None:
        if ino is None:
            ino, self._ino = self._ino, self._ino + 1
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, *rdev, len(raw), 0)
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self._buf.write(header + raw)
        self._pad()
        self._buf.write(data)
        self._pad()

    def _pad(self) -> None:
        self._buf.write(b"\0" * (-self._buf.tell() % 4))
