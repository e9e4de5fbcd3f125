"""The console needs no build step: the wheel `pip install` gets carries every file it serves."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "server" / "otaserver" / "web" / "static"


def test_the_wheel_holds_every_console_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(tmp_path)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("otakit-*.whl")
    prefix = "otaserver/web/static/"
    with zipfile.ZipFile(wheel) as archive:
        packed = {name[len(prefix) :] for name in archive.namelist() if name.startswith(prefix)}
    on_disk = {str(p.relative_to(STATIC)) for p in STATIC.rglob("*") if p.is_file()}
    assert "index.html" in on_disk and "app.js" in on_disk
    assert packed == on_disk
