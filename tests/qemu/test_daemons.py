"""The tier starts libvirtd and virtlogd itself when none answers, and stops them again.

On a machine where libvirtd already runs (the usual case after the first session), that
path is not taken by the fixtures, so it is proven here in a private mount namespace with
an empty ``/run``: no socket answers there, ``Daemons.ensure`` starts both daemons, a
connection to ``qemu:///system`` works, and ``release`` leaves neither process behind.
The libvirtd running outside is not touched (its socket and pid file live in the real
``/run``); the private one reads the same ``/etc/libvirt``, so the test is skipped where a
domain is marked autostart (it would be started twice).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
AUTOSTART = Path("/etc/libvirt/qemu/autostart")
PROBE = """
import json, os, libvirt
from tests.qemu import daemons
assert not daemons.answers(), "a libvirtd answers inside the private /run"
running = daemons.Daemons.ensure()
pids = [p.pid for p in running.started]
conn = libvirt.open(daemons.URI)
domain_types = conn.getCapabilities().count("<domain type='qemu'")
conn.close()
running.release()
alive = []
for pid in pids:
    try:
        os.kill(pid, 0)
        alive.append(pid)
    except ProcessLookupError:
        pass
print(json.dumps({"started": len(pids), "alive": alive, "qemu": domain_types}))
"""


def test_daemons_started_and_stopped_when_none_answers(qemu_uri: str) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare (util-linux) for a private /run")
    if autostart := sorted(AUTOSTART.glob("*.xml")):
        # a second libvirtd would start those domains a second time
        pytest.skip(f"domains marked autostart on this host: {[p.stem for p in autostart]}")
    script = 'mount -t tmpfs lq-run /run && exec "$0" -c "$1"'
    proc = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "sh", "-c", script, sys.executable, PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if proc.returncode != 0 and "unshare failed" in proc.stderr:
        pytest.skip(f"no private mount namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["started"] == 2, result  # virtlogd and libvirtd
    assert result["qemu"] >= 1, result  # and it drives QEMU
    assert result["alive"] == [], result
