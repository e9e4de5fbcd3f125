"""A Python that sees only what README's plain install (`pip install -e .`, no extras) brings.

Building a fresh virtual environment and installing into it takes minutes and the network, so
instead: the distributions of pyproject.toml's main `dependencies`, and recursively theirs (with
the extras they name, markers evaluated), are looked up in the test environment, and their
top-level files are linked into one directory. `python -E -S` (no site-packages, no PYTHONPATH)
with that directory and our source folders on sys.path then imports exactly what the base
install has: drop httpx or aiocoap from the main dependencies and `otakit device --protocol http`
or `--protocol coap` fails here.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[2]


def main_requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def closure(requirements: list[str]) -> set[str]:
    """The distribution names those requirements install, theirs included."""
    seen: set[str] = set()
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, extra = pending.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = sorted(requirement.extras)
        key = f"{name}[{','.join(extras)}]"
        if key in seen:
            continue
        seen.add(key)
        for needed in metadata.requires(name) or []:
            for wanted in ["", *extras]:
                pending.append((Requirement(needed), wanted))
    return {key.split("[")[0] for key in seen}


@functools.cache
def site_dir() -> Path:
    """A directory holding links to the files of the base install's distributions only."""
    target = Path(tempfile.mkdtemp(prefix="otakit-base-install-"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    for name in sorted(closure(main_requirements())):
        distribution = metadata.distribution(name)
        for file in distribution.files or []:
            top = file.parts[0]
            source = Path(str(distribution.locate_file(top)))
            if top == ".." or top.endswith(".pth") or not source.exists():
                continue
            link = target / top
            if not link.exists():
                link.symlink_to(source)
    return target


def python(code: str) -> list[str]:
    """A command running `code` in that Python, with our sources on its path (as
    `pip install -e .` puts them there); arguments after it land in sys.argv[1:]."""
    path = [str(site_dir())] + [str(ROOT / d) for d in ("server", "client", "simulator")]
    return [sys.executable, "-E", "-S", "-c", f"import sys; sys.path[:0] = {path!r}\n{code}"]


def otakit() -> list[str]:
    """`otakit` (the console script's entry point) in the base install's Python."""
    return python("from otaserver.cli import main; sys.exit(main())")
