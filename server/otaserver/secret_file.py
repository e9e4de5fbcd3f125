"""A file only its owner may read, written whole or not at all: where generated passwords go."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_owner_only(path: Path, text: str) -> None:
    """Replaces `path` with `text`, mode 0600 from its first byte (never briefly readable by
    others, whatever the umask), by rename, so that a crash leaves the old file or the new."""
    descriptor, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, 0o600)  # mkstemp's own mode, made explicit
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise
