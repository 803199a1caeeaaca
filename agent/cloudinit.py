"""The cloud-init NoCloud seed of a VM: an ISO 9660 image labelled ``cidata``.

cloud-init's NoCloud datasource looks for a filesystem labelled ``cidata`` holding
``user-data`` and ``meta-data`` (and optionally ``network-config``). The image is built in
memory with pycdlib (pure Python, no xorriso needed on the host) with Joliet and Rock Ridge
names, so the guest sees the file names cloud-init expects. Pure: bytes in, bytes out; the
agent stores the result as a volume ``<vm_id>-cidata.iso`` and attaches it as a CD-ROM.
"""

from __future__ import annotations

import io

import pycdlib

VOLUME_LABEL = "cidata"
# ISO 9660 level-1 names (8.3, upper case), with the real names in Joliet and Rock Ridge
_FILES = (
    ("user-data", "/USERDATA.;1"),
    ("meta-data", "/METADATA.;1"),
    ("network-config", "/NETCONF.;1"),
)


def default_meta_data(vm_id: str, hostname: str) -> str:
    """What ``meta-data`` says when the VM's spec gave none: cloud-init needs an
    instance id (the vm id, so a clone is a new instance) to run its first-boot modules."""
    return f"instance-id: {vm_id}\nlocal-hostname: {hostname}\n"


def seed_files(
    vm_id: str, hostname: str, user_data: str, meta_data: str, network_config: str
) -> dict[str, bytes]:
    """The files of the seed: ``user-data`` and ``meta-data`` always (cloud-init requires
    both), ``network-config`` only when given."""
    files = {
        "user-data": (user_data or "#cloud-config\n{}\n").encode(),
        "meta-data": (meta_data or default_meta_data(vm_id, hostname)).encode(),
    }
    if network_config:
        files["network-config"] = network_config.encode()
    return files


def build_iso(files: dict[str, bytes]) -> bytes:
    """An ISO image labelled ``cidata`` holding ``files`` (names from ``seed_files``)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_LABEL)
    try:
        for name, iso_path in _FILES:
            if name not in files:
                continue
            data = files[name]
            iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=name, joliet_path="/" + name)
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    finally:
        iso.close()


def seed_iso(
    vm_id: str, hostname: str, user_data: str = "", meta_data: str = "", network_config: str = ""
) -> bytes:
    """The NoCloud seed image of one VM."""
    return build_iso(seed_files(vm_id, hostname, user_data, meta_data, network_config))


def read_iso(image: bytes) -> tuple[str, dict[str, bytes]]:
    """The volume label and the files (by Rock Ridge name) of a seed image: what a guest
    would see. Used by tests and to check a seed already on a host."""
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(image))
    try:
        label = iso.pvd.volume_identifier.decode().strip()
        files: dict[str, bytes] = {}
        for name, iso_path in _FILES:
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, iso_path=iso_path)
            except pycdlib.pycdlibexception.PyCdlibInvalidInput:
                continue
            files[name] = out.getvalue()
        return label, files
    finally:
        iso.close()
