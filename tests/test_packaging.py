"""The wheel a Python-only user installs carries the dashboard and the ``lq`` command,
and ``lq up`` runs from it alone.

Builds the wheel the way ``./dev.sh wheel`` does (``ui/dist`` copied to ``lq/static``,
then ``pip wheel --no-deps``), but from a copy of the sources in a temporary directory,
so the checkout is left untouched. Needs the built dashboard (``ui/dist``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from lq.embedded import free_port

ROOT = Path(__file__).resolve().parents[1]
UI_DIST = ROOT / "ui" / "dist"


def _copy_sources(dest: Path) -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    includes = config["tool"]["setuptools"]["packages"]["find"]["include"]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "static")
    for pattern in includes:
        pkg = pattern.rstrip("*").rstrip(".")
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(UI_DIST, dest / "lq" / "static")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    if not (UI_DIST / "index.html").is_file():
        missing = pytest.fail if os.environ.get("CI") else pytest.skip
        missing("the dashboard is not built: run `npm ci && npm run build` in ui/")
    tmp = tmp_path_factory.mktemp("wheel")
    src, out = tmp / "src", tmp / "dist"
    src.mkdir()
    _copy_sources(src)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    built = sorted(out.glob("limiquantix-*.whl"))
    assert len(built) == 1, built
    return zipfile.ZipFile(built[0])


def test_wheel_carries_the_dashboard(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "lq/static/index.html" in names
    scripts = {n for n in names if re.fullmatch(r"lq/static/assets/[^/]+\.js", n)}
    assert scripts, "no lq/static/assets/*.js in the wheel"
    index = wheel.read("lq/static/index.html").decode()
    for ref in re.findall(r'(?:src|href)="/(assets/[^"]+)"', index):
        assert f"lq/static/{ref}" in names, f"index.html refers to {ref}, not in the wheel"
    assert "projections/sql/schema.sql" in names


def test_wheel_declares_the_lq_command(wheel: zipfile.ZipFile) -> None:
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "[console_scripts]" in text
    assert re.search(r"^lq = lq\.cli:main$", text, re.M), text


def test_lq_up_runs_from_the_installed_wheel(wheel: zipfile.ZipFile, tmp_path: Path) -> None:
    """Installed (``pip install --target``) and run from elsewhere, with every LimiQuantix
    module and the dashboard taken from the installation, not from this checkout."""
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(target), str(wheel.filename)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    run = (
        "import sys, lq, projections, controlplane, events\n"
        "for m in (lq, projections, controlplane, events):\n"
        f"    assert m.__file__.startswith({str(target)!r}), m.__file__\n"
        "from lq.cli import main\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LQ_")}
    env["PYTHONPATH"] = str(target)
    args = ["up", "--data-dir", str(tmp_path / "data"), "--port", str(port), "--hosts", "1"]
    log = tmp_path / "up.log"
    with open(log, "w") as err:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-c", run, *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise AssertionError(f"lq up exited: {log.read_text()[-2000:]}")
            if "ready" in line and base in line:
                break
        else:
            raise AssertionError("lq up did not become ready")
        with urllib.request.urlopen(base + "/", timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and "<script" in page  # the wheel's dashboard
        with urllib.request.urlopen(base + "/ready", timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ready"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout:
                proc.stdout.close()
