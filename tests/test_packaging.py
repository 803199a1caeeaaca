"""The wheel a Python-only user installs carries the dashboard and the ``lq`` command.

Builds the wheel the way ``./dev.sh wheel`` does (``ui/dist`` copied to ``lq/static``,
then ``pip wheel --no-deps``), but from a copy of the sources in a temporary directory,
so the checkout is left untouched. Needs the built dashboard (``ui/dist``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

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
