"""The shell blocks of a Markdown document, so that tests can run the docs as a reader would.

A block fenced as `bash` is run. A block that must not run (it installs software, needs hardware,
or runs the server in the foreground) says why in an HTML comment on the line before its fence:
`<!-- not run by the docs test: <reason> -->`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not run by the docs test:\s*(?P<reason>.*?)\s*-->$")
SHELL_LANGUAGES = ("bash", "sh", "shell")


@dataclass(frozen=True)
class Block:
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    not_run_because: str | None  # None: the block is run

    @property
    def runs(self) -> bool:
        return self.language in SHELL_LANGUAGES and self.not_run_because is None


def blocks(markdown: str) -> list[Block]:
    found: list[Block] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        previous = lines[index - 1].strip() if index else ""
        directive = _NOT_RUN.match(previous)
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].startswith(opening["fence"]):
            body.append(lines[end])
            end += 1
        if end == len(lines):
            raise ValueError(f"the fence on line {index + 1} is never closed")
        found.append(
            Block(
                line=index + 1,
                language=opening["lang"],
                text="\n".join(body) + "\n",
                not_run_because=directive["reason"] if directive else None,
            )
        )
        index = end + 1
    return found


def shell_script(path: Path) -> str:
    """The document's runnable blocks as one script, each announced by its line, in order."""
    parts = []
    for block in blocks(path.read_text()):
        if block.runs:
            parts.append(f"echo '--- {path.name} line {block.line}' >&2\n{block.text}")
    return "".join(parts)
