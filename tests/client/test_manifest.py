"""client/manifest.py, read as MicroPython's build reads it, names what the device core needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

CLIENT = Path(__file__).parents[2] / "client"


def read_manifest() -> dict[str, Any]:
    found: dict[str, Any] = {"require": [], "package": []}

    def metadata(**kwargs: str) -> None:
        found["metadata"] = kwargs

    def require(name: str) -> None:
        found["require"].append(name)

    def package(path: str, files: list[str] | None = None) -> None:
        found["package"].append((path, files))

    source = (CLIENT / "manifest.py").read_text()
    exec(source, {"metadata": metadata, "require": require, "package": package})
    return found


def test_manifest_names_the_device_core_and_its_micropython_lib_packages() -> None:
    manifest = read_manifest()
    assert manifest["require"] == ["umqtt.simple", "hashlib-sha512", "hashlib-sha384"]
    [(path, files)] = manifest["package"]
    assert path == "otaclient"
    for name in files:
        assert (CLIENT / path / name).is_file(), name
    # Every client module that a listed one imports is listed too, except the portable SHA-512,
    # which the hashlib packages above replace.
    imported = set()
    for name in files:
        text = (CLIENT / path / name).read_text()
        imported |= set(re.findall(r"^\s*from otaclient\.(\w+) import", text, re.M))
        imported |= set(re.findall(r"^\s*from otaclient import (\w+)", text, re.M))
    assert imported, "no imports found: the pattern is stale"
    assert {m + ".py" for m in imported} - set(files) == {"digest_sha512.py"}
