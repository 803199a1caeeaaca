"""The guest builder finds kernel modules however the distribution installs them.

Debian ships plain ``.ko`` files, Ubuntu ``.ko.zst`` and others ``.ko.xz``; busybox's
``insmod`` loads plain ELF objects only, so the builder unpacks them, and a module built
into the kernel (``modules.builtin``) needs nothing at all.
"""

from __future__ import annotations

import gzip
import lzma
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.qemu import guest

ELF = b"\x7fELF" + bytes(range(256)) * 8
MODULE = "kernel/drivers/acpi/button.ko"


def _install(root: Path, suffix: str, data: bytes) -> None:
    path = root / "v1" / (MODULE + suffix)
    path.parent.mkdir(parents=True)
    path.write_bytes(data)


@pytest.mark.parametrize("suffix", ["", ".xz", ".gz", ".zst"])
def test_compressed_modules_are_unpacked(tmp_path: Path, suffix: str) -> None:
    if suffix == "":
        packed = ELF
    elif suffix == ".xz":
        packed = lzma.compress(ELF)
    elif suffix == ".gz":
        packed = gzip.compress(ELF)
    else:
        if shutil.which("zstd") is None:
            pytest.skip("zstd is not installed (./dev.sh test installs it)")
        packed = subprocess.run(["zstd", "-c"], input=ELF, capture_output=True, check=True).stdout
    _install(tmp_path, suffix, packed)
    assert guest._module_bytes("v1", MODULE, tmp_path) == ELF


def test_builtin_module_needs_nothing_and_missing_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    assert guest._module_file("v1", MODULE, tmp_path) is None
    assert not guest._builtin("v1", MODULE, tmp_path)
    (tmp_path / "v1" / "modules.builtin").write_text(f"kernel/foo.ko\n{MODULE}\n")
    assert guest._builtin("v1", MODULE, tmp_path)
    assert guest._module_bytes("v1", MODULE, tmp_path) is None
