"""Hypothesis strategies shared by the transport tests."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def file_and_chunk(
    draw: st.DrawFn, max_size: int, max_chunk: int, max_chunks: int = 40
) -> tuple[int, int]:
    """A file size (a package has at least one byte) and a chunk size that cuts it into at
    most `max_chunks` chunks."""
    size = draw(st.integers(1, max_size))
    return size, draw(st.integers(max(1, -(-size // max_chunks)), max_chunk))
